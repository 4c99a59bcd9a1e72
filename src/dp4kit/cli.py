"""Command line: parse flags, make one library call, render the result, pick the exit code.

Heavy modules (pandas, pyarrow, pandera) are imported inside commands so `--help` is fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dp4kit import __version__
from dp4kit.config import SETTINGS
from dp4kit.options import InputPaths, Opt, RunOpt

app = typer.Typer(
    name="dp4kit",
    help="Prepare Indonesian SIAK population data for elections (DP4 voter lists, DAK2).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

EXIT_CODES_HELP = (
    "Exit codes: 0 no errors; 1 rows with errors (or warnings with --fail-on warning); "
    "2 usage error or unreadable input."
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Reference date for ages and future dates, YYYY-MM-DD (default: today)."
    ),
]


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{flag} must be a date as YYYY-MM-DD, got '{value}'", 2)


def _run_export(given: dict, **internal) -> None:
    """Settings from the flags (checked as a job file's are), the export pipeline (export and
    aggregate), its rendering and its exit code."""
    from dataclasses import replace

    from dp4kit.config import resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.export import export as run_export
    from dp4kit.render import render_export, stage_display

    try:
        settings = replace(resolve(None, given, environ={})[0], **internal)
        with stage_display() as on_stage:
            result = run_export(settings.inputs, settings.out, settings, on_stage)
    except Dp4kitError as exc:
        _fail(str(exc), exc.exit_code)
    render_export(result)
    raise typer.Exit(result.exit_code)


def _show(result, output_format: OutputFormat, render) -> None:
    """JSON (result.to_dict()) for machines, else the command's own rendering."""
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        render()


def _fail(message: str, code: int) -> None:
    from dp4kit.logs import printable

    typer.echo(f"dp4kit: error: {printable(message)}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dp4kit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Prepare Indonesian SIAK population data for elections (DP4 voter lists, DAK2)."""


@app.command(epilog=EXIT_CODES_HELP)
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

      dp4kit validate data/*.csv --format json --fail-on warning > report.json
    """
    from dp4kit.errors import Dp4kitError
    from dp4kit.pipeline import validate as run_validate
    from dp4kit.report import write_report

    try:
        result = run_validate(
            inputs, profile, _date(as_of, "--as-of"), sheet, keluarga, schema or []
        )
        if report is not None:
            write_report(result, report)
    except Dp4kitError as exc:
        _fail(str(exc), exc.exit_code)
    from dp4kit.render import render_validation

    _show(result, output_format, lambda: render_validation(result, report))
    raise typer.Exit(result.exit_code(fail_on.value))


@app.command(
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
    decisions: Opt.decisions = None,
    mask: Opt.mask = False,
    excel: Opt.excel = True,
    csv: Opt.csv = False,
    semester: Opt.semester = None,
    level: Opt.level = None,
    group_readable: Opt.group_readable = False,
) -> None:
    """Build the DP4: every resident who may vote on election day, exactly once.

    Writes dp4/ (Parquet), excel/ (a workbook per kecamatan), rejected, duplicates, excluded,
    the DAK2 aggregates (dak2.parquet, dak2.xlsx, …) and manifest.json to --out. Every input
    row ends in exactly one of dp4, excluded, rejected or duplicates.

    Examples:

      dp4kit export export.csv --out dp4_2024 --election-date 2024-11-27

      dp4kit export penduduk.csv --keluarga keluarga.csv --out out --election-date 2024-11-27 --mask
    """
    _run_export(dict(locals()))


@app.command(
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

      dp4kit aggregate export.csv --out dak2_2025s2 --election-date 2025-12-31 --semester 2025-S2
    """
    _run_export(dict(locals()), dp4=False)


RUN_EXIT_CODES = (
    "Exit codes: 0 done; 1 done, but more rows rejected than max_rejected_share allows, or rows "
    "held for a decision (alert); 2 bad settings, unreadable input, or another run holds the "
    "lock; 3 accounting or aggregates did not add up (nothing written)."
)


def _old_spelling(flag: str, new: str) -> typer.models.OptionInfo:
    return typer.Option(flag, hidden=True, help=f"Deprecated: use {new}.")


@app.command(epilog=RUN_EXIT_CODES)
def run(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Inputs (override `inputs` of the job file).", show_default=False),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Job file (TOML); see init-config.")
    ] = None,
    keluarga: RunOpt.keluarga = None,
    profile: RunOpt.profile = None,
    sheet: RunOpt.sheet = None,
    schema: RunOpt.schema = None,
    election_date: RunOpt.election_date = None,
    semester: RunOpt.semester = None,
    out: RunOpt.out = None,
    excel: RunOpt.excel = None,
    csv: RunOpt.csv = None,
    level: RunOpt.level = None,
    mask: RunOpt.mask = None,
    group_readable: RunOpt.group_readable = None,
    exclude_nik: RunOpt.exclude_nik = None,
    merge_fuzzy: RunOpt.merge_fuzzy = None,
    k3_review: RunOpt.k3_review = None,
    k3_model: RunOpt.k3_model = None,
    decisions: RunOpt.decisions = None,
    max_rejected_share: RunOpt.max_rejected_share = None,
    keep: RunOpt.keep = None,
    log_format: RunOpt.log_format = None,
    log_file: RunOpt.log_file = None,
    quiet: RunOpt.quiet = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the settings and where each came from.")
    ] = False,
    schemas: Annotated[str | None, _old_spelling("--schemas", "--schema")] = None,
    levels: Annotated[str | None, _old_spelling("--levels", "--level")] = None,
    formats: Annotated[str | None, _old_spelling("--formats", "--excel/--csv")] = None,
) -> None:
    """Unattended export for cron and CI: settings from a job file, environment and flags.

    Each run writes OUT/<date>T<time>/ atomically, points OUT/latest at it, holds a lock in OUT
    while writing and, with --keep N, removes older runs. Precedence: flag > environment
    (DP4KIT_<NAME>) > job file > default.

    Examples:

      dp4kit init-config job.toml

      dp4kit run --config job.toml --log-format json --log-file /var/log/dp4kit.log --quiet

      DP4KIT_ELECTION_DATE=2024-11-27 dp4kit run -c job.toml --keep 5
    """
    given = {k: v for k, v in locals().items() if k not in ("config", "show_config")}
    given["inputs"] = inputs or None
    from dp4kit.config import ConfigError, resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.jobs import log_failure, run_job
    from dp4kit.logs import run_logging

    try:
        settings, origin = resolve(config, given)
    except ConfigError as exc:
        _fail(str(exc), exc.exit_code)
    for note in filter(None, origin.pop("_deprecated", "").split("; ")):
        typer.echo(f"warning: {note}", err=True)
    if show_config:
        for key in SETTINGS:
            value = getattr(settings, key)
            shown = [str(v) for v in value] if isinstance(value, tuple) else value
            typer.echo(f"{key} = {json.dumps(shown, default=str)}  # {origin[key]}")
        raise typer.Exit(0)
    with contextlib.ExitStack() as stack:
        try:
            logger = stack.enter_context(
                run_logging(settings.log_format, settings.log_file, settings.quiet)
            )
        except Dp4kitError as exc:
            _fail(str(exc), exc.exit_code)
        try:
            result = run_job(settings, logger)
        except Dp4kitError as exc:
            log_failure(logger, exc)
            raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(result.exit_code)


@app.command("init-config", epilog="Exit codes: 0 written; 2 the file exists (use --force).")
def init_config(
    path: Annotated[Path, typer.Argument(help="Job file to write.")] = Path("job.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example job file for `dp4kit run`.

    Example:

      dp4kit init-config /etc/dp4kit/kab_bandung.toml
    """
    from dp4kit.config import EXAMPLE
    from dp4kit.outputs.files import atomic_file

    if path.exists() and not force:
        _fail(f"{path} exists; use --force to overwrite it", 2)
    try:
        with atomic_file(path) as tmp:
            tmp.write_text(EXAMPLE, encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror or exc}", 2)
    typer.echo(f"wrote {path}; edit inputs, election_date and out, then: dp4kit run -c {path}")


@app.command(
    epilog="Exit codes: 0 the folder matches its manifest; 1 a file is missing, changed or "
    "unexpected, or the accounting does not hold; 2 not a dp4kit output folder."
)
def verify(
    folder: Annotated[Path, typer.Argument(help="An export folder (or a run root: its latest).")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """Check an output folder against its manifest.json: checksums, row counts, accounting.

    Example:

      dp4kit verify /data/dp4/latest
    """
    from dp4kit.diff import run_folder
    from dp4kit.errors import Dp4kitError
    from dp4kit.verify import verify as run_verify

    try:
        result = run_verify(run_folder(folder))
    except Dp4kitError as exc:
        _fail(str(exc), exc.exit_code)
    if output_format is OutputFormat.json:
        _show(result, output_format, None)
    elif result.problems:
        for problem in result.problems:
            typer.echo(f"FAIL {problem}")
        typer.echo(f"{len(result.problems)} problem(s) in {result.folder}")
    else:
        typer.echo(
            f"OK: {result.files_checked} files match manifest.json and the accounting holds "
            f"({result.folder})"
        )
    raise typer.Exit(result.exit_code)


@app.command(epilog="Exit codes: 0 written; 2 a folder is not a dp4kit run, or is masked.")
def diff(
    old: Annotated[Path, typer.Argument(help="Earlier export folder (or run root).")],
    new: Annotated[Path, typer.Argument(help="Later export folder (or run root).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the lists (Parquet, xlsx) here.")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (a table) or json (summary).")
    ] = OutputFormat.text,
) -> None:
    """Voters added, removed and changed (address, name, status) between two DP4 runs.

    Example:

      dp4kit diff dp4_2025s1 dp4_2025s2 --out perubahan_2025s2
    """
    from dp4kit.diff import diff_runs, write_diff
    from dp4kit.errors import Dp4kitError

    try:
        result = diff_runs(old, new)
        if out is not None:
            write_diff(result, out)
    except Dp4kitError as exc:
        _fail(str(exc), exc.exit_code)
    from dp4kit.render import render_diff

    _show(result, output_format, lambda: render_diff(result, out))


@app.command(epilog="Exit codes: 0 written; 2 usage error.")
def sample(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="File to write: .csv, .xlsx or .parquet.")
    ],
    rows: Annotated[
        int, typer.Option("--rows", "-n", min=1, help="Approximate number of rows.")
    ] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same file.")] = 1,
    invalid: Annotated[
        float, typer.Option("--invalid", min=0.0, max=0.5, help="Share of rows with errors.")
    ] = 0.02,
    duplicates: Annotated[
        float, typer.Option("--duplicates", min=0.0, max=0.5, help="Share of duplicate rows.")
    ] = 0.02,
    kabkota: Annotated[
        str, typer.Option("--kabkota", help="Regency code of the residents, e.g. 32.04.")
    ] = "32.04",
) -> None:
    """Write a realistic synthetic SIAK export with known errors and duplicates.

    Beside OUT it writes OUT.truth.csv: per row, the rules it should break and its duplicate
    kind (D, K1, K2, K3, KEMBAR for twins) and group.

    Example:

      dp4kit sample --rows 1000000 --out /tmp/siak.csv --seed 7
    """
    from dp4kit.errors import Dp4kitError
    from dp4kit.sample import write_sample

    try:
        written = write_sample(
            out,
            rows=rows,
            seed=seed,
            invalid_share=invalid,
            duplicate_share=duplicates,
            kabkota=kabkota,
        )
    except Dp4kitError as exc:
        _fail(str(exc), exc.exit_code)
    typer.echo(f"wrote {written} rows to {out}")


def _reflow(doc: str) -> str:
    """A docstring's prose paragraphs as one line each, so that rich wraps them to the
    terminal's width (it keeps hard line breaks after the first paragraph); indented example
    lines stay as they are."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(doc))
    return "\n\n".join(
        p if all(line.startswith("  ") for line in p.splitlines()) else " ".join(p.split())
        for p in paragraphs
    )


for _command in app.registered_commands:
    _command.help = _reflow(_command.help or _command.callback.__doc__ or "")


def main() -> None:
    """Console script entry point."""
    app(prog_name="dp4kit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
