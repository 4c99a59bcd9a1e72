"""Text outputs: the K3 model (k3_model.json) and stale reviewers' decisions (dp4.csv is
appended a part at a time: `stream.CsvAppender`)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from dp4kit.dedup.k3 import K3Summary
from dp4kit.outputs.manifest import OutputFile
from dp4kit.outputs.privacy import neutralise_formulas


def write_k3_files(summary: K3Summary, root: Path) -> list[OutputFile]:
    """k3_model.json (the trained parameters, reusable with --k3-model) and, when reviewers'
    decisions name NIKs no longer in the input, keputusan_usang.csv."""
    model = summary.model.to_dict()
    (root / "k3_model.json").write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")  # fmt: skip
    outputs = [OutputFile("k3_model.json", len(model["comparisons"]))]
    stale = summary.stale_decisions
    if stale is not None and len(stale):
        table = neutralise_formulas(pa.Table.from_pandas(stale, preserve_index=False))
        pacsv.write_csv(table, root / "keputusan_usang.csv")
        outputs.append(OutputFile("keputusan_usang.csv", len(stale)))
    return outputs
