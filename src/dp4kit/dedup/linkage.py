"""Same person under two NIKs (K3): a Fellegi–Sunter model learnt from the input itself.

The stage reads as a linkage pipeline, one module per step:
1. `features`: the compared fields as integer codes and texts;
2. `blocking`: candidate pairs from independent passes, bounded per person;
3. `comparison`: a level per compared field (a missing value gives no evidence);
4. `model`: m, u and the prior, learnt without labels (EM) or loaded from a saved model;
5. here: each pair's match weight (the sum of log2(m/u), weighed by how common the name is)
   and match probability, the reviewers' reason, and `link`, which runs the steps. No Python
   loop runs over pairs or rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa

from dp4kit.dedup.blocking import block
from dp4kit.dedup.comparison import (
    AT_MOST,
    CANDIDATES,
    COMPARE_CHUNK,
    COMPARISONS,
    FAMILY_LEVEL,
    UNSURE,
    compare,
    kin,
    settle_strings,
)
from dp4kit.dedup.features import Fields, fields_of
from dp4kit.dedup.model import (
    MIN_TRAIN,
    Model,
    common_names,
    default_model,
    pair_levels,
    samples_of,
    train,
    training_pairs,
)
from dp4kit.stages import in_threads

log = logging.getLogger(__name__)

TF_MAX_GAIN = 4.0  # a rare name adds at most this many bits over the average agreement


def term_frequency(codes: np.ndarray) -> np.ndarray:
    """Share of people holding each person's value (NaN where missing)."""
    counts = np.bincount(codes + 1)
    return np.where(codes >= 0, counts[codes + 1] / max(len(codes), 1), np.nan)


def name_frequencies(f: Fields) -> dict[str, np.ndarray]:
    """Per person, the share of people holding their name and their mother's name."""
    return {"nama": term_frequency(f.codes["nama_norm"]),
            "nama_ibu": term_frequency(f.codes["ibu"])}  # fmt: skip


def score(model: Model, f: Fields, li: np.ndarray, ri: np.ndarray,
          levels: dict[str, np.ndarray], tf: dict[str, np.ndarray] | None = None,
          n: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Match probability and the match weight (bits) of each comparison, per pair. An UNSURE
    level weighs as the best level it can still reach: the probability is then an upper
    bound (what the pair could reach once strings are compared). `n`: the people linked
    (default: `f`'s; more when `f` is a partition of them, with `tf` over all of them)."""
    tf = tf if tf is not None else name_frequencies(f)
    n = f.n if n is None else n
    use_tf = n >= MIN_TRAIN  # a frequency in a handful of people is noise
    family = levels["domisili"] == FAMILY_LEVEL
    offset = np.where(family, 256, 0)  # into the second half of each table
    general, within = model.weights(), model.weights(family=True)
    parts = {}
    for comp in COMPARISONS:
        k, top = comp.name, len(comp.levels)
        # one table per comparison, indexed by the raw int8 level as a byte (-1 is 255:
        # missing, no evidence), first outside a KK, then within one
        table = np.zeros(512)
        for half, w in ((0, general[k]), (256, within[k])):
            table[half : half + top] = w
            table[half + AT_MOST : half + UNSURE + 1] = _unsure_weights(k, w)
        raw = levels[k]
        part = table[raw.view(np.uint8) + offset]
        if use_tf and comp.tf_levels:  # not inside a family: relatives share names
            at = np.flatnonzero(np.isin(raw, comp.tf_levels) & ~family)
            value_u = np.maximum(tf[k][li[at]], 1 / n)
            tf_weight = np.log2(np.asarray(model.m[k])[raw[at]] / value_u)
            part[at] = np.maximum(np.minimum(tf_weight, general[k].max() + TF_MAX_GAIN), 0)
        parts[k] = part
    # a small input is a sample of a larger registry: its prior is that of MIN_TRAIN people
    people = max(n, MIN_TRAIN)
    prior = min(2 * model.matches_per_record / (people - 1), 0.5)
    weight = np.log2(prior / (1 - prior)) + sum(parts.values())
    return 1 / (1 + np.exp2(-weight)), parts


def _reaches(model: Model, f: Fields, li: np.ndarray, ri: np.ndarray,
             levels: dict[str, np.ndarray], tf: dict[str, np.ndarray], n: int,
             threshold: float, idx: np.ndarray) -> np.ndarray:  # fmt: skip
    """Whether the pairs `idx` can still reach the threshold (their probability bound)."""
    subset = {k: v[idx] for k, v in levels.items()}
    return score(model, f, li[idx], ri[idx], subset, tf, n)[0] >= threshold


def _unsure_weights(name: str, weights: np.ndarray) -> np.ndarray:
    """The weight of an unsure level (AT_MOST + j, j = 0 … 9; UNSURE is j = 9): the best of
    the levels it can still reach (of CANDIDATES, those ≤ j)."""
    reach = CANDIDATES.get(name, (0,))
    return np.array([weights[[c for c in reach if c <= j] or list(reach)].max()
                     for j in range(UNSURE - AT_MOST + 1)])  # fmt: skip


def explain(levels: dict[str, np.ndarray], parts: dict[str, np.ndarray], tf: np.ndarray,
            n: int, strongest: int = 4) -> np.ndarray:  # fmt: skip
    """A short Indonesian reason per pair from its strongest comparisons, e.g. "nama sama
    (jarang), tanggal lahir sama, tempat lahir sama, KK berbeda". `tf`: the share of the n
    people holding the left person's name."""
    names = [c.name for c in COMPARISONS]
    if len(tf) == 0:
        return np.empty(0, dtype=object)
    weights = np.stack([np.abs(parts[k]) for k in names], axis=1)
    order = np.argsort(-weights, axis=1, kind="stable")[:, :strongest]
    rarity = np.where(tf * n <= 2, " (jarang)", np.where(tf >= 0.001, " (umum)", ""))
    rarity = rarity if n >= MIN_TRAIN else np.full(len(tf), "")
    labels = []
    for comp in COMPARISONS:
        text = np.asarray(comp.levels, dtype=object)[np.maximum(levels[comp.name], 0)]
        if comp.name == "nama":
            text = np.where(levels["nama"] >= 4, text + rarity, text)
        labels.append(np.where(levels[comp.name] >= 0, text, ""))
    table = np.stack(labels, axis=1)
    picked = np.take_along_axis(table, order, axis=1)
    shown = np.take_along_axis(weights, order, axis=1) > 0
    out = np.where(shown[:, 0], picked[:, 0], "")
    for k in range(1, picked.shape[1]):
        out = np.where(shown[:, k], out + ", " + picked[:, k], out)
    return out.astype(object)


# the rules that keep two people apart, for the manifest: `kin`, and unlike mothers
KEPT_APART = ("kembar_saudara_atau_jenis_kelamin", "nama_ibu_berbeda")
SIBLING_REASON = (
    "keluarga (KK atau ibu) dan tanggal lahir sama, nama depan beda satu huruf: "
    "mungkin saudara kembar, tidak digabung otomatis; "
)


@dataclass
class K3Pairs:
    """Scored candidate pairs (positions into the compared table)."""

    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    weights: dict[str, np.ndarray]
    reason: np.ndarray
    model: Model
    blocking: dict
    compared: int = 0
    model_source: str = "input"  # input (trained here), file (--k3-model) or packaged
    strings_compared: int = 0  # pairs that could reach the threshold: all strings compared
    sibling: np.ndarray | None = None  # per pair: a sibling pattern, never merged (None: none)
    kept_apart: dict[str, int] = field(default_factory=dict)  # pairs a rule kept apart

    def never_merged(self) -> np.ndarray:
        """Per pair: for review only, whatever its probability (`comparison.kin`)."""
        return np.zeros(len(self.left), bool) if self.sibling is None else self.sibling


def link(table: pa.Table, model: Model | None = None, threshold: float = 0.5,
         apart: np.ndarray | None = None) -> K3Pairs:  # fmt: skip
    """K3 pairs with a match probability ≥ threshold among `table`'s people (distinct NIKs).
    Without `model`, one is trained on the table (the packaged one when it is too small).
    Twins, people of different sex by record and NIK, and namesakes (both mothers' names
    recorded and unlike) are never linked; a sibling pattern is never merged (`kin`).
    `apart`: a number per person (a regency's run): blocking and training see every pair,
    but only pairs of people of different numbers are scored and counted as compared."""
    f = fields_of(table)
    if f.n < 2:
        return no_pairs(model)
    li, ri, blocking, passes = block(f)
    source = "file"
    if model is None:
        source = "input" if f.n >= MIN_TRAIN else "packaged"
        counts = np.bincount(f.codes["nama_norm"] + 1, minlength=len(f.vocab["nama_norm"]))
        common = common_names(counts[1:], f.vocab["nama_norm"][:-1])
        if f.n >= MIN_TRAIN:
            steps = training_pairs(f.n, samples_of(passes, li * f.n + ri))
            model = train(f.n, partial(pair_levels, f), len(li), steps, common, on_cores=True)
        else:
            model = default_model()
    del passes
    if apart is not None:
        across = apart[li] != apart[ri]
        li, ri = li[across], ri[across]
    left, right, probability, parts, reason, strings, sibling, kept = score_pairs(
        model, f, li, ri, name_frequencies(f), threshold
    )
    left_out = sum(s["pairs_not_compared"] for s in blocking.values())
    if left_out:
        log.info("K3: %d pairs in large blocks were not compared", left_out)
    return K3Pairs(left, right, probability, parts, reason, model, blocking, len(li), source,
                   strings, sibling, kept)  # fmt: skip


def no_pairs(model: Model | None) -> K3Pairs:
    """K3 among fewer than two people."""
    empty = np.empty(0, np.int64)
    source = "file" if model else "packaged"
    return K3Pairs(empty, empty, np.empty(0), {}, np.empty(0, object), model or default_model(),
                   {}, 0, source)  # fmt: skip


def score_pairs(
    model: Model,
    f: Fields,
    li: np.ndarray,
    ri: np.ndarray,
    tf: dict[str, np.ndarray],
    threshold: float,
    n: int | None = None,
) -> tuple:
    """The pairs (li, ri) of `f`'s people with a match probability ≥ threshold: (left, right,
    probability, match weights, reason, pairs whose strings were compared, sibling pattern
    per pair: never merged, `kin`; and per rule, the pairs at or above the threshold that it
    kept apart: KEPT_APART). `tf` and `n`: the
    name frequencies and size of everyone linked (default: `f`'s people).

    Pairs are scored a chunk at a time: first on what integer codes settle, which bounds the
    probability from above; strings are compared only for the pairs that can still reach
    the threshold (an exact shortcut: no pair that could reach it is dropped)."""
    n = f.n if n is None else n

    def chunk(start: int) -> tuple:
        left, right = li[start : start + COMPARE_CHUNK], ri[start : start + COMPARE_CHUNK]
        levels = compare(f, left, right, strings=False)
        # names first (the strongest evidence), then the other strings, each time only for
        # the pairs that can still reach the threshold
        for which in (("nama",), ("tempat_lahir", "domisili", "nama_ibu")):
            bound, _ = score(model, f, left, right, levels, tf, n)
            hopeful = np.flatnonzero(bound >= threshold)
            left, right = left[hopeful], right[hopeful]
            levels = {k: v[hopeful] for k, v in levels.items()}
            worth = partial(_reaches, model, f, left, right, levels, tf, n, threshold)
            settle_strings(f, left, right, levels, which, worth)
        probability, parts = score(model, f, left, right, levels, tf, n)
        two_people, sibling = kin(f, left, right)
        reached, namesake = probability >= threshold, levels["nama_ibu"] == 0
        apart = (int((reached & two_people).sum()), int((reached & namesake & ~two_people).sum()))
        probability[two_people | namesake] = 0.0
        keep = np.flatnonzero(probability >= threshold)
        return (left[keep], right[keep], probability[keep], sibling[keep],
                {k: v[keep] for k, v in levels.items()},
                {k: v[keep] for k, v in parts.items()}, len(left), apart)  # fmt: skip

    # chunks on every core (NumPy, Arrow and rapidfuzz release the GIL), results in order
    starts = range(0, max(len(li), 1), COMPARE_CHUNK)
    found = in_threads(chunk, starts, len(li))
    strings = sum(x[6] for x in found)
    apart = {KEPT_APART[i]: sum(x[7][i] for x in found) for i in range(2)}
    left, right, probability, sibling = (np.concatenate([x[i] for x in found]) for i in range(4))
    levels, parts = ({k: np.concatenate([x[i][k] for x in found]) for k in found[0][i]}
                     for i in (4, 5))  # fmt: skip
    reason = explain(levels, parts, tf["nama"][left], n)
    reason = np.where(sibling, SIBLING_REASON + reason.astype(str), reason).astype(object)
    return left, right, probability, parts, reason, strings, sibling, apart
