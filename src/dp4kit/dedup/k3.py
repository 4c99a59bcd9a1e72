"""The K3 stage: scored pairs from the linkage model, with reviewers' decisions applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dp4kit.dedup import K3_REVIEW
from dp4kit.dedup.blocking import member
from dp4kit.dedup.comparison import COMPARISONS
from dp4kit.dedup.decisions import Decisions, apply_decisions
from dp4kit.dedup.k3_partitions import link_partitioned
from dp4kit.dedup.k3_runner import Remote
from dp4kit.dedup.linkage import link
from dp4kit.dedup.model import Model

DECIDED_SAME = "diputuskan SAMA oleh petugas"


@dataclass
class K3Options:
    """How K3 pairs are found and acted on: match probabilities for review and merging,
    a saved model to reuse (None: train on the input), reviewers' decisions, and partitions
    (None: everyone compared at once; N: one of N partitions per blocking key at a time, `jobs`
    at once, with the same result)."""

    review: float = K3_REVIEW
    merge: float | None = None
    model: Model | None = None
    decisions: Decisions | None = None
    partitions: int | None = None
    work: Path | None = None  # the work folder K3 by partitions makes and removes
    jobs: int = 1  # partitions at once (worker processes)
    remote: Remote | None = None  # or the partitions' tasks run there (Spark)
    mapped: Path | None = None  # the Arrow file the people are memory-mapped from (workers map it)


@dataclass
class K3Summary:
    """What the K3 stage used and did, for the manifest and k3_model.json."""

    model: Model
    blocking: dict
    compared_pairs: int
    model_source: str = "input"
    strings_compared: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    stale_decisions: pd.DataFrame | None = None
    kept_apart: dict[str, int] = field(default_factory=dict)  # pairs the kin rules kept apart


@dataclass
class FoundK3:
    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    reason: np.ndarray
    weights: dict[str, np.ndarray]
    decided_same: np.ndarray  # pairs a reviewer decided are one person: always merged
    summary: K3Summary
    sibling: np.ndarray | None = None  # pairs of a sibling pattern: never merged by score


def find_k3(people: pa.Table, options: K3Options) -> FoundK3:
    """Pairs at or above the review probability, less the pairs decided BEDA, plus the pairs
    decided SAMA (probability 1)."""
    if options.partitions:
        pairs = link_partitioned(
            people, options.partitions, options.model, options.review, options.work,
            options.jobs, mapped=options.mapped, remote=options.remote,
        )  # fmt: skip
    else:
        pairs = link(people, options.model, options.review)
    n = people.num_rows
    left, right, probability = pairs.left, pairs.right, pairs.probability
    reason, weights, sibling = pairs.reason, dict(pairs.weights), pairs.never_merged()
    if not weights:
        weights = {c.name: np.empty(0) for c in COMPARISONS}
    decided_same = np.zeros(len(left), dtype=bool)
    summary = K3Summary(pairs.model, pairs.blocking, pairs.compared, pairs.model_source,
                        pairs.strings_compared, kept_apart=pairs.kept_apart)  # fmt: skip
    if options.decisions is not None and n:
        applied = apply_decisions(options.decisions, people["nik"].to_pandas())
        code = left * n + right
        keep = ~member(code, applied.different)
        left, right, probability, reason = left[keep], right[keep], probability[keep], reason[keep]
        sibling = sibling[keep]
        weights = {k: v[keep] for k, v in weights.items()}
        code = code[keep]
        same = applied.same_left * n + applied.same_right
        decided_same = member(code, same)
        probability = np.where(decided_same, 1.0, probability)
        reason = np.where(decided_same, DECIDED_SAME, reason).astype(object)
        extra = np.setdiff1d(same, code)
        if len(extra):
            left = np.concatenate([left, extra // n])
            right = np.concatenate([right, extra % n])
            probability = np.concatenate([probability, np.ones(len(extra))])
            reason = np.concatenate([reason, np.full(len(extra), DECIDED_SAME, dtype=object)])
            weights = {k: np.concatenate([v, np.full(len(extra), np.nan)])
                       for k, v in weights.items()}  # fmt: skip
            decided_same = np.concatenate([decided_same, np.ones(len(extra), dtype=bool)])
            sibling = np.concatenate([sibling, np.zeros(len(extra), dtype=bool)])
        summary.decisions = applied.counts
        summary.stale_decisions = applied.stale
    return FoundK3(left, right, probability, reason, weights, decided_same, summary, sibling)
