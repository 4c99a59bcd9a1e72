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


def exclusion_reasons(table: pd.DataFrame, revoked: Iterable[str] = ()) -> np.ndarray:
    """One reason code per row (None = eligible). `table` is canonical with `usia` computed
    on the election date: completed years, so someone born on 29 February turns 17 on
    1 March in a common year, and someone whose 17th birthday is election day may vote."""
    n = len(table)
    active = table["status_aktif"].to_numpy(dtype=bool, na_value=True)
    citizen = table["kewarganegaraan"].to_numpy(dtype=object, na_value="WNI") != "WNA"
    nik = table["nik"].to_numpy(dtype=object, na_value="")
    revoked_set = np.array(sorted(set(revoked)), dtype=object)
    not_revoked = ~np.isin(nik, revoked_set) if len(revoked_set) else np.ones(n, bool)
    job = table["pekerjaan"].to_numpy(dtype=object, na_value="")
    age = table["usia"].to_numpy(dtype="float64", na_value=np.nan)
    married = np.isin(table["status_kawin"].to_numpy(dtype=object, na_value=""), EVER_MARRIED)
    of_age = (age >= VOTING_AGE) | married
    conditions = [~active, ~citizen, ~not_revoked, job == "TNI", job == "POLRI", ~of_age]
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
