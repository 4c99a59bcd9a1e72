"""Reviewers' K3 decisions that persist from one run to the next.

A reviewer picks `SAMA` (the same person) or `BEDA` (different people) for each pair in the
`Keputusan` column of duplicates.xlsx's TINJAUAN sheet, or keeps a CSV of NIK pairs
(`nik_1,nik_2,keputusan`). An older duplicates.xlsx (one sheet, a `keputusan` column per
row) is read too: the rows of one K3 group marked `SAMA` are the same person; a row
marked `BEDA` is a different person from every other row of its group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dp4kit.errors import InputFileError

VERDICTS = ("SAMA", "BEDA")
PAIR_COLUMNS = ("nik_1", "nik_2", "keputusan")
REVIEW_SHEET = "TINJAUAN"  # duplicates.xlsx: a pair per row, NIK_1 and NIK_2 beside VERDICT
NIK_1, NIK_2, VERDICT = "NIK 1", "NIK 2", "Keputusan"


@dataclass
class Decisions:
    """Decided NIK pairs (nik_1 < nik_2), one verdict each."""

    pairs: pd.DataFrame  # nik_1, nik_2, keputusan

    @classmethod
    def empty(cls) -> Decisions:
        return cls(pd.DataFrame({c: pd.Series(dtype="string") for c in PAIR_COLUMNS}))


def _ordered(a: pd.Series, b: pd.Series, verdict: pd.Series) -> pd.DataFrame:
    a, b = a.astype("string").str.strip(), b.astype("string").str.strip()
    low = a.where(a < b, b)
    high = b.where(a < b, a)
    out = pd.DataFrame({"nik_1": low, "nik_2": high,
                        "keputusan": verdict.astype("string").str.strip().str.upper()})  # fmt: skip
    return out.dropna().query("nik_1 != nik_2")


def _from_pairs(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    return _ordered(frame["nik_1"], frame["nik_2"], frame["keputusan"])


def _from_duplicates(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Pairs implied by a filled-in duplicates.xlsx (K3 groups only)."""
    marked = frame[(frame["kind"] == "K3") & frame["keputusan"].notna()][
        ["group_id", "nik", "keputusan"]
    ]
    marked = marked.assign(keputusan=marked["keputusan"].astype("string").str.strip().str.upper())
    group = frame[frame["kind"] == "K3"][["group_id", "nik"]]
    same = marked[marked["keputusan"] == "SAMA"]
    pairs_same = same.merge(same, on="group_id", suffixes=("_a", "_b"))
    pairs_same = pairs_same[pairs_same["nik_a"] < pairs_same["nik_b"]]
    other = marked[marked["keputusan"] == "BEDA"].merge(group, on="group_id", suffixes=("_a", "_b"))
    found = pd.concat([
        _ordered(pairs_same["nik_a"], pairs_same["nik_b"], pairs_same["keputusan_a"]),
        _ordered(other["nik_a"], other["nik_b"], other["keputusan"]),
    ])  # fmt: skip
    return found


def _review_sheets(sheets: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The pairs of a duplicates.xlsx's TINJAUAN sheets (TINJAUAN (2), … continue it) as
    nik_1, nik_2, keputusan; None when the workbook has none."""
    found = []
    for name, sheet in sheets.items():
        if name != REVIEW_SHEET and not name.startswith(f"{REVIEW_SHEET} ("):
            continue
        first = sheet.iloc[:, 0].astype("string").str.strip()
        top = first.index[first == "No"]  # the header row, below the titles
        if not len(top):
            continue
        body = sheet.iloc[top[0] + 1 :]
        body.columns = [str(c).strip() for c in sheet.iloc[top[0]]]
        if not {NIK_1, NIK_2, VERDICT} <= set(body.columns):
            continue
        found.append(body[[NIK_1, NIK_2, VERDICT]].set_axis(list(PAIR_COLUMNS), axis=1))
    return pd.concat(found, ignore_index=True) if found else None


def decisions_of_sheets(sheets: dict[str, pd.DataFrame], path: Path | str) -> Decisions:
    """Decisions from a filled-in duplicates.xlsx's sheets (read without a header)."""
    frame = _review_sheets(sheets)
    first = next(iter(sheets.values()), pd.DataFrame())
    if frame is None and len(first):  # an older workbook: one sheet, a header row
        frame = first.iloc[1:].set_axis([str(c) for c in first.iloc[0]], axis=1)
    return decisions_of_frame(pd.DataFrame() if frame is None else frame, path)


def decisions_of_frame(frame: pd.DataFrame, path: Path | str) -> Decisions:
    """Decisions from a table of nik_1, nik_2, keputusan (a CSV), or of an older workbook."""
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if {"nik_1", "nik_2", "keputusan"} <= set(frame.columns):
        pairs = _from_pairs(frame, str(path))
    elif {"group_id", "nik", "kind", "keputusan"} <= set(frame.columns):
        pairs = _from_duplicates(frame, str(path))
    else:
        raise InputFileError(
            f"{path}: decisions need columns nik_1, nik_2, keputusan (or a duplicates.xlsx "
            "with its keputusan column filled in)"
        )
    wrong = sorted(set(pairs["keputusan"]) - set(VERDICTS))
    if wrong:
        raise InputFileError(f"{path}: keputusan must be SAMA or BEDA, got '{wrong[0]}'")
    if pairs["nik_1"].str.contains(r"\*", regex=True).any():
        raise InputFileError(f"{path}: the NIKs are masked; decisions need an unmasked file")
    conflict = pairs.groupby(["nik_1", "nik_2"])["keputusan"].nunique()
    if (conflict > 1).any():
        raise InputFileError(f"{path}: a pair is marked both SAMA and BEDA")
    return Decisions(pairs.drop_duplicates(["nik_1", "nik_2"]).reset_index(drop=True))


@dataclass
class AppliedDecisions:
    same_left: np.ndarray  # positions of SAMA pairs
    same_right: np.ndarray
    different: set[tuple[int, int]] | np.ndarray  # position codes (left * n + right) of BEDA
    counts: dict[str, int]
    stale: pd.DataFrame  # decisions about NIKs not among the compared people


def apply_decisions(decisions: Decisions, niks: pd.Series) -> AppliedDecisions:
    """Map decided NIK pairs to positions of `niks` (the compared people, one per NIK)."""
    n = len(niks)
    index = pd.Series(np.arange(n), index=pd.Index(niks.astype("string")))
    index = index[~index.index.duplicated()]
    pairs = decisions.pairs
    a = pairs["nik_1"].map(index)
    b = pairs["nik_2"].map(index)
    found = a.notna() & b.notna()
    left = np.minimum(a[found], b[found]).to_numpy(np.int64)
    right = np.maximum(a[found], b[found]).to_numpy(np.int64)
    same = (pairs["keputusan"][found] == "SAMA").to_numpy(bool)
    counts = {"sama": int(same.sum()), "beda": int((~same).sum()), "usang": int((~found).sum())}
    return AppliedDecisions(left[same], right[same], left[~same] * n + right[~same], counts,
                            pairs[~found].reset_index(drop=True))  # fmt: skip
