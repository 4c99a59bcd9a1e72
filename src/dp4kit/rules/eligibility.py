"""Who may vote on election day (UU 7/2017 Pasal 198, UU 10/2016 Pasal 56), with reasons.

A potential voter is a citizen (WNI) who on voting day is 17 or older, or is or was married;
whose record is active (alive, resident); who is not active TNI or POLRI (JENIS_PKRJN 6 / 7);
and whose voting right has not been revoked by a court (the optional exclusion list).
Everyone else gets exactly one primary reason, the first that applies in REASONS order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.canonical import arrow_of, true_where

# Order matters: a dead record is reported as TIDAK_AKTIF even if the person was also 16.
REASONS = {
    "TIDAK_AKTIF": "record not active (FLAG_STATUS other than 0: died, moved, …)",
    "WNA": "not a citizen (kewarganegaraan WNA)",
    "DICABUT": "voting right revoked (NIK on the --exclude-nik list)",
    "TNI": "active TNI (JENIS_PKRJN 6)",
    "POLRI": "active POLRI (JENIS_PKRJN 7)",
    "BELUM_17": "under 17 on election day and never married",
}
EVER_MARRIED = ("KAWIN", "CERAI HIDUP", "CERAI MATI")
VOTING_AGE = 17


ELIGIBILITY_COLUMNS = (
    "nik",
    "status_aktif",
    "kewarganegaraan",
    "pekerjaan",
    "status_kawin",
    "usia",
)


def exclusion_reasons(table: pd.DataFrame, revoked: Iterable[str] = ()) -> np.ndarray:
    """One reason code per row (None = eligible). `table` is canonical with `usia` computed
    on the election date: completed years, so someone born on 29 February turns 17 on
    1 March in a common year, and someone whose 17th birthday is election day may vote."""
    inactive = true_where(pc.invert(pc.fill_null(arrow_of(table["status_aktif"]), True)))
    foreign = true_where(pc.equal(arrow_of(table["kewarganegaraan"]), "WNA"))
    revoked_set = pa.array(sorted(set(revoked)), pa.string())
    dicabut = true_where(pc.is_in(arrow_of(table["nik"]), value_set=revoked_set))
    job = arrow_of(table["pekerjaan"])
    married = true_where(
        pc.is_in(arrow_of(table["status_kawin"]), value_set=pa.array(EVER_MARRIED))
    )
    of_age = true_where(pc.greater_equal(arrow_of(table["usia"]), VOTING_AGE)) | married
    conditions = [inactive, foreign, dicabut, true_where(pc.equal(job, "TNI")),
                  true_where(pc.equal(job, "POLRI")), ~of_age]  # fmt: skip
    reasons = np.select(conditions, list(REASONS), default="")
    return np.where(reasons == "", None, reasons).astype(object)


def read_nik_list(text: str) -> list[str]:
    """NIKs from an exclusion file: one per line; blank lines and `#` comments ignored."""
    out = []
    for line in text.splitlines():
        value = line.split("#", 1)[0].strip().strip("'\"")
        if value:
            out.append(value)
    return out
