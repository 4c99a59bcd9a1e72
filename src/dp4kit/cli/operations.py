"""Commands around exports: `run` (unattended), `init-config`, `verify`, `diff`, `sample`.

They register on the one `app` of cli.py, with its helpers: flags in, one library call, rendering
and exit code out.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from dp4kit.cli.options import (
    Engine,
    InputPaths,
    Opt,
    OutputFormat,
    RunOpt,
    SparkMaster,
    command,
    fail,
    show,
)
from dp4kit.config import SETTINGS

RUN_EXIT_CODES = (
    "Exit codes: 0 done; 1 done, but more rows rejected than max_rejected_share allows, or rows "
    "held for a decision (alert); 2 bad settings, unreadable input, or another run holds the "
    "lock; 3 accounting or aggregates did not add up (nothing written)."
)


def _old_spelling(flag: str, new: str) -> typer.models.OptionInfo:
    return typer.Option(flag, hidden=True, help=f"Deprecated: use {new}.")


@command(epilog=RUN_EXIT_CODES)
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
    k3_partitions: RunOpt.k3_partitions = None,
    memory_limit: RunOpt.memory_limit = None,
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

      dp4kit run --config job.toml --log-format json \\
        --log-file /var/log/dp4kit.log --quiet

      DP4KIT_ELECTION_DATE=2024-11-27 dp4kit run -c job.toml --keep 5
    """
    given = {k: v for k, v in locals().items() if k not in ("config", "show_config")}
    given["inputs"] = inputs or None
    from dp4kit.config import ConfigError, resolve
    from dp4kit.errors import Dp4kitError
    from dp4kit.runs.jobs import log_failure, run_job
    from dp4kit.runs.logs import run_logging

    try:
        settings, origin = resolve(config, given)
    except ConfigError as exc:
        fail(str(exc), exc.exit_code)
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
            fail(str(exc), exc.exit_code)
        try:
            result = run_job(settings, logger)
        except Dp4kitError as exc:
            log_failure(logger, exc)
            raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(result.exit_code)


@command("init-config", epilog="Exit codes: 0 written; 2 the file exists (use --force).")
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
        fail(f"{path} exists; use --force to overwrite it", 2)
    try:
        with atomic_file(path) as tmp:
            tmp.write_text(EXAMPLE, encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}", 2)
    typer.echo(f"wrote {path}; edit inputs, election_date and out, then: dp4kit run -c {path}")


@command(
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
    from dp4kit.errors import Dp4kitError
    from dp4kit.runs.diff import run_folder
    from dp4kit.runs.verify import verify as run_verify

    try:
        result = run_verify(run_folder(folder))
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    if output_format is OutputFormat.json:
        show(result, output_format, None)
    elif result.problems:
        for problem in result.problems:
            typer.echo(f"FAIL {problem}")
        typer.echo(f"{len(result.problems)} problem(s) in {result.folder}")
        typer.echo("exit 1: the folder is not what its export wrote; do not hand it over: "
                   "export again into a new --out")  # fmt: skip
    else:
        typer.echo(
            f"OK: {result.files_checked} files match manifest.json and the accounting holds "
            f"({result.folder})"
        )
        typer.echo("exit 0: the folder is as its export wrote it, safe to hand over")
    raise typer.Exit(result.exit_code)


@command(epilog="Exit codes: 0 written; 2 a folder is not a dp4kit run, or is masked.")
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
    from dp4kit.errors import Dp4kitError
    from dp4kit.runs.diff import diff_runs, write_diff

    try:
        result = diff_runs(old, new)
        if out is not None:
            write_diff(result, out)
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    from dp4kit.cli.render import render_diff

    show(result, output_format, lambda: render_diff(result, out))


@command(epilog="Exit codes: 0 written; 2 usage error.")
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
    from dp4kit.sample.siak import write_sample

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
        fail(str(exc), exc.exit_code)
    typer.echo(
        f"wrote {written} rows to {out} (what each row should give: "
        f"{out.with_name(out.stem + '.truth.csv')}); next: dp4kit validate {out}"
    )


@command(
    epilog="Exit codes: 0 combined; 1 combined, with cross-regency findings or rows rejected or "
    "held (alert); 2 a run does not verify, is incompatible or unreadable; 3 the accounting or "
    "the aggregates did not add up (nothing written)."
)
def combine(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Export folders (or run roots: their latest), one per regency.", show_default=False
        ),
    ],
    out: Opt.out,
    excel: Opt.excel = True,
    group_readable: Opt.group_readable = False,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="Where the cross-regency scan runs: local (this machine, in partitions) or "
            "spark (as Spark tasks; needs pyspark, the spark extra). The result is the same.",
        ),
    ] = Engine.local,
    spark_master: SparkMaster = "local[*]",
    memory_limit: Opt.memory_limit = None,
    fuzzy: Annotated[
        bool,
        typer.Option(
            "--fuzzy/--no-fuzzy",
            help="Compare voters of different regencies with K3's model (a typo, words in "
            "another order, a swapped birth date; twins and namesakes with another mother kept "
            "apart), by partitions on this machine. --no-fuzzy: only the same normalised name, "
            "birth date and sex (faster; no mother's name).",
        ),
    ] = True,
) -> None:
    """Combine regency exports into one province or national result.

    Each run is verified against its manifest first, and runs made for another election date,
    region master or dp4kit version are refused. People on two regencies' lists are findings,
    each naming the regencies: one NIK for the same person (K1, the first run's row stays) or
    for different people (K2, all held), and one person under two NIKs (K3, for review: alike
    by K3's model, or with --no-fuzzy the same name, birth date and sex). Writes
    an export folder (dp4/, audit files, DAK2 and roll-ups for the whole area, dak2.xlsx,
    manifest.json) that verify and diff read; --excel writes dak2.xlsx only (each run has its
    DP4 workbooks).

    Example:

      dp4kit combine kab_bandung/latest kota_bandung/latest --out jabar_2024
    """
    from dp4kit.cli.render import render_combine
    from dp4kit.errors import Dp4kitError
    from dp4kit.regions.combine import combine as run_combine

    try:
        master = spark_master if engine == Engine.spark else None
        result = run_combine(runs, out, excel=excel, group_readable=group_readable,
                             memory_limit=memory_limit, spark_master=master,
                             fuzzy=fuzzy)  # fmt: skip
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    render_combine(result)
    raise typer.Exit(result.exit_code)


@command(
    epilog="Exit codes: 0 split; 1 split, with rows of no known kab/kota or broken rows in "
    "lainnya.parquet (its export rejects them); 2 unreadable input or missing columns; 3 the "
    "rows did not add up (nothing written)."
)
def split(
    inputs: InputPaths,
    out: Opt.out,
    profile: Opt.profile = "auto",
    sheet: Opt.sheet = None,
    group_readable: Opt.group_readable = False,
) -> None:
    """Split a province- or nation-wide export into one Parquet part per kab/kota.

    The input is read in blocks, so memory stays bounded however many rows it has. Each part
    keeps every row's source file and row number, so the rejected and duplicates files of its
    export point into the original file. Rows with no known kab/kota, and broken rows, go to
    lainnya.parquet. split.json lists the parts and proves that every row read is in one.
    Then export the parts (export --each) and combine the runs.

    Example:

      dp4kit split jabar.csv --out jabar_parts
      dp4kit export jabar_parts/*.parquet --each --jobs 2 --out runs \\
        --election-date 2024-11-27
      dp4kit combine runs/* --out jabar_2024
    """
    from dp4kit.cli.render import render_split
    from dp4kit.errors import Dp4kitError
    from dp4kit.regions.split import split as run_split

    try:
        result = run_split(inputs, out, profile, sheet, group_readable)
    except Dp4kitError as exc:
        fail(str(exc), exc.exit_code)
    render_split(result)
    raise typer.Exit(result.exit_code)
