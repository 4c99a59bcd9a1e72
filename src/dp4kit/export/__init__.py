"""`dp4kit export`: in memory (`whole.py`), a kab/kota part at a time (`partitioned.py`,
its decisions over the whole input in `first_pass.py`), and one export per input (`each.py`)."""
