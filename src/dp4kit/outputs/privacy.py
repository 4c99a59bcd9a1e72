"""Personal data in outputs: masking identifiers, neutralising spreadsheet formulas, file modes.

Masking is applied once, to whole tables, before any writer sees them (`masked_tables`, one
implementation behind `mask_table` and `mask_frame`), so a new output cannot forget it: every
run of 15 or more digits in every text column, wherever it stands (a NIK or NKK column,
NIK_AYAH, the raw text of a broken row), keeps its first 12 digits and loses the rest
(`320411060997****`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import IDENTIFIER_PATTERN, MASKED_IDENTIFIER

if TYPE_CHECKING:
    from dp4kit.dp4 import Dp4Tables

# Excel, LibreOffice and Google Sheets treat a cell starting with these as a formula (OWASP)
FORMULA_START = r"^([=+\-@\t\r])"

IDENTIFIER_LENGTH = 15  # the shortest digit run IDENTIFIER_PATTERN masks
PRIVATE_UMASK = 0o077  # files 0600, folders 0700
GROUP_UMASK = 0o027  # --group-readable: files 0640, folders 0750


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _longest(column: pa.ChunkedArray | pa.Array) -> int:
    return pc.max(pc.utf8_length(column)).as_py() or 0


def _masked(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """The one masking: a text column with every identifier-like digit run masked, or None
    when no value is long enough to hold one (nothing to do)."""
    if _longest(column) < IDENTIFIER_LENGTH:
        return None
    return pc.replace_substring_regex(column, IDENTIFIER_PATTERN, MASKED_IDENTIFIER)


def mask_table(table: pa.Table) -> pa.Table:
    """Every identifier-like digit run in every text column masked."""
    for i, field in enumerate(table.schema):
        masked = _masked(table.column(i)) if _is_text(field.type) else None
        if masked is not None:
            table = table.set_column(i, field, masked)
    return table


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`mask_table` for a pandas table with Arrow-backed text columns (others unchanged)."""
    out = frame.copy()
    for name in out.columns:
        dtype = out[name].dtype
        text = (
            isinstance(dtype, pd.StringDtype)
            or pd.api.types.is_object_dtype(dtype)
            or (isinstance(dtype, pd.ArrowDtype) and _is_text(dtype.pyarrow_dtype))
        )
        masked = _masked(pa.array(out[name].array, pa.string(), from_pandas=True)) if text else None
        if masked is not None:
            column = pd.Series(pd.arrays.ArrowExtensionArray(masked), index=out.index)
            out[name] = column if isinstance(dtype, pd.ArrowDtype) else column.astype(dtype)
    return out


def masked_tables(tables: Dp4Tables) -> Dp4Tables:
    """The tables as a public copy, made once before any writer sees them: every identifier
    in every text column masked (`320411060997****`), the raw text of rejected rows,
    NIK_AYAH/NIK_IBU and reviewers' stale decisions included."""
    k3 = tables.k3
    if k3 is not None and k3.stale_decisions is not None:
        k3 = replace(k3, stale_decisions=mask_frame(k3.stale_decisions))
    return replace(
        tables,
        dp4=mask_frame(tables.dp4),
        excluded=mask_frame(tables.excluded),
        rejected=mask_table(tables.rejected),
        duplicates=mask_frame(tables.duplicates),
        people=None if tables.people is None else mask_frame(tables.people),
        k3=k3,
    )


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """CSV cells that a spreadsheet would run as a formula get a leading `'` (OWASP CSV
    injection): `=HYPERLINK(…)` becomes `'=HYPERLINK(…)`. Quoting alone does not stop Excel."""
    for i, field in enumerate(table.schema):
        if _is_text(field.type):
            column = pc.replace_substring_regex(table.column(i), FORMULA_START, r"'\1")
            table = table.set_column(i, field, column)
    return table


@contextlib.contextmanager
def private_files(group_readable: bool = False) -> Iterator[None]:
    """Files and folders created in the block are 0600/0700 (0640/0750 when group-readable),
    whatever the caller's umask; the umask is restored afterwards."""
    previous = os.umask(GROUP_UMASK if group_readable else PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)
