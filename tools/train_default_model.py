"""Train the packaged K3 model (src/dp4kit/dedup/k3_model_default.json), used for inputs too
small to learn from (fewer than MIN_TRAIN people) unless --k3-model gives another.

Usage: python tools/train_default_model.py [--rows 200000] [--seed 3]

It is trained, as `dp4kit export` would train it, on a generated export (seed 3 by default:
neither the tuning seed nor the held-out seed of benchmarks/bench_dedup.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from dp4kit.dedup.linkage import link
from dp4kit.dedup.model import DEFAULT_MODEL
from dp4kit.dp4 import person_table
from dp4kit.io.profiles import read_canonical
from dp4kit.sample.siak import write_sample
from dp4kit.validation import validate_canonical

AS_OF = dt.date(2024, 11, 27)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "siak.csv"
        write_sample(path, rows=args.rows, seed=args.seed, invalid_share=0.02,
                     duplicate_share=0.04)  # fmt: skip
        data = read_canonical([path], as_of=AS_OF)
        report = validate_canonical(data, AS_OF)
    people = person_table(data.table, np.flatnonzero(~report.error_mask))
    _, first = np.unique(people["nik"].to_numpy(zero_copy_only=False), return_index=True)
    model = link(people.take(pa.array(np.sort(first)))).model
    model.trained_on["source"] = f"dp4kit sample, {args.rows:,} rows, seed {args.seed}"
    partial = DEFAULT_MODEL.with_suffix(".json.tmp")  # a kill leaves the old model whole
    partial.write_text(json.dumps(model.to_dict(), indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")  # fmt: skip
    partial.replace(DEFAULT_MODEL)
    print(f"wrote {DEFAULT_MODEL}")


if __name__ == "__main__":
    main()
