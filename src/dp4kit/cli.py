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
from dp4kit.columns import ROLL_UPS
from dp4kit.dedup import K3_REVIEW

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


Level = StrEnum("Level", {name: name for name in ROLL_UPS})  # the roll-ups, defined once


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


# Help texts shared by the commands that take the option (one wording everywhere)
HELP = {
    "keluarga": "SIAK family file (NO_KK, ALAMAT, NO_RT, …) to join on NO_KK.",
    "profile": "Column layout: auto, siak, canonical, or a mapping file (.toml).",
    "sheet": "Excel sheet name (default: first).",
    "election_date": "Voting day: ages and voters are as of this date, YYYY-MM-DD "
    "(Pilkada 2024: 2024-11-27).",
    "semester": "Label of the data set, e.g. 2025-S2 (default: the election date's semester: "
    "S1 to 30 June, S2 to 31 December).",
    "exclude_nik": "Revoked voting rights: a file with one NIK per line.",
    "merge_fuzzy": "Merge K3 pairs (same person, two NIKs) whose match probability is at least "
    "this (e.g. 0.999): all but one are removed. Default: only flag them for review.",
    "k3_review": "List K3 pairs whose match probability is at least this for review.",
    "k3_model": "Use a saved k3_model.json (from an earlier run) instead of training the K3 "
    "model on this input.",
    "decisions": "Reviewers' decisions: a duplicates.xlsx with the keputusan column filled in "
    "(SAMA/BEDA), or a CSV nik_1,nik_2,keputusan.",
    "mask": "Mask NIK/NKK (last 4 digits ****).",
}  # fmt: skip

InputPaths = Annotated[
    list[Path],
    typer.Argument(
        help="SIAK exports: .csv/.tsv/.txt, .xlsx, .parquet files or Parquet folders.",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str,
    typer.Option("--profile", "-p", help=HELP["profile"]),
]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help=HELP["sheet"])]
KeluargaOpt = Annotated[
    Path | None,
    typer.Option("--keluarga", help=HELP["keluarga"]),
]
OutDirOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Output folder (replaced atomically).")
]
ElectionDateOpt = Annotated[
    str,
    typer.Option("--election-date",
                 help=HELP["election_date"]),
]  # fmt: skip
SemesterOpt = Annotated[
    str | None,
    typer.Option("--semester", help=HELP["semester"]),
]  # fmt: skip
LevelOpt = Annotated[
    list[Level] | None,
    typer.Option("--level", help="Roll-up to write beside dak2 (per kecamatan); repeatable "
                 "(default: desa, kabkota, provinsi and nasional)."),
]  # fmt: skip
ExcelOpt = Annotated[
    bool, typer.Option("--excel/--no-excel", help="Write the Excel files (and dak2.xlsx).")
]
K3ReviewOpt = Annotated[
    float,
    typer.Option("--k3-review", min=0.0, max=1.0,
                 help=HELP["k3_review"]),
]  # fmt: skip
K3ModelOpt = Annotated[
    Path | None,
    typer.Option("--k3-model", help=HELP["k3_model"]),
]  # fmt: skip
DecisionsOpt = Annotated[
    Path | None,
    typer.Option("--decisions", help=HELP["decisions"]),
]  # fmt: skip
GroupReadableOpt = Annotated[
    bool,
    typer.Option("--group-readable", help="Outputs readable by your group (files 0640, folders "
                 "0750); by default only you can read them (0600/0700)."),
]  # fmt: skip
SchemaOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--schema", help="Extra pandera schema file (YAML) with office rules; repeatable."
    ),
]
ExcludeNikOpt = Annotated[Path | None, typer.Option("--exclude-nik", help=HELP["exclude_nik"])]
MergeFuzzyOpt = Annotated[
    float | None, typer.Option("--merge-fuzzy", min=0.0, max=1.0, help=HELP["merge_fuzzy"])
]
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


def _semester(value: str | None) -> str | None:
    if value is None or re.fullmatch(r"\d{4}-S[12]", value):
        return value
    _fail(f"--semester must look like 2025-S2, got '{value}'", 2)


def _levels(chosen: list[Level] | None) -> tuple[str, ...]:
    all_levels = tuple(level.value for level in Level)
    return all_levels if not chosen else tuple(v for v in all_levels if v in chosen)


def _run_export(inputs: list[Path], out: Path, options) -> None:
    """Run the export pipeline (export and aggregate), render, and exit with its code."""
    from dp4kit.errors import Dp4kitError
    from dp4kit.export import export as run_export
    from dp4kit.render import render_export, stage_display

    try:
        with stage_display() as on_stage:
            result = run_export(inputs, out, options, on_stage)
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
    profile: ProfileOpt = "auto",
    sheet: SheetOpt = None,
    keluarga: KeluargaOpt = None,
    schema: SchemaOpt = None,
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
    out: OutDirOpt,
    election_date: ElectionDateOpt,
    profile: ProfileOpt = "auto",
    sheet: SheetOpt = None,
    keluarga: KeluargaOpt = None,
    schema: SchemaOpt = None,
    exclude_nik: ExcludeNikOpt = None,
    merge_fuzzy: MergeFuzzyOpt = None,
    k3_review: K3ReviewOpt = K3_REVIEW,
    k3_model: K3ModelOpt = None,
    decisions: DecisionsOpt = None,
    mask: Annotated[bool, typer.Option("--mask", help=HELP["mask"])] = False,
    excel: ExcelOpt = True,
    csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="Also write dp4.csv (UTF-8, every value quoted, spreadsheet "
            "formulas neutralised).",
        ),
    ] = False,
    semester: SemesterOpt = None,
    level: LevelOpt = None,
    group_readable: GroupReadableOpt = False,
) -> None:
    """Build the DP4: every resident who may vote on election day, exactly once.

    Writes dp4/ (Parquet), excel/ (a workbook per kecamatan), rejected, duplicates, excluded,
    the DAK2 aggregates (dak2.parquet, dak2.xlsx, …) and manifest.json to --out. Every input
    row ends in exactly one of dp4, excluded, rejected or duplicates.

    Examples:

      dp4kit export export.csv --out dp4_2024 --election-date 2024-11-27

      dp4kit export penduduk.csv --keluarga keluarga.csv --out out --election-date 2024-11-27 --mask
    """
    from dp4kit.export import ExportOptions

    day = _date(election_date, "--election-date")
    options = ExportOptions(day, profile, sheet, keluarga, schema or [], exclude_nik, merge_fuzzy,
                            mask, excel, semester=_semester(semester),
                            levels=_levels(level), group_readable=group_readable,
                            k3_review=k3_review, k3_model=k3_model,
                            decisions=decisions, csv=csv)  # fmt: skip
    _run_export(inputs, out, options)


@app.command(
    epilog="Exit codes: 0 done; 1 done but rows were rejected or held; 2 usage error or "
    "unreadable input; 3 the aggregates or the accounting did not add up (nothing written)."
)
def aggregate(
    inputs: InputPaths,
    out: OutDirOpt,
    election_date: ElectionDateOpt,
    profile: ProfileOpt = "auto",
    sheet: SheetOpt = None,
    keluarga: KeluargaOpt = None,
    schema: SchemaOpt = None,
    exclude_nik: ExcludeNikOpt = None,
    merge_fuzzy: MergeFuzzyOpt = None,
    k3_model: K3ModelOpt = None,
    decisions: DecisionsOpt = None,
    semester: SemesterOpt = None,
    level: LevelOpt = None,
    excel: ExcelOpt = True,
    group_readable: GroupReadableOpt = False,
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
    from dp4kit.export import ExportOptions

    day = _date(election_date, "--election-date")
    options = ExportOptions(day, profile, sheet, keluarga, schema or [], exclude_nik, merge_fuzzy,
                            excel=excel, dp4=False, semester=_semester(semester),
                            levels=_levels(level), group_readable=group_readable,
                            k3_model=k3_model, decisions=decisions)  # fmt: skip
    _run_export(inputs, out, options)


RUN_EXIT_CODES = (
    "Exit codes: 0 done; 1 done, but more rows rejected than max_rejected_share allows, or rows "
    "held for a decision (alert); 2 bad settings, unreadable input, or another run holds the "
    "lock; 3 accounting or aggregates did not add up (nothing written)."
)


@app.command(epilog=RUN_EXIT_CODES)
def run(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Inputs (override `inputs` of the job file).", show_default=False),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Job file (TOML); see init-config.")
    ] = None,
    keluarga: Annotated[Path | None, typer.Option("--keluarga", help=HELP["keluarga"])] = None,
    profile: Annotated[str | None, typer.Option("--profile", help=HELP["profile"])] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help=HELP["sheet"])] = None,
    schema: SchemaOpt = None,
    schemas: Annotated[
        str | None,
        typer.Option("--schemas", hidden=True, help="Deprecated: use --schema (repeatable)."),
    ] = None,
    election_date: Annotated[
        str | None, typer.Option("--election-date", help=HELP["election_date"])
    ] = None,
    semester: Annotated[str | None, typer.Option("--semester", help=HELP["semester"])] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output root.")] = None,
    formats: Annotated[
        str | None, typer.Option("--formats", help="Comma-separated: parquet,xlsx,csv.")
    ] = None,
    level: LevelOpt = None,
    levels: Annotated[
        str | None,
        typer.Option("--levels", hidden=True, help="Deprecated: use --level (repeatable)."),
    ] = None,
    mask: Annotated[bool | None, typer.Option("--mask/--no-mask", help=HELP["mask"])] = None,
    group_readable: Annotated[
        bool | None,
        typer.Option(
            "--group-readable/--owner-only",
            help="Output file modes 0640/0750 or 0600/0700 (default).",
        ),
    ] = None,
    exclude_nik: Annotated[
        Path | None, typer.Option("--exclude-nik", help=HELP["exclude_nik"])
    ] = None,
    merge_fuzzy: Annotated[
        float | None, typer.Option("--merge-fuzzy", min=0.0, max=1.0, help=HELP["merge_fuzzy"])
    ] = None,
    k3_review: Annotated[
        float | None, typer.Option("--k3-review", min=0.0, max=1.0, help=HELP["k3_review"])
    ] = None,
    k3_model: Annotated[Path | None, typer.Option("--k3-model", help=HELP["k3_model"])] = None,
    decisions: Annotated[Path | None, typer.Option("--decisions", help=HELP["decisions"])] = None,
    max_rejected_share: Annotated[
        float | None,
        typer.Option(
            "--max-rejected-share", help="Exit 1 when a larger share of rows is rejected (0–1)."
        ),
    ] = None,
    keep: Annotated[int | None, typer.Option("--keep", help="Dated runs to keep.")] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="text or json (JSON lines).")
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Append the log to this file as well.")
    ] = None,
    quiet: Annotated[
        bool | None,
        typer.Option("--quiet/--no-quiet", "-q", help="Only warnings and errors on the terminal."),
    ] = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the settings and where each came from.")
    ] = False,
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
    for old, new, values in (("--schemas", "--schema", schema), ("--levels", "--level", level)):
        if given[old[2:]] is not None:  # the spelling of 0.1 betas, kept for one release
            typer.echo(f"warning: {old} is deprecated: use {new} (repeatable)", err=True)
        if values:
            given[old[2:]] = [str(getattr(v, "value", v)) for v in values]
    del given["schema"], given["level"]
    from dp4kit.config import ConfigError, resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.jobs import log_failure, run_job
    from dp4kit.logs import run_logging

    given["inputs"] = [str(p) for p in inputs] if inputs else None
    for key in ("keluarga", "out", "exclude_nik", "log_file", "k3_model", "decisions"):
        given[key] = str(given[key]) if given[key] is not None else None
    try:
        settings, origin = resolve(config, given)
    except ConfigError as exc:
        _fail(str(exc), exc.exit_code)
    if show_config:
        for key, value in settings.items():
            shown = [str(v) for v in value] if isinstance(value, list) else value
            typer.echo(f"{key} = {json.dumps(shown, default=str)}  # {origin[key]}")
        raise typer.Exit(0)
    with contextlib.ExitStack() as stack:
        try:
            logger = stack.enter_context(
                run_logging(settings["log_format"], settings["log_file"], settings["quiet"])
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
    from dp4kit.io.writers import atomic_file

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
