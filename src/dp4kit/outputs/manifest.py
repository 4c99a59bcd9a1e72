"""manifest.json: what an output folder holds, and the proof that every input row is counted.

One type for every command: `export` builds and writes it; `run`, `verify`, `diff` read it
(checked as it is read, so a damaged or foreign file is a one-line error, never a KeyError).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dp4kit.errors import InputFileError
from dp4kit.io.given_files import MANIFEST, RUN_FOLDER, checked, read_small_text

if TYPE_CHECKING:
    from dp4kit.aggregate import Aggregates
    from dp4kit.config import Settings
    from dp4kit.dedup.k3 import K3Summary

MANIFEST_NAME = "manifest.json"
ACCOUNTING = "input_rows = dp4 + excluded + rejected + removed + held"
TERMS = ("dp4", "excluded", "rejected", "removed", "held")  # where an input row can end


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, with /
    rows: int
    sha256: str = ""  # filled in when the manifest is built


@dataclass
class Counts:
    """Where the input rows went (`ACCOUNTING`): input_rows, each of TERMS, and whether they
    add up."""

    input_rows: int = 0
    dp4: int = 0
    excluded: int = 0
    rejected: int = 0
    removed: int = 0
    held: int = 0
    balanced: bool = False

    @classmethod
    def of(cls, input_rows: int, **terms: int) -> Counts:
        """The counts of `input_rows` and TERMS, `balanced` worked out."""
        return cls(input_rows, **terms, balanced=input_rows == sum(terms.values()))

    def terms(self) -> dict[str, int]:
        return {t: getattr(self, t) for t in TERMS}

    def rows(self) -> dict[str, int]:
        """input_rows and each of TERMS (what a log line or a summary shows)."""
        return {"input_rows": self.input_rows, **self.terms()}

    def adds_up(self) -> bool:
        return self.input_rows == sum(self.terms().values())


@dataclass
class ExportParameters:
    """The settings an export ran with, under the names manifests have always used, paths
    and dates as text (`parameters_of`); defaults for what older manifests lack."""

    election_date: str | None = None
    profile: str = "auto"
    sheet: str | None = None
    keluarga: str | None = None
    schemas: list[str] = field(default_factory=list)
    exclude_nik: str | None = None
    merge_fuzzy: float | None = None
    mask: bool = False
    excel: bool = True
    excel_max_rows: int | None = None
    semester: str | None = None
    dp4: bool = True
    levels: list[str] = field(default_factory=list)
    csv: bool = False
    group_readable: bool = False
    k3_review: float | None = None
    k3_model: str | None = None
    decisions: str | None = None


@dataclass
class CombineParameters:
    """What `combine` ran on: the run folders, and what they share."""

    combine: list[str] = field(default_factory=list)
    election_date: str | None = None
    mask: bool = False
    excel: bool = True
    dp4: bool = True


@dataclass
class K3Section:
    """An export's K3: the model used, its thresholds, blocking figures, decisions."""

    model: str = ""
    review_probability: float | None = None
    merge_probability: float | None = None
    compared_pairs: int = 0
    strings_compared: int = 0
    blocking: dict[str, Any] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    kept_apart: int = 0


@dataclass
class CombinedK3:
    """`combine`'s K3: each run's own, and K3 across regencies (`cross_k3`)."""

    within_runs: str = ""
    across_regencies: dict[str, Any] = field(default_factory=dict)


def _typed(kind: type, raw: dict) -> Any:
    """`kind` from a manifest's section, the fields it knows (others are left out)."""
    return kind(**{k: v for k, v in raw.items() if k in kind.__dataclass_fields__})


@dataclass(kw_only=True)
class Manifest:
    """The fields in the order they are written (the file's bytes are reproducible)."""

    tool: dict[str, str] = field(default_factory=dict)
    parameters: ExportParameters | CombineParameters = field(default_factory=ExportParameters)
    region_master: str = ""
    inputs: list[InputFile] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)  # "kind/action": rows
    review_rows: int = 0
    k3: K3Section | CombinedK3 | None = None  # written as {} when None (no K3)
    accounting: str = ACCOUNTING
    semester: str = ""
    dak2: dict[str, int] = field(default_factory=dict)  # the nation's totals

    @property
    def masked(self) -> bool:
        return bool(self.parameters.mask)

    @property
    def election_date(self) -> dt.date | None:
        value = self.parameters.election_date
        return dt.date.fromisoformat(value) if isinstance(value, str) else None

    def rejected_share(self) -> float:
        rows = self.counts.input_rows
        return self.counts.rejected / rows if rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        return raw | {"k3": raw["k3"] or {}}

    def write(self, folder: Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"
        (Path(folder) / MANIFEST_NAME).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of an output folder, checked field by field (InputFileError if not)."""
        path = checked(folder, RUN_FOLDER) / MANIFEST_NAME
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise InputFileError(f"{path}: not a regular file; not a dp4kit output folder")
        if not path.exists():
            raise InputFileError(f"{folder}: no manifest.json; not a dp4kit output folder")
        text = read_small_text(path, MANIFEST)
        try:
            raw = json.loads(text)
        except RecursionError:
            raise InputFileError(f"{path}: not a dp4kit manifest (nested too deeply)") from None
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{path}: cannot read the manifest: {exc}") from exc
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: Any, path: Path | str = MANIFEST_NAME) -> Manifest:
        if not isinstance(raw, dict) or "outputs" not in raw or "counts" not in raw:
            raise InputFileError(f"{path}: not a dp4kit manifest")
        entries = raw["outputs"] if isinstance(raw["outputs"], list) else [None]
        outputs = []
        for i, out in enumerate(entries, 1):
            good = isinstance(out, dict) and isinstance(out.get("path"), str)
            if not (good and isinstance(out.get("sha256"), str) and _whole(out.get("rows"))):
                raise InputFileError(f"{path}: output entry {i} is malformed (path, rows, sha256)")
            outputs.append(OutputFile(out["path"], out["rows"], out["sha256"]))
        counts = raw["counts"]
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            raise InputFileError(f"{path}: the counts are malformed")
        inputs = raw.get("inputs", [])
        if not isinstance(inputs, list) or not all(
            isinstance(i, dict) and _whole(i.get("rows")) for i in inputs
        ):
            raise InputFileError(f"{path}: the inputs are malformed (path, sha256, rows)")
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        for key, kind in (("tool", dict), ("parameters", dict), ("k3", dict), ("dak2", dict),
                          ("excluded_by_reason", dict), ("rejected_by_rule", dict),
                          ("duplicates", dict), ("region_master", str), ("semester", str),
                          ("review_rows", int), ("accounting", str)):  # fmt: skip
            if key in known and not isinstance(known[key], kind):
                raise InputFileError(f"{path}: '{key}' is malformed")
        parameters = known.get("parameters", {})
        k3 = known.get("k3") or None
        known |= {"outputs": outputs, "counts": _typed(Counts, counts), "inputs": [
            InputFile(str(i.get("path", "")), str(i.get("sha256", "")), i["rows"]) for i in inputs
        ], "parameters": _typed(CombineParameters if "combine" in parameters
                                else ExportParameters, parameters),
            "k3": k3 and _typed(CombinedK3 if "within_runs" in k3 else K3Section, k3)}  # fmt: skip
        return cls(**known)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parameters_of(settings: Settings) -> ExportParameters:
    """The settings an export ran with, under the names manifests have always used (`diff`
    and older manifests read them), paths and dates as text."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    s = settings
    return ExportParameters(
        election_date=s.election_date.isoformat(), profile=s.profile, sheet=s.sheet,
        keluarga=text(s.keluarga), schemas=[str(p) for p in s.schema],
        exclude_nik=text(s.exclude_nik), merge_fuzzy=s.merge_fuzzy, mask=s.mask,
        excel=s.excel, excel_max_rows=s.excel_max_rows, semester=s.semester,
        dp4=s.dp4, levels=list(s.level), csv=s.csv, group_readable=s.group_readable,
        k3_review=s.k3_review, k3_model=text(s.k3_model), decisions=text(s.decisions),
    )  # fmt: skip


def _k3_section(k3: K3Summary | None, settings: Settings) -> K3Section | None:
    if k3 is None:
        return None
    return K3Section(
        model={"input": "trained on this input", "packaged": "packaged default (input too "
               "small to train on)"}.get(k3.model_source, str(settings.k3_model)),
        review_probability=settings.k3_review,
        merge_probability=settings.merge_fuzzy,
        compared_pairs=k3.compared_pairs,
        strings_compared=k3.strings_compared,
        blocking=k3.blocking,
        decisions=k3.decisions,
        kept_apart=k3.kept_apart,
    )  # fmt: skip


@dataclass
class ExportCounts:
    """Where the rows went, for the manifest: the accounting and its breakdowns."""

    accounting: Counts
    excluded_by_reason: dict[str, int]
    rejected_by_rule: dict[str, int]
    duplicates: dict[str, int]  # "kind/action": rows
    review_rows: int


def duplicate_counts(duplicates: Any) -> dict[str, int]:
    """Rows per kind and action of a duplicates table (`K1/removed`: 3)."""
    kinds = duplicates.groupby(["kind", "action"]).size() if len(duplicates) else {}
    return {f"{k}/{a}": int(v) for (k, a), v in dict(kinds).items()}


def manifest_of(sources: list, counts: ExportCounts, k3: K3Summary | None,
                aggregates: Aggregates, settings: Settings, outputs: list[OutputFile],
                root: Path) -> Manifest:  # fmt: skip
    """The manifest of the files written into root (each file's checksum read back), from
    the counts (`export_files.Tally`)."""
    from dp4kit import __version__
    from dp4kit.io.sources import file_sha256
    from dp4kit.reference import MASTER_VERSION

    nation = aggregates.levels["nasional"].iloc[0]
    return Manifest(
        tool={"name": "dp4kit", "version": __version__},
        parameters=parameters_of(settings),
        region_master=MASTER_VERSION,
        inputs=[InputFile(s.path, s.sha256, s.rows) for s in sources],
        outputs=[replace(o, sha256=file_sha256(root / o.path)) for o in outputs],
        counts=counts.accounting,
        excluded_by_reason=counts.excluded_by_reason,
        rejected_by_rule=counts.rejected_by_rule,
        duplicates=counts.duplicates,
        review_rows=counts.review_rows,
        k3=_k3_section(k3, settings),
        semester=aggregates.semester,
        dak2={
            k: int(nation[k])
            for k in ("jumlah", "laki_laki", "perempuan", "jumlah_kk", "pemilih_jumlah")
        },  # fmt: skip
    )
