"""Terminal rendering with rich: summaries show row numbers, never identifiers."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dp4kit.reference import MASTER_VERSION
from dp4kit.report import ValidationReport
from dp4kit.stages import LABEL, running_after

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render_validation(report: ValidationReport, report_path: Path | None = None) -> None:
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


@contextlib.contextmanager
def stage_display() -> Iterator:
    """A spinner naming the running stage on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    console = Console(stderr=True)
    with console.status(LABEL["read"]) as status:
        yield lambda done: status.update(running_after(done))


def rows_went(counts: dict) -> str:
    """Where the input rows went, as one phrase of the manifest's counts."""
    return (f"{counts['input_rows']:,} rows = {counts['dp4']:,} dp4 + {counts['excluded']:,} "
            f"excluded + {counts['rejected']:,} rejected + {counts['removed']:,} removed + "
            f"{counts['held']:,} held")  # fmt: skip


def render_export(result) -> None:
    """A summary table on a terminal; one plain line when not (cron, CI)."""
    counts = result.manifest.counts
    verdict = "OK" if result.exit_code == 0 else "DONE WITH FINDINGS"
    line = (
        f"{verdict}: {rows_went(counts)}; {result.manifest.review_rows:,} to review; "
        f"{result.stages.get('total', 0):.1f} s -> {result.out_dir}"
    )
    if not sys.stdout.isatty():
        print(line)  # noqa: T201
        return
    console = Console(highlight=False)
    table = Table(title=f"DP4 written to {result.out_dir}", title_justify="left")
    table.add_column("Where rows went")
    table.add_column("Rows", justify="right")
    for key in ("dp4", "excluded", "rejected", "removed", "held"):
        table.add_row(key, f"{counts[key]:,}")
    table.add_row("[bold]input rows[/]", f"[bold]{counts['input_rows']:,}[/]")
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


def render_diff(result, out: Path | None) -> None:
    """Per-kecamatan table of voters added, removed and changed; totals line."""
    totals = result.to_dict()["totals"]
    line = (
        f"{totals['pemilih_lama']:,} -> {totals['pemilih_baru']:,} voters: "
        f"+{totals['ditambah']:,} added, -{totals['dihapus']:,} removed, "
        f"{totals['berubah']:,} changed (address {totals['berubah_alamat']:,}, name "
        f"{totals['berubah_nama']:,}, status {totals['berubah_status']:,}, other "
        f"{totals['berubah_data_lain']:,})" + (f"; lists in {out}" if out else "")
    )
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


def render_split(result) -> None:
    """One line per part, then the total."""
    for part in result.parts:
        broken = f" ({part.broken_rows:,} broken)" if part.broken_rows else ""
        print(f"  {part.file:<16} {part.rows + part.broken_rows:>12,} rows{broken}  "  # noqa: T201
              f"{part.kabkota}")  # fmt: skip
    verdict = "OK" if result.exit_code == 0 else "DONE WITH FINDINGS"
    print(f"{verdict}: {result.rows_read:,} rows in {len(result.parts)} parts "  # noqa: T201
          f"-> {result.out_dir}")  # fmt: skip


def render_each_run(outcome) -> None:
    """`export --each`: one line per run (its counts, or the error it stopped on)."""
    from dp4kit.logs import printable

    if outcome.error is not None:
        message = printable(outcome.error)
        print(f"{outcome.name}: FAILED (exit {outcome.exit_code}): {message}")  # noqa: T201
        return
    verdict = "OK" if outcome.exit_code == 0 else "DONE WITH FINDINGS"
    print(f"{outcome.name}: {verdict}: {rows_went(outcome.counts)} -> {outcome.out_dir}")  # noqa: T201
