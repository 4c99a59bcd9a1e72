"""More than one kab/kota: an input split per kab/kota (`split.py`), the memory budget and
spill area (`spill.py`), and `dp4kit combine` across regency runs (`combine.py`, `cross_regency.py`,
`cross_k3.py`; on Spark: `spark.py`)."""
