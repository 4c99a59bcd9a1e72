"""Kepmendagri region master (idn-area-data, ODbL 1.0): packaged copy and vectorized lookups."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

MASTER_VERSION = "idn-area-data 4.0.1 (Kepmendagri 300.2.2-2138/2025)"
LEVELS = ("provinsi", "kabkota", "kecamatan", "desa")


@dataclass(frozen=True)
class RegionLevel:
    """Codes and names of one level of the master (e.g. every kecamatan)."""

    codes: pa.Array
    names: pa.Array

    def contains(self, codes: pa.Array | pa.ChunkedArray) -> pa.Array:
        """True where the code is in the master; null codes give False."""
        return pc.fill_null(pc.is_in(codes, value_set=self.codes), False)

    def name_of(self, codes: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Official names for the codes (null where unknown), looked up once per distinct code."""
        if isinstance(codes, pa.ChunkedArray):
            codes = codes.combine_chunks()
        encoded = pc.dictionary_encode(codes)
        names = pc.take(self.names, pc.index_in(encoded.dictionary, value_set=self.codes))
        return pc.take(names, encoded.indices)


@cache
def master() -> dict[str, RegionLevel]:
    """The region master, one RegionLevel per level, loaded once per process."""
    path = resources.files(__package__).joinpath("wilayah.parquet")
    with resources.as_file(path) as p:
        table = pq.read_table(p)
    levels = {}
    for level in LEVELS:
        part = table.filter(pc.equal(table["tingkat"], level))
        levels[level] = RegionLevel(part["kode"].combine_chunks(), part["nama"].combine_chunks())
    return levels
