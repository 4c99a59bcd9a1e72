"""Regenerate sample_data/ (committed, small) and its expected validation result.

Usage: python tools/make_sample_data.py
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pv

from dp4kit.config import Settings
from dp4kit.export.whole import export
from dp4kit.outputs.xlsx import write_xlsx_sheets
from dp4kit.sample.siak import generate, write_sample
from dp4kit.validation import validate

ROOT = Path(__file__).resolve().parents[1] / "sample_data"
AS_OF = dt.date(2024, 11, 27)
FAMILY = ["NO_KK", "ALAMAT", "NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"]


def expected(paths: list[Path], **kwargs) -> dict:
    """The parts of the JSON report that must not change: summary and rule counts."""
    report = validate(paths, as_of=AS_OF, **kwargs).to_dict()
    return {"summary": report["summary"], "rules": {r["code"]: r["rows"] for r in report["rules"]}}


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    csv_path = ROOT / "siak_sample.csv"
    write_sample(csv_path, rows=3000, seed=1)
    # The same kind of export as Excel, with the title rows an office puts above the header.
    table, _ = generate(rows=1000, seed=2)
    write_xlsx_sheets(
        ROOT / "siak_sample.xlsx",
        [("BIODATA", [["DATA PENDUDUK KABUPATEN BANDUNG"], ["Sumber: SIAK (sintetis)"]],
          list(table.column_names), table)],
    )  # fmt: skip
    # Two-table SIAK form: person file + family file joined on NO_KK.
    small, _ = generate(rows=300, seed=3, invalid_share=0.0, duplicate_share=0.0)
    people = small.drop_columns(FAMILY[1:])
    families = small.select(FAMILY)
    first = families.group_by("NO_KK", use_threads=False).aggregate([]).column("NO_KK")
    families = families.take(pc.index_in(first, families["NO_KK"]))
    pv.write_csv(people, ROOT / "siak_penduduk.csv")
    pv.write_csv(families, ROOT / "siak_keluarga.csv")
    with tempfile.TemporaryDirectory() as tmp:  # what `dp4kit export` must count
        exported = export([csv_path], Path(tmp) / "out", Settings(election_date=AS_OF, excel=False))
    counts = exported.manifest.counts.rows()
    result = {
        "as_of": AS_OF.isoformat(),
        "siak_sample.csv": expected([csv_path]) | {"export": counts},
        "siak_sample.xlsx": expected([ROOT / "siak_sample.xlsx"]),
        "siak_penduduk.csv+siak_keluarga.csv": expected(
            [ROOT / "siak_penduduk.csv"], keluarga=ROOT / "siak_keluarga.csv"
        ),
    }
    (ROOT / "expected_validation.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
