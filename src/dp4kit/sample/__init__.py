"""Synthetic SIAK data with ground truth (extra `[sample]`): one export (`siak.py`), its
values (`values.py`), a province of regencies with people planted across them (`regions.py`)."""
