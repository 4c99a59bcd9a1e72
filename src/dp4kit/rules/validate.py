"""Run pandera schemas over the canonical table and collect every failure as one tidy table.

pandera's `validate(lazy=True)` stacks every column of a failing row for frame-level checks;
with millions of rows and warnings that is slow, so dp4kit calls each pandera `Check` itself
(vectorized) and turns its boolean output into failure rows: file, row, column, rule,
severity, original value and a message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import columns as C
from dp4kit.canonical import CanonicalInput
from dp4kit.errors import SchemaFileError
from dp4kit.rules import catalog
from dp4kit.rules import checks as _checks  # noqa: F401  (registers the check methods)
from dp4kit.rules.nik import format_messages
from dp4kit.stages import in_threads

log = logging.getLogger(__name__)

FAILURE_SCHEMA = pa.schema([
    ("file", pa.string()), ("row", pa.int64()), ("column", pa.string()), ("rule", pa.string()),
    ("severity", pa.string()), ("value", pa.string()), ("message", pa.string()),
])  # fmt: skip
SPECIFIC_MESSAGES = {"NIK_FORMAT", "NKK_FORMAT"}


@dataclass(frozen=True)
class RuleCheck:
    """One pandera check with the rule it enforces."""

    code: str
    severity: str
    column: str | None  # the canonical column checked (None for frame-level checks)
    report_column: str | None  # the column named in reports
    required: bool  # False: skipped when the column is absent (e.g. kk_ditemukan)
    check: object  # pandera Check


def default_schema_path() -> Path:
    """The packaged schemas/dp4kit.yaml (or the repository copy in a source checkout)."""
    packaged = resources.files("dp4kit").joinpath("schemas/dp4kit.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "schemas" / "dp4kit.yaml"


@cache
def load_rule_checks(path: Path) -> tuple[RuleCheck, ...]:
    """The checks of one pandera YAML schema file, each tied to a rule code and severity."""
    import pandera.pandas as pdp

    try:
        schema = pdp.DataFrameSchema.from_yaml(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaFileError(f"{path}: cannot read the schema file: {exc.strerror}") from exc
    except Exception as exc:  # pandera/yaml raise many types for a bad file
        raise SchemaFileError(f"{path}: not a valid pandera schema: {exc}") from exc
    found = []
    for column_name, column in schema.columns.items():
        if column_name not in C.CANONICAL and column_name != "kk_ditemukan":
            raise SchemaFileError(f"{path}: column '{column_name}' is not a canonical column")
        for check in column.checks:
            found.append(_rule_check(check, column_name, column.required))
    for check in schema.checks:
        found.append(_rule_check(check, None, True))
    return tuple(found)


def _rule_check(check, column: str | None, required: bool) -> RuleCheck:
    code = str(check.name).upper()
    rule = catalog.RULES.get(code)
    if rule is not None:
        severity, report_column = rule.severity, rule.column
    else:
        severity = catalog.WARNING if check.raise_warning else catalog.ERROR
        report_column = column
    return RuleCheck(code, severity, column, report_column, required, check)


def _passed(rule: RuleCheck, frame: pd.DataFrame) -> np.ndarray | None:
    """Boolean pass mask over all rows, or None when the checked column is absent. A check
    that cannot run on the column (e.g. a text check on a number) is a schema error."""
    try:
        return _run_check(rule, frame)
    except SchemaFileError:
        raise
    except Exception as exc:  # an office schema's check failing on our data: name it
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        where = f"column '{rule.column}'" if rule.column else "the table"
        raise SchemaFileError(
            f"rule {rule.code}: the check cannot run on {where}: {detail[:200]}"
        ) from exc


def _run_check(rule: RuleCheck, frame: pd.DataFrame) -> np.ndarray | None:
    if rule.column is None:
        output = rule.check(frame).check_output
    else:
        if rule.column not in frame.columns:
            if rule.required:
                raise SchemaFileError(
                    f"rule {rule.code}: column '{rule.column}' is not in the table"
                )
            return None
        output = rule.check(frame[rule.column]).check_output
    if isinstance(output, pd.Series):
        if len(output) != len(frame):  # ignore_na dropped missing values: they pass
            output = output.reindex(frame.index, fill_value=True)
        return output.to_numpy(dtype=bool, na_value=False)
    return np.full(len(frame), bool(output))


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _values(data: CanonicalInput, column: str | None, positions: np.ndarray) -> pa.Array:
    """Original text of a column at the failing positions (the canonical value if derived)."""
    if column is None:
        return pa.nulls(len(positions), pa.string())
    idx = pa.array(positions)
    source = data.source_column.get(column)
    if source is not None and source in data.raw.column_names:
        return _flat(pc.take(data.raw[source], idx))
    values = pc.take(pa.array(data.table[column].array), idx)
    return _flat(pc.cast(values, pa.string()))


def run_checks(
    data: CanonicalInput, schema_paths: list[Path]
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """All failures (sorted by file and row) and per-row error / warning masks."""
    frame = data.table
    n = len(frame)
    is_error = np.zeros(n, dtype=bool)
    is_warning = np.zeros(n, dtype=bool)
    parts = []
    files, rows = frame[C.SOURCE_FILE].array, frame[C.SOURCE_ROW].array
    files, rows = pa.array(files), pa.array(rows)
    for path in schema_paths:
        rules = list(load_rule_checks(Path(path)))
        outcomes = in_threads(lambda rule: _passed(rule, frame), rules, n)
        for rule, passed in zip(rules, outcomes, strict=True):
            if passed is None or passed.all():
                continue
            positions = np.flatnonzero(~passed)
            if rule.severity == catalog.ERROR:
                is_error[positions] = True
            elif rule.severity == catalog.WARNING:
                is_warning[positions] = True
            values = _values(data, rule.report_column, positions)
            if rule.code in SPECIFIC_MESSAGES:
                message = pa.array(format_messages(values), pa.string())
            else:
                text = (
                    catalog.RULES[rule.code].explanation
                    if rule.code in catalog.RULES
                    else rule.code
                )
                message = pa.array(np.full(len(positions), text, dtype=object), pa.string())
            idx = pa.array(positions)
            k = len(positions)
            parts.append(pa.table({
                "file": pc.take(files, idx), "row": pc.take(rows, idx),
                "column": pa.array([rule.report_column] * k, pa.string()),
                "rule": pa.array([rule.code] * k, pa.string()),
                "severity": pa.array([rule.severity] * k, pa.string()),
                "value": values, "message": message,
            }, schema=FAILURE_SCHEMA))  # fmt: skip
    broken = data.raw_input.broken_rows
    if broken.num_rows:
        k = broken.num_rows
        parts.append(pa.table({
            "file": broken[C.SOURCE_FILE], "row": broken[C.SOURCE_ROW],
            "column": pa.nulls(k, pa.string()), "rule": pa.array(["BARIS_RUSAK"] * k),
            "severity": pa.array([catalog.ERROR] * k), "value": broken["teks"],
            "message": pa.array([catalog.RULES["BARIS_RUSAK"].explanation] * k),
        }, schema=FAILURE_SCHEMA))  # fmt: skip
    failures = pa.concat_tables(parts) if parts else FAILURE_SCHEMA.empty_table()
    failures = failures.sort_by(
        [("file", "ascending"), ("row", "ascending"), ("rule", "ascending")]
    )
    return failures, is_error, is_warning
