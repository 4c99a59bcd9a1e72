"""Personal data in outputs: masking identifiers, neutralising spreadsheet formulas, file modes.

Masking is applied once, to whole tables, before any writer sees them (`mask_table`,
`mask_frame`), so a new output cannot forget it: every run of 15 or more digits in every text
column, wherever it stands (a NIK or NKK column, NIK_AYAH, the raw text of a broken row), keeps
its first 12 digits and loses the rest (`320411060997****`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import IDENTIFIER_PATTERN, MASKED_IDENTIFIER

# Excel, LibreOffice and Google Sheets treat a cell starting with these as a formula (OWASP)
FORMULA_START = r"^([=+\-@\t\r])"

IDENTIFIER_LENGTH = 15  # the shortest digit run IDENTIFIER_PATTERN masks
PRIVATE_UMASK = 0o077  # files 0600, folders 0700
GROUP_UMASK = 0o027  # --group-readable: files 0640, folders 0750


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _longest(column: pa.ChunkedArray | pa.Array) -> int:
    return pc.max(pc.utf8_length(column)).as_py() or 0


def _map_text(table: pa.Table, pattern: str, replacement: str, min_length: int = 0) -> pa.Table:
    """The regex replacement on every text column; columns whose values are all shorter than
    `min_length` cannot match and are skipped (most SIAK columns are short codes)."""
    for i, field in enumerate(table.schema):
        if _is_text(field.type) and (not min_length or _longest(table.column(i)) >= min_length):
            column = pc.replace_substring_regex(table.column(i), pattern, replacement)
            table = table.set_column(i, field, column)
    return table


def mask_table(table: pa.Table) -> pa.Table:
    """Every identifier-like digit run in every text column masked."""
    return _map_text(table, IDENTIFIER_PATTERN, MASKED_IDENTIFIER, IDENTIFIER_LENGTH)


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
        if text:
            data = pa.array(out[name].array, pa.string(), from_pandas=True)
            if _longest(data) < IDENTIFIER_LENGTH:
                continue
            masked = pc.replace_substring_regex(data, IDENTIFIER_PATTERN, MASKED_IDENTIFIER)
            column = pd.Series(pd.arrays.ArrowExtensionArray(masked), index=out.index)
            out[name] = column if isinstance(dtype, pd.ArrowDtype) else column.astype(dtype)
    return out


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """CSV cells that a spreadsheet would run as a formula get a leading `'` (OWASP CSV
    injection): `=HYPERLINK(…)` becomes `'=HYPERLINK(…)`. Quoting alone does not stop Excel."""
    return _map_text(table, FORMULA_START, r"'\1")


@contextlib.contextmanager
def private_files(group_readable: bool = False) -> Iterator[None]:
    """Files and folders created in the block are 0600/0700 (0640/0750 when group-readable),
    whatever the caller's umask; the umask is restored afterwards."""
    previous = os.umask(GROUP_UMASK if group_readable else PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)
