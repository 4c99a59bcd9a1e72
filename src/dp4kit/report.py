"""Validation report: the result object and its stable JSON form (written by
`outputs/validation_report.py`); `ExportResult`, what `export` gives back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import __version__
from dp4kit.io.sources import SourceInfo
from dp4kit.reference import MASTER_VERSION
from dp4kit.rules import catalog

if TYPE_CHECKING:
    from dp4kit.dp4 import Dp4Tables
    from dp4kit.outputs.manifest import Manifest

REPORT_FORMAT_VERSION = 1
MAX_EXAMPLES = 5


@dataclass
class RuleSummary:
    code: str
    severity: str
    rows: int
    examples: list[dict]  # {"file": …, "row": …}: row numbers only, never identifiers

    def to_dict(self) -> dict:
        explanation = catalog.RULES[self.code].explanation if self.code in catalog.RULES else None
        return {"code": self.code, "severity": self.severity, "rows": self.rows,
                "explanation": explanation, "examples": self.examples}  # fmt: skip


@dataclass
class ValidationReport:
    """What `validate` found. `valid` is False when any row has an error."""

    rows: int
    rows_with_errors: int
    rows_with_warnings: int
    rules: list[RuleSummary]
    failures: pa.Table  # file, row, column, rule, severity, value, message
    sources: list[SourceInfo]
    profile: str
    as_of: str
    schemas: list[str]
    elapsed_seconds: float = 0.0
    error_mask: np.ndarray | None = field(default=None, repr=False)  # per canonical row

    @property
    def valid(self) -> bool:
        return self.rows_with_errors == 0

    @property
    def fingerprint(self) -> str:
        """sha256 over the input files' sha256 values, in the order given."""
        joined = "\n".join(s.sha256 for s in self.sources)
        return hashlib.sha256(joined.encode()).hexdigest()

    def exit_code(self, fail_on: str = "error") -> int:
        """0 clean, 1 errors (or warnings with fail_on='warning')."""
        if not self.valid:
            return 1
        return int(fail_on == "warning" and self.rows_with_warnings > 0)

    def to_dict(self) -> dict:
        """The stable JSON report (docs/validate.md): no identifiers, only row numbers."""
        return {
            "report_format": REPORT_FORMAT_VERSION,
            "tool": {"name": "dp4kit", "version": __version__},
            "valid": self.valid,
            "summary": {
                "rows": self.rows,
                "rows_with_errors": self.rows_with_errors,
                "rows_with_warnings": self.rows_with_warnings,
                "failures": self.failures.num_rows,
            },
            "rules": [r.to_dict() for r in self.rules],
            "inputs": [s.to_dict() for s in self.sources],
            "fingerprint": self.fingerprint,
            "profile": self.profile,
            "as_of": self.as_of,
            "region_master": MASTER_VERSION,
            "schemas": self.schemas,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


SEVERITY_ORDER = {s: i for i, s in enumerate(catalog.SEVERITIES)}


def summarize(failures: pa.Table) -> list[RuleSummary]:
    """Counts per rule (most severe first, then most rows) with the first example rows."""
    if failures.num_rows == 0:
        return []
    counts = failures.group_by(["rule", "severity"]).aggregate([("row", "count")])
    out = []
    for code, severity, n in zip(
        counts["rule"].to_pylist(),
        counts["severity"].to_pylist(),
        counts["row_count"].to_pylist(),
        strict=True,
    ):
        hits = failures.filter(pc.equal(failures["rule"], code)).slice(0, MAX_EXAMPLES)
        examples = [
            {"file": f, "row": r}
            for f, r in zip(hits["file"].to_pylist(), hits["row"].to_pylist(), strict=True)
        ]
        out.append(RuleSummary(code, severity, n, examples))
    return sorted(out, key=rule_order)


def rule_order(rule: RuleSummary) -> tuple:
    """Most severe first, then most rows, then by code."""
    return SEVERITY_ORDER.get(rule.severity, 9), -rule.rows, rule.code


def with_rule_rows(report: ValidationReport, code: str, hit: np.ndarray, table) -> ValidationReport:
    """The report with rule `code` failing exactly on the canonical rows `hit` (a partitioned
    export's NIK_GANDA, counted over the whole input), its warnings recounted."""
    from dataclasses import replace

    from dp4kit import columns as C

    failures = report.failures
    others = failures.filter(pc.not_equal(failures["rule"], code))
    warned = others.filter(pc.equal(others["severity"], catalog.WARNING))
    files = table[C.SOURCE_FILE].to_numpy(dtype=object)[hit]
    rows = table[C.SOURCE_ROW].to_numpy(dtype=np.int64)[hit]
    all_files = np.concatenate([warned["file"].to_numpy(zero_copy_only=False), files])
    all_rows = np.concatenate([warned["row"].to_numpy(zero_copy_only=False), rows])
    place = (pd.factorize(all_files)[0].astype(np.int64) << 40) | all_rows.astype(np.int64)
    rules = [r for r in report.rules if r.code != code]
    if hit.any():
        first = pd.DataFrame({"f": files, "r": rows}).sort_values(["f", "r"]).head(MAX_EXAMPLES)
        order = zip(first["f"].tolist(), first["r"].tolist(), strict=True)
        severity = catalog.RULES[code].severity
        rules.append(RuleSummary(code, severity, int(hit.sum()),
                                 [{"file": f, "row": r} for f, r in order]))  # fmt: skip
    rules.sort(key=rule_order)
    return replace(report, rules=rules, failures=others, rows_with_warnings=len(np.unique(place)))


def merge_reports(reports: list[ValidationReport], sources: list[SourceInfo]) -> ValidationReport:
    """One report from the reports of an input's parts (rule rows summed, first examples)."""
    from dataclasses import replace

    merged: dict[str, RuleSummary] = {}
    for report in reports:
        for rule in report.rules:
            seen = merged.setdefault(rule.code, RuleSummary(rule.code, rule.severity, 0, []))
            seen.rows += rule.rows
            seen.examples = sorted(seen.examples + rule.examples,
                                   key=lambda e: (e["file"], e["row"]))[:MAX_EXAMPLES]  # fmt: skip
    rules = sorted(merged.values(), key=rule_order)
    first = reports[0]
    return replace(
        first,
        rows=sum(r.rows for r in reports),
        rows_with_errors=sum(r.rows_with_errors for r in reports),
        rows_with_warnings=sum(r.rows_with_warnings for r in reports),
        rules=rules,
        failures=first.failures.slice(0, 0),
        sources=list(sources),
        elapsed_seconds=sum(r.elapsed_seconds for r in reports),
        error_mask=None,
    )


@dataclass
class ExportResult:
    """What `export` gives back: its folder, tables (in memory only), report and manifest."""

    out_dir: Path
    tables: Dp4Tables | None  # None from a partitioned export (never whole in memory)
    report: ValidationReport
    manifest: Manifest
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 done; 1 done but rows were rejected or held (cron should alert)."""
        counts = self.manifest.counts
        return int(counts.rejected > 0 or counts.held > 0)
