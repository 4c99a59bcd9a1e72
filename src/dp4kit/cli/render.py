"""Terminal rendering with rich: summaries show row numbers, never identifiers."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dp4kit.outputs.manifest import Counts
from dp4kit.reference import MASTER_VERSION
from dp4kit.report import ValidationReport
from dp4kit.stages import LABEL, running_after

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render_validation(report: ValidationReport, report_path: Path | None = None,
                      code: int | None = None) -> None:  # fmt: skip
    console = Console(highlight=False)
    for source in report.sources:
        note = f"{source.path}: {source.rows:,} rows"
        if source.delimiter:
            note += f", delimiter {source.delimiter!r}, {source.encoding}"
        if source.sheet:
            note += f", sheet {source.sheet!r}"
        console.print(note)
        for warning in source.warnings:
            console.print(f"  [yellow]warning:[/] {warning}")
    if report.rules:
        table = Table(title="Findings per rule", title_justify="left")
        table.add_column("Rule")
        table.add_column("Severity")
        table.add_column("Rows", justify="right")
        table.add_column("Example rows")
        multi = len(report.sources) > 1
        for rule in report.rules:
            examples = ", ".join(
                f"{Path(e['file']).name}:{e['row']}" if multi else str(e["row"])
                for e in rule.examples
            )
            more = " …" if rule.rows > len(rule.examples) else ""
            table.add_row(
                rule.code,
                f"[{STYLE.get(rule.severity, '')}]{rule.severity}[/]",
                f"{rule.rows:,}",
                examples + more,
            )
        console.print(table)
    verdict = "[bold green]OK[/]" if report.valid else "[bold red]ERRORS[/]"
    console.print(
        f"{verdict} {report.rows:,} rows, {report.rows_with_errors:,} with errors, "
        f"{report.rows_with_warnings:,} with warnings ({report.elapsed_seconds:.2f} s; "
        f"profile {report.profile}, as of {report.as_of})"
    )
    console.print(f"region master: {MASTER_VERSION}", style="dim")
    if report_path is not None:
        console.print(f"report written to {report_path}")
    console.print(validate_next(report, report_path, code), markup=False, soft_wrap=True)


def validate_next(report: ValidationReport, report_path: Path | None, code: int | None) -> str:
    """One line after validate: what its exit code means and where to look next."""
    code = report.exit_code() if code is None else code
    every = f"every failure: {report_path}" if report_path else "every failure: add --report FILE"
    if code == 0:
        return ("exit 0: no row has an error; next: dp4kit export INPUT... --out DIR "
                "--election-date DATE")  # fmt: skip
    return (
        f"exit {code}: {report.rows_with_errors:,} rows with errors, "
        f"{report.rows_with_warnings:,} with warnings (rules and example rows above); {every}"
    )


@contextlib.contextmanager
def stage_display() -> Iterator:
    """A spinner naming the running stage on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    console = Console(stderr=True)
    with console.status(LABEL["read"]) as status:
        yield lambda done: status.update(running_after(done))


def rows_went(counts: Counts) -> str:
    """Where the input rows went, as one phrase of the manifest's counts."""
    return (f"{counts.input_rows:,} rows = {counts.dp4:,} dp4 + {counts.excluded:,} "
            f"excluded + {counts.rejected:,} rejected + {counts.removed:,} removed + "
            f"{counts.held:,} held")  # fmt: skip


def _present(manifest, out_dir: Path, *names: str) -> str | None:
    """The first of `names` (a file, or a folder as `excel/`) the run wrote, as a path."""
    paths = [o.path for o in manifest.outputs]
    for name in names:
        if any(p == name or (name.endswith("/") and p.startswith(name)) for p in paths):
            return str(Path(out_dir) / name)
    return None


def export_next(manifest, out_dir: Path, code: int) -> str:
    """One line after an export: what its exit code means and which files to open next."""
    counts = manifest.counts
    review = _present(manifest, out_dir, "duplicates.xlsx", "duplicates.parquet")
    rejected = _present(manifest, out_dir, "rejected.xlsx", "rejected.parquet")
    sheet = (lambda name: f", sheet {name}") if str(review).endswith(".xlsx") else lambda _: ""
    to_review = ""
    if manifest.review_rows and review:
        to_review = (f"; {manifest.review_rows:,} voters to review (same person, two NIKs?): "
                     f"{review}{sheet('TINJAUAN')}")  # fmt: skip
    lists = (_present(manifest, out_dir, "excel/", "dp4/"),
             _present(manifest, out_dir, "dak2.xlsx", "dak2.parquet"))  # fmt: skip
    lists = "the lists: " + " and ".join(p for p in lists if p)
    if not counts.rejected and not counts.held:
        return f"exit {code}: every row is accounted for, none rejected or held; {lists}{to_review}"
    listed = "dp4kit export lists them"  # aggregate writes no row lists
    found = [f"{counts.rejected:,} rows rejected (why: {rejected or listed})"]
    if counts.held:
        found.append(f"{counts.held:,} held, one NIK for different people (fix in SIAK: "
                     + (f"{review}{sheet('DITAHAN')})" if review else f"{listed})"))  # fmt: skip
    verdict = f"exit {code} (alert)" if code else f"exit 0 (within max_rejected_share); {lists}"
    return f"{verdict}: " + "; ".join(found) + to_review


def render_export(result) -> None:
    """A summary table on a terminal; one plain line when not (cron, CI)."""
    counts = result.manifest.counts
    verdict = "OK" if result.exit_code == 0 else "DONE WITH FINDINGS"
    line = (
        f"{verdict}: {rows_went(counts)}; {result.manifest.review_rows:,} to review; "
        f"{result.stages.get('total', 0):.1f} s -> {result.out_dir}"
    )
    after = export_next(result.manifest, result.out_dir, result.exit_code)
    if not sys.stdout.isatty():
        print(line)  # noqa: T201
        print(after)  # noqa: T201
        return
    console = Console(highlight=False)
    table = Table(title=f"DP4 written to {result.out_dir}", title_justify="left")
    table.add_column("Where rows went")
    table.add_column("Rows", justify="right")
    for key in ("dp4", "excluded", "rejected", "removed", "held"):
        table.add_row(key, f"{getattr(counts, key):,}")
    table.add_row("[bold]input rows[/]", f"[bold]{counts.input_rows:,}[/]")
    console.print(table)
    for title, part in (
        ("excluded by reason", "excluded_by_reason"),
        ("rejected by rule", "rejected_by_rule"),
        ("duplicates", "duplicates"),
    ):
        items = getattr(result.manifest, part)
        if items:
            console.print(f"{title}: " + ", ".join(f"{k} {v:,}" for k, v in items.items()))
    console.print(line)
    console.print(after)


def render_diff(result, out: Path | None) -> None:
    """Per-kecamatan table of voters added, removed and changed; totals line."""
    totals = result.to_dict()["totals"]
    line = (
        f"{totals['pemilih_lama']:,} -> {totals['pemilih_baru']:,} voters: "
        f"+{totals['ditambah']:,} added, -{totals['dihapus']:,} removed, "
        f"{totals['berubah']:,} changed (address {totals['berubah_alamat']:,}, name "
        f"{totals['berubah_nama']:,}, status {totals['berubah_status']:,}, other "
        f"{totals['berubah_data_lain']:,})"
        + (f"; exit 0: the lists: {Path(out) / 'diff.xlsx'}" if out else
           "; exit 0: add --out DIR for the lists (Parquet, diff.xlsx)")
    )  # fmt: skip
    if not sys.stdout.isatty():
        print(line)  # noqa: T201
        return
    console = Console(highlight=False)
    table = Table(title=f"DP4 changes: {result.old} -> {result.new}", title_justify="left")
    for title in ("Kecamatan", "Old", "New", "Added", "Removed", "Changed"):
        table.add_column(title, justify="left" if title == "Kecamatan" else "right")
    for row in result.summary.itertuples(index=False):
        table.add_row(f"{row.kode_kecamatan} {row.kecamatan}", f"{row.pemilih_lama:,}",
                      f"{row.pemilih_baru:,}", f"{row.ditambah:,}", f"{row.dihapus:,}",
                      f"{row.berubah:,}")  # fmt: skip
    console.print(table)
    console.print(line)


def render_combine(result) -> None:
    """One line: where the rows of every run went, and the cross-regency findings."""
    counts = result.manifest.counts
    kinds = result.findings.groupby("kind").size().to_dict() if len(result.findings) else {}
    found = ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) or "none"
    verdict = "OK" if result.exit_code == 0 else "DONE WITH FINDINGS"
    print(  # noqa: T201
        f"{verdict}: {len(result.runs)} runs, {rows_went(counts)}; cross-regency rows: {found} "
        f"-> {result.out_dir}"
    )
    out = Path(result.out_dir)
    after = (f"exit 0: no person on two regencies' lists, none rejected or held; the lists: "
             f"{out / 'dp4'} and {out / 'dak2.xlsx'}")  # fmt: skip
    if result.exit_code:
        after = (
            f"exit 1 (alert): {len(result.findings):,} rows on two regencies' lists, "
            f"{counts.rejected:,} rejected and {counts.held:,} held in the runs; "
            f"the findings: {out / 'duplicates.parquet'} (kind, kabkota_lain, reason)"
        )
    print(after)  # noqa: T201


def render_split(result) -> None:
    """One line per part, then the total."""
    for part in result.parts:
        broken = f" ({part.broken_rows:,} broken)" if part.broken_rows else ""
        print(f"  {part.file:<16} {part.rows + part.broken_rows:>12,} rows{broken}  "  # noqa: T201
              f"{part.kabkota}")  # fmt: skip
    verdict = "OK" if result.exit_code == 0 else "DONE WITH FINDINGS"
    print(f"{verdict}: {result.rows_read:,} rows in {len(result.parts)} parts "  # noqa: T201
          f"-> {result.out_dir}")  # fmt: skip
    then = (f"next: dp4kit export {Path(result.out_dir) / '*.parquet'} --each --out DIR "
            "--election-date DATE")  # fmt: skip
    after = f"exit 0: every row is in its kab/kota's part; {then}"
    if result.exit_code:
        other = next(p for p in result.parts if p.file == "lainnya.parquet")
        after = (f"exit 1 (alert): {other.rows + other.broken_rows:,} rows of no known kab/kota "
                 f"or broken are in {Path(result.out_dir) / other.file} (their export rejects "
                 f"them, with the reason); {then}")  # fmt: skip
    print(after)  # noqa: T201


def each_next(result) -> str:
    """One line after `export --each`: the worst exit code, what it means, what comes next."""
    then = f"next: dp4kit combine {Path(result.out_dir) / '*'} --out DIR"
    code = result.exit_code
    if code == 0:
        return f"exit 0: {len(result.runs)} runs, none with rows rejected or held; {then}"
    if code == 1:
        return (f"exit 1 (alert): runs with rows rejected or held (each run's rejected.xlsx and "
                f"duplicates.xlsx say why); {then}")  # fmt: skip
    failed = sum(run.error is not None for run in result.runs)
    return f"exit {code}: {failed} of {len(result.runs)} runs failed (above); fix and run again"


def render_each_run(outcome) -> None:
    """`export --each`: one line per run (its counts, or the error it stopped on)."""
    from dp4kit.runs.logs import printable

    if outcome.error is not None:
        message = printable(outcome.error)
        print(f"{outcome.name}: FAILED (exit {outcome.exit_code}): {message}")  # noqa: T201
        return
    verdict = "OK" if outcome.exit_code == 0 else "DONE WITH FINDINGS"
    print(f"{outcome.name}: {verdict}: {rows_went(outcome.counts)} -> {outcome.out_dir}")  # noqa: T201
