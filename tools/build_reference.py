"""Rebuild the packaged region master from the idn-area-data CSV release.

Usage: python tools/build_reference.py ../shared/reference/idn-area-data-4.0.1
Writes src/dp4kit/reference/wilayah.parquet (one table: kode, nama, tingkat) and copies the
licence and source notes beside it (ODbL requires both to travel with the data).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

LEVELS = {
    "provinces": "provinsi",
    "regencies": "kabkota",
    "districts": "kecamatan",
    "villages": "desa",
}


def build(source: Path, target_dir: Path) -> None:
    parts = []
    for stem, level in LEVELS.items():
        t = pv.read_csv(
            source / f"{stem}.csv",
            convert_options=pv.ConvertOptions(
                column_types={"code": pa.string(), "name": pa.string()}
            ),
        ).select(["code", "name"])
        parts.append(
            pa.table({"kode": t["code"], "nama": t["name"], "tingkat": pa.array([level] * len(t))})
        )
    table = pa.concat_tables(parts)
    pq.write_table(table, target_dir / "wilayah.parquet", compression="zstd", compression_level=19)
    shutil.copy(source / "LICENSE.md", target_dir / "LICENSE.md")
    shutil.copy(source / "SOURCE.md", target_dir / "SOURCE.md")
    print(f"wrote {len(table)} regions to {target_dir / 'wilayah.parquet'}")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "src/dp4kit/reference")
