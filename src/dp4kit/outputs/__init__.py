"""Writers: the results of an export as files (Parquet, CSV, Excel, dak2.xlsx, manifest.json).

`write_outputs` masks the tables once (under `--mask`) and hands the same tables to every
writer; each writer returns the files it wrote, and the manifest lists them with checksums.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dp4kit.outputs.manifest import Manifest, OutputFile, build_manifest

if TYPE_CHECKING:
    from dp4kit.aggregate import Aggregates
    from dp4kit.canonical import CanonicalInput
    from dp4kit.config import Settings
    from dp4kit.dp4 import Dp4Tables
    from dp4kit.report import ValidationReport


def write_outputs(
    root: Path,
    data: CanonicalInput,
    report: ValidationReport,
    tables: Dp4Tables,
    aggregates: Aggregates,
    settings: Settings,
    stage: Callable[[str], None] = lambda name: None,
) -> Manifest:
    """Every output of an export into the empty folder root, manifest.json last."""
    from dp4kit.outputs.excel import write_dp4_excel
    from dp4kit.outputs.parquet import write_aggregates, write_dp4_parquet
    from dp4kit.outputs.privacy import masked_tables
    from dp4kit.outputs.text_files import write_dp4_csv, write_k3_files

    if settings.mask:  # once, here: no writer below sees an unmasked identifier
        tables = masked_tables(tables)
    outputs: list[OutputFile] = []
    if settings.dp4:
        outputs += write_dp4_parquet(tables, root)
        if tables.k3 is not None:
            outputs += write_k3_files(tables.k3, root)
    outputs += write_aggregates(aggregates, root, settings.level)
    if settings.csv and settings.dp4:
        outputs += write_dp4_csv(tables, root)
    stage("parquet")
    if settings.excel and settings.dp4:
        outputs += write_dp4_excel(tables, root, settings.election_date, settings.excel_max_rows)
    if settings.excel:
        outputs.append(write_dak2(root, aggregates, settings, data.raw_input.sources))
    stage("excel")
    manifest = build_manifest(data, report, tables, aggregates, settings, outputs, root)
    manifest.write(root)
    return manifest


def write_dak2(root: Path, aggregates: Aggregates, settings: Settings, sources: list) -> OutputFile:
    """dak2.xlsx, the printable DAK2, naming the input files."""
    from dp4kit import __version__
    from dp4kit.outputs.dak2_report import ReportInfo, write_dak2_report
    from dp4kit.reference import MASTER_VERSION

    named = [(Path(s.path).name, s.rows, s.sha256) for s in sources]
    info = ReportInfo(settings.election_date, named, __version__, MASTER_VERSION)
    write_dak2_report(root / "dak2.xlsx", aggregates, info)
    return OutputFile("dak2.xlsx", len(aggregates.dak2))
