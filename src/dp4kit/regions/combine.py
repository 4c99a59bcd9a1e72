"""`dp4kit combine RUN... --out DIR`: regency exports into one province or national result.

Each run is verified against its manifest first; runs made for another election date, with
another region master, by an incompatible dp4kit, masked, or covering the same regency twice
are refused. People on two regencies' lists are the findings no regency can make alone: one
NIK for the same person (K1: the row of the run given first stays, the others are removed) or
for different people (K2: every row is held for a decision), and the same person under two
NIKs (K3: alike by K3's model, `cross_k3.py`, or without it the same normalised name, birth
date and sex; listed for review, never removed).
Every finding names the regencies.

The result is an export folder like any other (`verify` and `diff` read it): dp4/ (the runs'
parts, copied byte for byte unless a finding touched them), the audit files of every run plus
the cross-regency findings, DAK2 per kecamatan and the roll-ups with the voters of the
findings taken out, dak2.xlsx and a manifest whose accounting covers every input row of every
run. Memory: within `--memory-limit`; the cross-regency scan (`cross_regency.py`) is split into
partitions by NIK and by person when the voters do not fit it at once.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dp4kit.errors import AccountingError, InputFileError
from dp4kit.outputs.combined import check_voters, combined_aggregates, union_file, write_parts
from dp4kit.outputs.files import written_folder
from dp4kit.outputs.manifest import (
    MANIFEST_NAME,
    TERMS,
    CombinedK3,
    CombineParameters,
    Counts,
    InputFile,
    Manifest,
    OutputFile,
)
from dp4kit.outputs.parquet import person_path
from dp4kit.regions.cross_k3 import Across, across_runs, k3_at_once, k3_jobs
from dp4kit.regions.cross_regency import (
    BYTES_PER_VOTER,
    FINDING_TABLE,
    Engine,
    LocalEngine,
    cross_regency,
)
from dp4kit.regions.spill import memory_budget, partition_count, spill_folder

log = logging.getLogger(__name__)

AUDIT_FILES = ("rejected.parquet", "excluded.parquet", "duplicates.parquet")


@dataclass
class Run:
    folder: Path
    manifest: Manifest
    parts: list[str]  # dp4 part files, relative to the folder, sorted
    regencies: list[str]  # kode_kabkota of its DAK2
    # each part's person file (K3's columns of its voters, row for row), or None: a run
    # written before dp4kit wrote them
    people: list[str | None]

    @property
    def name(self) -> str:
        return self.folder.name


@dataclass
class CombineResult:
    out_dir: Path
    manifest: Manifest
    runs: list[Path]
    findings: pd.DataFrame  # the cross-regency rows: kind, group_id, action, kode_kabkota, …

    @property
    def exit_code(self) -> int:
        """0 done; 1 done, with cross-regency findings or rows rejected or held (alert)."""
        counts = self.manifest.counts
        return int(len(self.findings) > 0 or counts.rejected > 0 or counts.held > 0)


def open_runs(folders: Sequence[Path]) -> list[Run]:
    """Each run verified and checked against the first (one-line InputFileError if not)."""
    from dp4kit import __version__
    from dp4kit.runs.diff import run_folder
    from dp4kit.runs.verify import verify

    if len(folders) < 2:
        raise InputFileError("combine needs at least two runs")
    runs = []
    for given in folders:
        folder = run_folder(Path(given))
        problems = verify(folder).problems
        if problems:
            raise InputFileError(f"{folder}: does not match its manifest ({problems[0]}); "
                                 "run dp4kit verify on it")  # fmt: skip
        manifest = Manifest.read(folder)
        if manifest.masked:
            raise InputFileError(
                f"{folder}: NIKs are masked in this run; combine needs unmasked runs"
            )
        try:
            manifest.election_date  # noqa: B018 - checked here, read when writing
        except ValueError:
            raise InputFileError(f"{folder}: the manifest's election date is malformed") from None
        if manifest.election_date is None:
            raise InputFileError(f"{folder}: the manifest names no election date")
        if manifest.parameters.dp4 is False:
            raise InputFileError(f"{folder}: an aggregate-only run (no DP4); combine needs exports")
        if not (folder / "agregat_kabkota.parquet").is_file():
            raise InputFileError(f"{folder}: written without agregat_kabkota (--level kabkota)")
        parts = sorted(o.path for o in manifest.outputs if o.path.startswith("dp4/"))
        written = {o.path: o.rows for o in manifest.outputs}
        people = [person_path(p) if person_path(p) in written else None for p in parts]
        for part, person in zip(parts, people, strict=True):  # K3 reads voters by their row
            if person is not None and written[person] != written[part]:
                raise InputFileError(f"{folder}: {person} does not hold the voters of {part} "
                                     "row for row; export the regency again")  # fmt: skip
        dak2 = pq.read_table(folder / "dak2.parquet", columns=["kode_kabkota"])["kode_kabkota"]
        regencies = sorted(pc.unique(dak2).to_pylist())
        runs.append(Run(folder, manifest, parts, regencies, people))
    first = runs[0]
    version = _minor(__version__)
    for run in runs:
        for what, mine, theirs in (
            ("election date", run.manifest.parameters.election_date,
             first.manifest.parameters.election_date),
            ("semester", run.manifest.semester, first.manifest.semester),
            ("region master", run.manifest.region_master, first.manifest.region_master),
            ("dp4kit version", _minor(run.manifest.tool.get("version", "")), version),
        ):  # fmt: skip
            if mine != theirs:
                other = first.folder if what != "dp4kit version" else "this dp4kit"
                raise InputFileError(f"{run.folder}: made with {what} {mine}, not {theirs} as "
                                     f"{other}; runs must agree to be combined")  # fmt: skip
    seen: dict[str, Path] = {}
    for run in runs:
        for code in run.regencies:
            if code in seen:
                raise InputFileError(f"{run.folder} and {seen[code]} both cover kab/kota {code}: "
                                     "combine each regency's run once")  # fmt: skip
            seen[code] = run.folder
    return runs


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def combine(folders: Sequence[Path], out_dir: Path, excel: bool = True,
            group_readable: bool = False, memory_limit: str | int | None = None,
            partitions: int | None = None, spark_master: str | None = None,
            fuzzy: bool = True) -> CombineResult:  # fmt: skip
    """Verify and combine the runs into out_dir (replaced atomically, like an export).
    The cross-regency scan is split into as many partitions as `memory_limit` (bytes or a
    size like '4G'; default half the machine's memory) needs, or into `partitions`; with
    `spark_master` it runs on Spark (local[*], spark://…, yarn, k8s://…). `fuzzy`: K3
    across runs by K3's model (here, by partitions, on any engine: docs/scale.md); False: by
    the same normalised name, birth date and sex only."""
    budget = memory_budget(memory_limit)
    try:
        runs = open_runs(folders)
    except READ_ERRORS as exc:  # a run changed or unreadable after all: one line, not a traceback
        raise InputFileError(f"cannot read a run to combine: {_why(exc)}") from exc
    out_dir = Path(out_dir)
    target = out_dir.resolve()
    for run in runs:
        if target.is_relative_to(run.folder.resolve()):
            raise InputFileError(
                f"{out_dir}: is (inside) the run {run.folder}; choose another --out"
            )
    voters = sum(run.manifest.counts.dp4 for run in runs)
    partitions = partitions or partition_count(voters, BYTES_PER_VOTER, budget)
    log.info("combining %d runs, %d voters, in %d partition(s)", len(runs), voters, partitions)
    with written_folder(out_dir, "combined result", MANIFEST_NAME, group_readable) as tmp:
        try:
            local = spark_master is None or spark_master.startswith("local")
            engine = _engine(spark_master)
            with spill_folder(partitions > 1 and local, tmp) as spill:
                findings, by_nik = cross_regency(runs, partitions, spill, engine, not fuzzy)
            across = {"compared": "the same normalised name, birth date and sex only"}
            if fuzzy:  # K3's model decides the people under two NIKs
                work = tmp / ".k3"
                tasks = engine.k3_tasks(work / "spark")
                model = Across(work, k3_jobs(budget, voters), k3_at_once(budget), tasks)
                findings, across = across_runs(runs, findings, by_nik, model)
                shutil.rmtree(work, ignore_errors=True)
        except READ_ERRORS as exc:
            raise InputFileError(f"cannot read a run's DP4 to combine: {_why(exc)}") from exc
        manifest = _write(runs, findings, tmp, excel, across)
    return CombineResult(out_dir, manifest, [r.folder for r in runs], findings)


def _engine(spark_master: str | None) -> Engine:
    """Where combine's work runs: here, or on Spark at `spark_master`."""
    if spark_master is None:
        return LocalEngine()
    from dp4kit.regions.spark import SparkEngine

    return SparkEngine(spark_master)


def _write(runs: list[Run], findings: pd.DataFrame, root: Path, excel: bool,
           across: dict) -> Manifest:  # fmt: skip
    from dp4kit import __version__
    from dp4kit.io.sources import file_sha256
    from dp4kit.outputs.manifest import ACCOUNTING
    from dp4kit.outputs.parquet import write_aggregates

    out = findings[findings["action"].isin(["removed", "held"])]  # off the lists
    folders = [r.folder for r in runs]
    outputs = write_parts(folders, [r.parts for r in runs], out, root)
    outputs += write_parts(folders, [r.people for r in runs], out, root)
    for name in AUDIT_FILES:
        extra = findings[FINDING_TABLE] if name == "duplicates.parquet" else None
        outputs.append(union_file(folders, name, root, extra))
    aggregates = combined_aggregates(folders, out, runs[0].manifest.semester)
    outputs += write_aggregates(aggregates, root, ("desa", "kabkota", "provinsi", "nasional"))
    check_voters(aggregates, outputs)
    first = runs[0].manifest
    if excel:
        from dp4kit.outputs.dak2_report import ReportInfo, write_dak2_report

        sources = [(r.name, r.manifest.counts.input_rows, file_sha256(r.folder / MANIFEST_NAME))
                   for r in runs]  # fmt: skip
        info = ReportInfo(first.election_date, sources,
                          __version__, first.region_master)  # fmt: skip
        write_dak2_report(root / "dak2.xlsx", aggregates, info)
        outputs.append(OutputFile("dak2.xlsx", len(aggregates.dak2)))
    cross = out["action"].value_counts()
    terms = {t: sum(getattr(r.manifest.counts, t) for r in runs) for t in TERMS}
    terms["dp4"] -= len(out)
    terms["removed"] += int(cross.get("removed", 0))
    terms["held"] += int(cross.get("held", 0))
    counts = Counts.of(sum(r.manifest.counts.input_rows for r in runs), **terms)
    nation = aggregates.levels["nasional"].iloc[0]
    manifest = Manifest(
        tool={"name": "dp4kit", "version": __version__},
        parameters=CombineParameters([str(r.folder) for r in runs],
                                     first.parameters.election_date, excel=excel),
        region_master=first.region_master,
        inputs=[InputFile(str(r.folder), file_sha256(r.folder / MANIFEST_NAME),
                          r.manifest.counts.input_rows) for r in runs],
        outputs=[OutputFile(o.path, o.rows, file_sha256(root / o.path)) for o in outputs],
        counts=counts,
        excluded_by_reason=_summed(r.manifest.excluded_by_reason for r in runs),
        rejected_by_rule=_summed(r.manifest.rejected_by_rule for r in runs),
        duplicates=_summed([*(r.manifest.duplicates for r in runs), {
            f"LINTAS-{k}/{a}": int(v) for (k, a), v in
            findings.groupby(["kind", "action"]).size().items()}]),
        review_rows=sum(r.manifest.review_rows for r in runs),
        k3=CombinedK3("each run's own K3 (see its manifest)", across),
        accounting=ACCOUNTING,
        semester=first.semester,
        dak2={k: int(nation[k]) for k in ("jumlah", "laki_laki", "perempuan", "jumlah_kk",
                                          "pemilih_jumlah")},
    )  # fmt: skip
    if not counts.balanced:
        raise AccountingError(
            f"the combined accounting does not balance, nothing written: {asdict(counts)}"
        )
    manifest.write(root)
    return manifest


READ_ERRORS = (OSError, pa.ArrowException, KeyError, ValueError)


def _why(exc: BaseException) -> str:
    """The reason in one line, never a value from the data (no NIK in an error)."""
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror or type(exc).__name__}".lstrip(": ")
    if isinstance(exc, KeyError):
        return f"column {exc.args[0]!r} is missing"
    return type(exc).__name__


def _summed(dicts) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + int(v)
    return dict(sorted(total.items()))
