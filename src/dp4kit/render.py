"""Terminal rendering with rich: summaries show row numbers, never identifiers."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from dp4kit.reference import MASTER_VERSION
from dp4kit.report import ValidationReport

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
            table.add_row(rule.code, f"[{STYLE.get(rule.severity, '')}]{rule.severity}[/]",
                          f"{rule.rows:,}", examples + more)  # fmt: skip
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
