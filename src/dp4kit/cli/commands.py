"""Command line: parse flags, make one library call, render the result, pick the exit code.

Heavy modules (pandas, pyarrow, pandera) are imported inside commands so `--help` is fast.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dp4kit.cli.options import (
    Engine,
    InputPaths,
    Opt,
    OutputFormat,
    SparkMaster,
    command,
    fail,
    show,
)
from dp4kit.config import SETTINGS

EXIT_CODES_HELP = (
    "Exit codes: 0 no errors; 1 rows with errors (or warnings with --fail-on warning); "
    "2 usage error or unreadable input."
)


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Reference date for ages and future dates, YYYY-MM-DD (default: today).",
    ),
]


def parse_date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{flag} must be a date as YYYY-MM-DD, got '{value}'", 2)


def _run_export(given: dict, **internal) -> None:
    """Settings from the flags (checked as a job file's are), the export pipeline (export and
    aggregate), its rendering and its exit code."""
    from dataclasses import replace

    from dp4kit.cli.render import render_export, stage_display
    from dp4kit.config import resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.export.whole import export as run_export

    try:
        settings = replace(resolve(None, given, environ={})[0], **internal)
        with stage_display() as on_stage:
            result = run_export(settings.inputs, settings.out, settings, on_stage)
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    render_export(result)
    raise typer.Exit(result.exit_code)


def _run_each(given: dict, jobs: int, spark_master: str | None) -> None:
    """`export --each`: one export per input, a line per run, the worst exit code."""
    from dp4kit.cli.render import each_next, render_each_run
    from dp4kit.config import resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.export.each import export_each

    try:
        settings = resolve(None, given, environ={})[0]
        result = export_each(settings.inputs, settings.out, settings, jobs, spark_master,
                             render_each_run)  # fmt: skip
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    typer.echo(each_next(result))
    raise typer.Exit(result.exit_code)


@command(epilog=EXIT_CODES_HELP)
def validate(
    inputs: InputPaths,
    profile: Opt.profile = "auto",
    sheet: Opt.sheet = None,
    keluarga: Opt.keluarga = None,
    schema: Opt.schema = None,
    as_of: AsOfOpt = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write every failure to .csv, .json or .xlsx."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (a table) or json (stable, for CI).")
    ] = OutputFormat.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on errors only, or on warnings too.")
    ] = FailOn.error,
) -> None:
    """Check SIAK exports row by row and report unusable rows and why.

    Examples:

      dp4kit validate export.csv

      dp4kit validate penduduk.csv --keluarga keluarga.csv --report temuan.xlsx

      dp4kit validate data/*.csv --format json --fail-on warning \\
        > report.json
    """
    from dp4kit.errors import Dp4kitError
    from dp4kit.outputs.validation_report import write_report
    from dp4kit.validation import validate as run_validate

    try:
        result = run_validate(
            inputs, profile, parse_date(as_of, "--as-of"), sheet, keluarga, schema or []
        )
        if report is not None:
            write_report(result, report)
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    from dp4kit.cli.render import render_validation

    code = result.exit_code(fail_on.value)
    show(result, output_format, lambda: render_validation(result, report, code))
    raise typer.Exit(code)


@command(
    epilog="Exit codes: 0 done; 1 done but rows were rejected or held (alert); 2 usage error or "
    "unreadable input; 3 accounting did not balance (internal failure, nothing written)."
)
def export(
    inputs: InputPaths,
    out: Opt.out,
    election_date: Opt.election_date,
    profile: Opt.profile = "auto",
    sheet: Opt.sheet = None,
    keluarga: Opt.keluarga = None,
    schema: Opt.schema = None,
    exclude_nik: Opt.exclude_nik = None,
    merge_fuzzy: Opt.merge_fuzzy = None,
    k3_review: Opt.k3_review = SETTINGS["k3_review"].default,
    k3_model: Opt.k3_model = None,
    k3_partitions: Opt.k3_partitions = 0,
    memory_limit: Opt.memory_limit = None,
    decisions: Opt.decisions = None,
    mask: Opt.mask = False,
    excel: Opt.excel = True,
    csv: Opt.csv = False,
    semester: Opt.semester = None,
    level: Opt.level = None,
    group_readable: Opt.group_readable = False,
    each: Annotated[
        bool,
        typer.Option(
            "--each",
            help="Export every input on its own into OUT/<its name> (the parts of dp4kit "
            "split, one per kab/kota), for dp4kit combine.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            metavar="N",
            help="With --each: how many exports run at a time on this machine (an export "
            "uses about one core and 2.2 GB per million rows; default 1). With "
            "--memory-limit: at most this many kab/kota parts and K3 partitions at once "
            "(default: one per core, as the budget holds).",
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="With --each: where the exports run: local (--jobs at a time) or spark (one "
            "Spark task per input). With --memory-limit: where the kab/kota parts are read and "
            "checked and K3's partitions compared (spark: as Spark tasks; the output's folder "
            "must be on a file system every executor sees). Spark needs pyspark (the spark "
            "extra); the files are the same.",
        ),
    ] = Engine.local,
    spark_master: SparkMaster = "local[*]",
) -> None:
    """Build the DP4: every resident who may vote on election day, exactly once.

    Writes dp4/ (Parquet), excel/ (a workbook per kecamatan), rejected, duplicates, excluded,
    the DAK2 aggregates (dak2.parquet, dak2.xlsx and the roll-ups) and manifest.json to --out.
    Every input row ends in exactly one of dp4, excluded, rejected or duplicates. With --each,
    every input is one export of its own, in OUT/<its name>.

    Examples:

      dp4kit export export.csv --out dp4_2024 --election-date 2024-11-27

      dp4kit export penduduk.csv --keluarga keluarga.csv --mask \\
        --out out --election-date 2024-11-27

      dp4kit export parts/*.parquet --each --jobs 2 --out runs \\
        --election-date 2024-11-27
    """
    given = dict(locals())
    each, jobs, engine, master = (given.pop(k) for k in ("each", "jobs", "engine", "spark_master"))
    if each:
        _run_each(given, jobs or 1, master if engine == Engine.spark else None)
    if given["memory_limit"] is None and (jobs is not None or engine != Engine.local):
        fail("--jobs and --engine go with --each or --memory-limit", 2)
    _run_export(given, jobs=jobs, spark_master=master if engine == Engine.spark else None)


@command(
    epilog="Exit codes: 0 done; 1 done but rows were rejected or held; 2 usage error or "
    "unreadable input; 3 the aggregates or the accounting did not add up (nothing written)."
)
def aggregate(
    inputs: InputPaths,
    out: Opt.out,
    election_date: Opt.election_date,
    profile: Opt.profile = "auto",
    sheet: Opt.sheet = None,
    keluarga: Opt.keluarga = None,
    schema: Opt.schema = None,
    exclude_nik: Opt.exclude_nik = None,
    merge_fuzzy: Opt.merge_fuzzy = None,
    k3_model: Opt.k3_model = None,
    k3_partitions: Opt.k3_partitions = 0,
    memory_limit: Opt.memory_limit = None,
    decisions: Opt.decisions = None,
    semester: Opt.semester = None,
    level: Opt.level = None,
    excel: Opt.excel = True,
    group_readable: Opt.group_readable = False,
) -> None:
    """DAK2 and population aggregates alone (the same population and voters as export, given
    the same options).

    Writes dak2.parquet (per kecamatan, empty ones included), agregat_<level>.parquet for desa,
    kab/kota, province and nation, rincian_<topic>.parquet (age bands, religion, marital status,
    education, occupation, disability by sex per kecamatan), the report dak2.xlsx (summary,
    a sheet per regency with its population pyramid, breakdown sheets) and manifest.json.

    Example:

      dp4kit aggregate export.csv --out dak2_2025s2 --election-date 2025-12-31 \\
        --semester 2025-S2
    """
    _run_export(dict(locals()), dp4=False)
