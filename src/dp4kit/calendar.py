"""The calendar, vectorised: how many days a month has (one table for readers and rules)."""

from __future__ import annotations

import numpy as np

DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def month_length(month: np.ndarray, leap: np.ndarray) -> np.ndarray:
    """Days in each `month` (1–12) of a leap year where `leap`; 0 for a month out of range."""
    ok = (month >= 1) & (month <= 12)
    return np.where(ok, DAYS_IN_MONTH[np.where(ok, month, 0)] + ((month == 2) & leap), 0)
