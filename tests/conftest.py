"""Shared fixtures: the committed sample data and hand-made SIAK rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
AS_OF = dt.date(2024, 11, 27)  # Pilkada 2024 voting day

# One valid resident of Sangkanhurip (32.04.11.2001), Kabupaten Bandung.
VALID = {
    "NIK": "3204110609970001",
    "NO_KK": "3204110101100001",
    "NAMA_LGKP": "BUDI SANTOSO",
    "JENIS_KLMIN": "1",
    "TMPT_LHR": "BANDUNG",
    "TGL_LHR": "06-09-1997",
    "AGAMA": "1",
    "STAT_KWN": "1",
    "JENIS_PKRJN": "88",
    "ALAMAT": "JL. MERDEKA NO. 1",
    "NO_RT": "1",
    "NO_RW": "2",
    "NO_PROP": "32",
    "NO_KAB": "4",
    "NO_KEC": "11",
    "NO_KEL": "2001",
    "FLAG_STATUS": "0",
}


def siak_rows(*changes: dict) -> pd.DataFrame:
    """One SIAK row per dict: the valid resident with those fields changed."""
    return pd.DataFrame([{**VALID, **c} for c in changes], dtype="string")


@pytest.fixture
def as_of() -> dt.date:
    return AS_OF
