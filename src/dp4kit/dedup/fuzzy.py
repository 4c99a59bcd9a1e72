"""Small graph and coding helpers for the duplicate stages (exact kinds and K3)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def value_codes(values: pa.Array) -> np.ndarray:
    """Small integer per distinct value (-1 for null), via Arrow dictionary encoding."""
    if isinstance(values, pa.ChunkedArray):  # one dictionary for all chunks, not one each
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph: the smallest position in each group labels it."""
    labels = np.arange(n)
    if len(left) == 0:
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        labels = labels[labels]  # pointer jumping
        if np.array_equal(labels, before):
            return labels
