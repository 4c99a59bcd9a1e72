"""Runs and their folders: dated runs (`jobs.py`), one writer per folder (`locking.py`), logs
without identifiers (`logs.py`), and checking (`verify.py`) and comparing (`diff.py`) runs."""
