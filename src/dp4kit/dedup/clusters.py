"""K3 clustering: pairs into groups for review, each row's best pair and its explanation, and
the groups merged (reviewers' SAMA decisions, or `--merge-fuzzy`); chains are never merged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dp4kit.dedup.comparison import COMPARISONS
from dp4kit.dedup.fuzzy import components
from dp4kit.dedup.k3 import FoundK3

MAX_GROUP = 4  # a K3 group of more people is a chain of look-alikes: flagged, never merged


@dataclass
class K3Groups:
    """Per valid row: group id (K3-000001), action (review, kept, removed), best pair's
    probability, reason and match weights."""

    group: np.ndarray
    action: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    weights: dict[str, np.ndarray]


def k3_groups(found: FoundK3, unique: np.ndarray, n_valid: int, merge: float | None) -> K3Groups:
    """Group the pairs `found` among the rows `unique` (positions among the n_valid rows)."""
    k3_group = np.full(n_valid, None, dtype=object)
    k3_action = np.full(n_valid, None, dtype=object)
    score = np.full(n_valid, np.nan)
    reason = np.full(n_valid, None, dtype=object)
    weights = {f"w_{c.name}": np.full(n_valid, np.nan) for c in COMPARISONS}
    if len(found.left):
        left, right = unique[found.left], unique[found.right]
        labels = components(n_valid, left, right)
        involved = np.unique(np.concatenate([left, right]))
        size = np.bincount(labels[involved], minlength=n_valid)[labels]
        chained = size > MAX_GROUP
        # Best pair (highest probability) and its explanation for each row in a group.
        sides = {"pos": np.concatenate([left, right]),
                 "score": np.tile(found.probability, 2), "reason": np.tile(found.reason, 2),
                 **{f"w_{k}": np.tile(v, 2) for k, v in found.weights.items()}}  # fmt: skip
        best = pd.DataFrame(sides).sort_values(["pos", "score"], ascending=[True, False])
        best = best.drop_duplicates("pos")
        at = best["pos"].to_numpy()
        gid = pd.factorize(labels[involved], sort=True)[0] + 1
        k3_group[involved] = np.char.add("K3-", np.char.zfill(gid.astype(str), 6))
        k3_action[involved] = "review"
        score[at] = best["score"].to_numpy()
        text = best["reason"].to_numpy(dtype=object)
        reason[at] = np.where(chained[at], "kelompok berantai " + size[at].astype(str) +
                              " orang, tidak digabung; " + text, text)  # fmt: skip
        for k in weights:
            weights[k][at] = best[k].to_numpy()
        strong = found.decided_same
        if merge is not None:
            sibling = np.zeros(len(left), bool) if found.sibling is None else found.sibling
            # a sibling pattern is merged only by a reviewer's SAMA
            strong = strong | ((found.probability >= merge) & ~chained[left] & ~sibling)
        merged = components(n_valid, left[strong], right[strong])
        in_merge = np.unique(np.concatenate([left[strong], right[strong]]))
        leader = merged[in_merge] == in_merge  # smallest position of each merge group
        k3_action[in_merge] = np.where(leader, "kept", "removed")
    return K3Groups(k3_group, k3_action, score, reason, weights)
