"""`dp4kit export`: DP4 files, the audit files beside them and a manifest that proves the count.

Everything is written into a temporary folder next to DIR and renamed into place at the end,
so an interrupted run leaves no half-written output. Re-running on the same input gives the
same content (files carry no timestamps).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp4kit import __version__
from dp4kit.aggregate import Aggregates, aggregate, semester_of
from dp4kit.columns import ROLL_UPS
from dp4kit.dedup import K3_REVIEW
from dp4kit.dedup.decisions import read_decisions
from dp4kit.dedup.k3 import K3Options, K3Summary
from dp4kit.dedup.model import load_model
from dp4kit.dp4 import Dp4Tables, build_dp4
from dp4kit.errors import WRITE_ERRORS, Dp4kitError, OutputError, write_failure
from dp4kit.io.dak2_report import ReportInfo, write_dak2_report
from dp4kit.io.privacy import mask_frame, mask_table, neutralise_formulas, private_files
from dp4kit.io.profiles import read_canonical
from dp4kit.io.readers import file_sha256, read_small_text
from dp4kit.io.writers import (
    EXCEL_MAX_ROWS,
    clean_leftovers,
    replace_folder,
    sheet_name,
    work_folder,
    write_xlsx_sheets,
)
from dp4kit.locking import forked_worker_started, output_lock
from dp4kit.pipeline import validate_canonical
from dp4kit.reference import MASTER_VERSION
from dp4kit.report import ValidationReport
from dp4kit.rules.eligibility import read_nik_list
from dp4kit.stages import StageTimer

log = logging.getLogger(__name__)

PARTITIONS = ("kode_kabkota", "kode_kecamatan")
EXCLUSION_MAX_BYTES = 1 << 26  # 64 MiB: about 3.7 million NIKs
EXCEL_HEADERS = {
    "nik": "NIK",
    "nkk": "NKK",
    "nama": "Nama",
    "tempat_lahir": "Tempat Lahir",
    "tanggal_lahir": "Tanggal Lahir",
    "usia": "Usia",
    "jenis_kelamin": "L/P",
    "status_kawin": "Status Kawin (B/S/P)",
    "disabilitas": "Disabilitas",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
    "perlu_tinjauan": "Keterangan",
}
EXCEL_WIDTHS = {
    "NIK": 19,
    "NKK": 19,
    "Nama": 32,
    "Tempat Lahir": 18,
    "Tanggal Lahir": 13,
    "Alamat": 36,
    "Disabilitas": 14,
    "Keterangan": 14,
}


class AccountingError(Dp4kitError):
    """The outputs do not account for every input row: nothing is written."""

    exit_code = 3


@dataclass
class ExportOptions:
    election_date: dt.date
    profile: str = "auto"
    sheet: str | None = None
    keluarga: Path | None = None
    schemas: Sequence[Path] = ()
    exclude_nik: Path | None = None
    merge_fuzzy: float | None = None
    mask: bool = False
    excel: bool = True
    excel_max_rows: int = EXCEL_MAX_ROWS
    semester: str | None = None  # e.g. 2025-S2; default: the election date's semester
    dp4: bool = True  # False: aggregates only (`dp4kit aggregate`)
    levels: Sequence[str] = ROLL_UPS  # roll-ups written beside dak2 (per kecamatan)
    csv: bool = False  # also dp4.csv (UTF-8, every value quoted)
    group_readable: bool = False  # files 0640 and folders 0750 instead of 0600/0700
    k3_review: float = K3_REVIEW  # K3 pairs at or above this match probability are listed
    k3_model: Path | None = None  # a saved k3_model.json to use instead of training
    decisions: Path | None = None  # reviewers' SAMA/BEDA decisions (duplicates.xlsx or CSV)


@dataclass
class ExportResult:
    out_dir: Path
    tables: Dp4Tables
    report: ValidationReport
    manifest: dict
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 done; 1 done but rows were rejected or held (cron should alert)."""
        return int(self.tables.rejected.num_rows > 0 or self.tables.held > 0)


def export(
    paths: Sequence[Path],
    out_dir: Path,
    options: ExportOptions,
    on_stage: Callable[[str], None] | None = None,
) -> ExportResult:
    """Read, validate, deduplicate, decide eligibility and write every output into out_dir."""
    stage = StageTimer(on_stage)
    revoked = _revoked(options.exclude_nik)
    data = read_canonical(
        list(paths), options.profile, options.election_date, options.sheet, options.keluarga
    )
    stage("read")
    report = validate_canonical(data, options.election_date, options.schemas)
    stage("validate")
    k3 = K3Options(
        review=options.k3_review,
        merge=options.merge_fuzzy,
        model=load_model(options.k3_model) if options.k3_model else None,
        decisions=read_decisions(options.decisions) if options.decisions else None,
    )
    tables = build_dp4(data, report, options.election_date, revoked, on_stage=on_stage, k3=k3)
    stage.seconds.update(tables.stages)
    stage.restart()
    accounting = tables.accounting
    if not accounting["balanced"]:
        raise AccountingError(f"accounting does not balance, nothing written: {accounting}")
    aggregates = aggregate(
        tables.population, options.semester or semester_of(options.election_date)
    )
    _check_voters_match(aggregates, tables)
    stage("aggregate")
    out_dir = Path(out_dir)
    tmp = work_folder(out_dir)
    try:
        with (
            private_files(options.group_readable),
            output_lock(out_dir.parent / f".{out_dir.name}.lock"),
        ):
            for done in clean_leftovers(out_dir.parent, out_dir.name):
                log.warning("%s", done)
            manifest = _write_outputs(
                tmp, out_dir, data, report, tables, aggregates, options, stage
            )
    except WRITE_ERRORS as exc:
        raise OutputError(f"{out_dir}: cannot write the export: {write_failure(exc)}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(
        out_dir, tables, report, manifest, {**stage.seconds, "total": stage.total()}
    )


def _write_outputs(tmp: Path, out_dir: Path, data, report, tables: Dp4Tables,
                   aggregates: Aggregates, options: ExportOptions, stage) -> dict:  # fmt: skip
    """Write everything into tmp, then swap it in as out_dir; returns the manifest."""
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if options.mask:  # once, here: no writer below sees an unmasked identifier
        tables = masked_tables(tables)
    outputs = _write_parquet(tables, tmp) if options.dp4 else []
    if options.dp4 and tables.k3 is not None:
        outputs += _write_k3(tables.k3, tmp, options.mask)
    outputs += _write_aggregates(aggregates, tmp, options.levels)
    if options.csv and options.dp4:
        outputs += _write_csv(tables, tmp)
    stage("parquet")
    if options.excel and options.dp4:
        outputs += _write_excel(tables, tmp, options)
    if options.excel:
        info = ReportInfo(
            options.election_date,
            [(Path(s.path).name, s.rows, s.sha256) for s in data.raw_input.sources],
            __version__,
            MASTER_VERSION,
        )
        write_dak2_report(tmp / "dak2.xlsx", aggregates, info)
        outputs.append({"path": "dak2.xlsx", "rows": len(aggregates.dak2)})
    stage("excel")
    manifest = _manifest(data.raw_input.sources, report, tables, options, outputs, tmp)
    manifest["semester"] = aggregates.semester
    nation = aggregates.levels["nasional"].iloc[0]
    manifest["dak2"] = {k: int(nation[k]) for k in ("jumlah", "laki_laki", "perempuan",
                                                    "jumlah_kk", "pemilih_jumlah")}  # fmt: skip
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    replace_folder(tmp, out_dir, "manifest.json", "export")
    return manifest


def _check_voters_match(aggregates: Aggregates, tables: Dp4Tables) -> None:
    """The DAK2 voter counts must equal the DP4 rows per kecamatan."""
    dak2 = aggregates.dak2.set_index("kode_kecamatan")["pemilih_jumlah"]
    dp4 = tables.dp4["kode_kecamatan"].astype(str).value_counts()
    dp4 = dp4.reindex(dak2.index, fill_value=0)
    if not (dak2 == dp4).all() or int(dak2.sum()) != len(tables.dp4):
        raise AccountingError("DAK2 voter counts differ from the DP4 rows: nothing written")


def _write_aggregates(aggregates: Aggregates, root: Path, levels: Sequence[str]) -> list[dict]:
    """dak2.parquet (per kecamatan), agregat_<level>.parquet for the chosen roll-ups and
    rincian_<topic>.parquet."""
    files = {"dak2.parquet": aggregates.dak2}
    files |= {f"agregat_{k}.parquet": aggregates.levels[k] for k in ROLL_UPS if k in levels}
    files |= {f"rincian_{k}.parquet": v for k, v in aggregates.breakdowns.items()}
    outputs = []
    for name, frame in files.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({"semester": aggregates.semester})
        pq.write_table(table, root / name, compression="zstd")
        outputs.append({"path": name, "rows": len(frame)})
    return outputs


def _revoked(path: Path | None) -> list[str]:
    if path is None:
        return []
    return read_nik_list(read_small_text(Path(path), "exclusion list", EXCLUSION_MAX_BYTES))


def masked_tables(tables: Dp4Tables) -> Dp4Tables:
    """The tables as a public copy: every identifier in every text column masked
    (`320411060997****`), the raw text of rejected rows and NIK_AYAH/NIK_IBU included."""
    return replace(
        tables,
        dp4=mask_frame(tables.dp4),
        excluded=mask_frame(tables.excluded),
        rejected=mask_table(tables.rejected),
        duplicates=mask_frame(tables.duplicates),
    )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_parquet(tables: Dp4Tables, root: Path) -> list[dict]:
    """dp4/ (hive-partitioned by kab/kota and kecamatan) and the audit files. An empty DP4
    (no voter on that day) is a valid result: no dp4/ parts, the audit files as usual."""
    outputs = []
    dp4 = _arrow(tables.dp4)
    kab = dp4["kode_kabkota"].to_numpy(zero_copy_only=False).astype(str)
    kec = dp4["kode_kecamatan"].to_numpy(zero_copy_only=False).astype(str)
    starts = np.flatnonzero(np.r_[True, kec[1:] != kec[:-1]]) if len(kec) else np.array([], int)
    ends = np.r_[starts[1:], len(kec)] if len(kec) else np.array([], int)
    body = dp4.drop_columns(list(PARTITIONS))
    for a, b in zip(starts, ends, strict=True):
        rel = Path("dp4") / f"kode_kabkota={kab[a]}" / f"kode_kecamatan={kec[a]}" / "part-0.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(body.slice(a, b - a), root / rel, compression="zstd")
        outputs.append({"path": rel.as_posix(), "rows": int(b - a)})
    audit = {
        "rejected.parquet": tables.rejected,
        "duplicates.parquet": _arrow(tables.duplicates),
        "excluded.parquet": _arrow(tables.excluded),
    }
    for name, table in audit.items():
        pq.write_table(table, root / name, compression="zstd")
        outputs.append({"path": name, "rows": table.num_rows})
    return outputs


def _write_k3(summary: K3Summary, root: Path, mask: bool) -> list[dict]:
    """k3_model.json (the trained parameters, reusable with --k3-model) and, when reviewers'
    decisions name NIKs no longer in the input, keputusan_usang.csv."""
    model = summary.model.to_dict()
    (root / "k3_model.json").write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")  # fmt: skip
    outputs = [{"path": "k3_model.json", "rows": len(model["comparisons"])}]
    stale = summary.stale_decisions
    if stale is not None and len(stale):
        import pyarrow.csv as pacsv

        table = pa.Table.from_pandas(stale, preserve_index=False)
        table = neutralise_formulas(mask_table(table) if mask else table)
        pacsv.write_csv(table, root / "keputusan_usang.csv")
        outputs.append({"path": "keputusan_usang.csv", "rows": len(stale)})
    return outputs


def _write_csv(tables: Dp4Tables, root: Path) -> list[dict]:
    """dp4.csv: the whole DP4, UTF-8, every value quoted so NIK/NKK stay text in any reader,
    and a value a spreadsheet would run as a formula prefixed with `'`."""
    import pyarrow.csv as pacsv

    table = neutralise_formulas(_arrow(tables.dp4))
    pacsv.write_csv(table, root / "dp4.csv", pacsv.WriteOptions(quoting_style="all_valid"))
    return [{"path": "dp4.csv", "rows": table.num_rows}]


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def _excel_rows(frame: pd.DataFrame) -> list[list]:
    """Rows for the sheet: number, text cells (NIK/NKK stay text), dates as DD-MM-YYYY."""
    cols = {}
    for col in EXCEL_HEADERS:
        values = frame[col]
        if col == "tanggal_lahir":
            values = pd.to_datetime(values.astype("datetime64[s]")).dt.strftime("%d-%m-%Y")
        elif col == "perlu_tinjauan":
            values = values.map({True: "PERLU TINJAUAN"}).astype(object)
        elif col == "usia":
            values = values.astype("int64")
        cols[col] = values.astype(object).where(values.notna(), None).to_numpy()
    numbers = np.arange(1, len(frame) + 1)
    return [
        [int(n), *row] for n, row in zip(numbers, zip(*cols.values(), strict=True), strict=True)
    ]


PARALLEL_MIN_ROWS = 50_000  # below this, a process pool costs more than it saves


def _kecamatan_workbook(path: Path, kec: pd.DataFrame, day: str, max_rows: int) -> int:
    """Write one kecamatan's workbook (one sheet per desa); returns its number of rows."""
    first = kec.iloc[0]
    titles = [
        ["DAFTAR PENDUDUK POTENSIAL PEMILIH PEMILIHAN (DP4)"],
        [f"Provinsi: {first['provinsi']}"],
        [f"Kabupaten/Kota: {first['kabkota']}"],
        [f"Kecamatan: {first['kecamatan']} ({first['kode_kecamatan']})"],
    ]
    used: set[str] = set()
    sheets = []
    for kode_desa, desa in kec.groupby("kode_desa", sort=True):
        name = str(desa["desa"].iloc[0]) if desa["desa"].notna().iloc[0] else str(kode_desa)
        sheet_titles = [
            *titles,
            [f"Desa/Kelurahan: {name} ({kode_desa})"],
            [f"Hari pemungutan suara: {day}"],
            [],
        ]
        sheets.append(
            (
                sheet_name(name, used),
                sheet_titles,
                ["No", *EXCEL_HEADERS.values()],
                _excel_rows(desa),
            )
        )
    write_xlsx_sheets(path, sheets, max_rows=max_rows, widths=EXCEL_WIDTHS, print_ready=True)
    return len(kec)


def _write_excel(tables: Dp4Tables, root: Path, options: ExportOptions) -> list[dict]:
    """One workbook per kecamatan, one sheet per desa, print-ready, identifiers as text.
    Workbooks are independent, so big exports write them in parallel on every core."""
    outputs = []
    dp4 = tables.dp4
    day = options.election_date.strftime("%d-%m-%Y")
    (root / "excel").mkdir()
    jobs = []
    for kode_kec, kec in dp4.groupby("kode_kecamatan", sort=True):
        name = f"DP4_{_file_name(str(kode_kec))}_{_file_name(str(kec['kecamatan'].iloc[0]))}.xlsx"
        jobs.append((root / "excel" / name, kec, day, options.excel_max_rows))
    workers = min(os.cpu_count() or 1, len(jobs))
    if len(dp4) >= PARALLEL_MIN_ROWS and workers > 1 and "fork" in mp.get_all_start_methods():
        with ProcessPoolExecutor(
            workers,
            mp_context=mp.get_context("fork"),
            initializer=forked_worker_started,
            initargs=(os.getpid(),),
        ) as pool:
            rows = list(pool.map(_kecamatan_workbook, *zip(*jobs, strict=True)))
    else:
        rows = [_kecamatan_workbook(*job) for job in jobs]
    for (path, *_), n in zip(jobs, rows, strict=True):
        outputs.append({"path": path.relative_to(root).as_posix(), "rows": n})
    for name, frame in (
        ("rejected.xlsx", tables.rejected.to_pandas(types_mapper=pd.ArrowDtype)),
        # reviewers write SAMA or BEDA in `keputusan`; `--decisions` reads the file back
        ("duplicates.xlsx", tables.duplicates.assign(keputusan=pd.NA)),
    ):
        frame = frame.astype("string")
        body = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
        write_xlsx_sheets(
            root / name,
            [(Path(name).stem.upper(), [], list(frame.columns), body)],
            max_rows=options.excel_max_rows,
        )
        outputs.append({"path": name, "rows": len(frame)})
    return outputs


def _k3_manifest(tables: Dp4Tables, options: ExportOptions) -> dict:
    k3 = tables.k3
    if k3 is None:
        return {}
    return {
        "model": {"input": "trained on this input", "packaged": "packaged default (input too "
                  "small to train on)"}.get(k3.model_source, str(options.k3_model)),
        "review_probability": options.k3_review,
        "merge_probability": options.merge_fuzzy,
        "compared_pairs": k3.compared_pairs,
        "strings_compared": k3.strings_compared,
        "blocking": k3.blocking,
        "decisions": k3.decisions,
    }  # fmt: skip


def _manifest(sources, report, tables: Dp4Tables, options, outputs, root: Path) -> dict:
    for out in outputs:
        out["sha256"] = file_sha256(root / out["path"])
    dup = tables.duplicates
    counts = dup.groupby(["kind", "action"]).size() if len(dup) else pd.Series(dtype=int)
    params = {
        k: (str(v) if isinstance(v, Path | dt.date) else v) for k, v in asdict(options).items()
    }
    params["schemas"] = [str(s) for s in options.schemas]
    return {
        "tool": {"name": "dp4kit", "version": __version__},
        "parameters": params,
        "region_master": MASTER_VERSION,
        "inputs": [{"path": s.path, "sha256": s.sha256, "rows": s.rows} for s in sources],
        "outputs": outputs,
        "counts": tables.accounting,
        "excluded_by_reason": {
            k: int(v) for k, v in tables.excluded["alasan"].value_counts().sort_index().items()
        },
        "rejected_by_rule": {r.code: r.rows for r in report.rules if r.severity == "error"},
        "duplicates": {f"{k}/{a}": int(v) for (k, a), v in counts.items()},
        "review_rows": int(tables.dp4["perlu_tinjauan"].sum()) if len(tables.dp4) else 0,
        "k3": _k3_manifest(tables, options),
        "accounting": "input_rows = dp4 + excluded + rejected + removed + held",
    }
