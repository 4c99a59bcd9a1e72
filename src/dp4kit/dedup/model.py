"""The K3 model: its parameters (m and u per comparison level, the prior), how they are saved,
and how they are learnt from the input without labels: u from random pairs, m and the share of
matching pairs by EM over the distinct comparison patterns of the blocked pairs (u fixed, as
Splink does)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dp4kit.dedup.blocking import distinct
from dp4kit.dedup.comparison import (
    BY_NAME,
    COMPARISONS,
    FAMILY_LEVEL,
    compare_in_chunks,
    kin,
)
from dp4kit.dedup.features import Fields
from dp4kit.errors import InputFileError
from dp4kit.stages import in_threads

RANDOM_PAIRS = 400_000  # pairs drawn to estimate u
TRAIN_PAIRS = 250_000  # blocked pairs each training step learns from (a random sample)
MIN_TRAIN = 1_000  # fewer people: the packaged model is used (too few pairs to learn from)
EM_ITERATIONS, EM_TOLERANCE = 100, 1e-7
SEED = 20241127
M_FLOOR = 1e-3  # no level is impossible for a match: keeps one odd value from vetoing a pair
DEFAULT_MODEL = Path(__file__).with_name("k3_model_default.json")
MODEL_FORMAT = "dp4kit-k3-model/3"  # 2: "nama agak mirip"; 3: "alamat sama di desa lain"


@dataclass
class Model:
    """Trained parameters: per comparison, m and u per level; duplicates per record (the
    prior, independent of the input's size); how it was trained. Saved as k3_model.json."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    matches_per_record: float
    # u among people of one KK: relatives share a family name, a mother, a birth place, so
    # agreeing on those is weaker evidence inside a family than between strangers
    u_family: dict[str, list[float]] = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)
    common_names: list = field(default_factory=list)  # TF summary: the most frequent names

    def weights(self, family: bool = False) -> dict[str, np.ndarray]:
        """log2(m/u) per level (u within a KK when `family`); the top level (full agreement)
        is never weaker evidence than a partial one, names equal after normalising never
        weaker than similar ones, and full disagreement never evidence for a match."""
        out = {}
        for k in self.m:
            u = self.u_family.get(k, self.u[k]) if family and k != "domisili" else self.u[k]
            w = np.log2(np.asarray(self.m[k]) / np.asarray(u))
            w[-1] = w.max()
            w[0] = min(w[0], 0.0)  # full disagreement is never evidence for a match
            if k == "nama":
                w[4] = w[:5].max()
            out[k] = w
        return out

    def to_dict(self) -> dict:
        return {
            "format": MODEL_FORMAT,
            "comparisons": {
                c.name: {
                    "levels": list(c.levels),
                    "m": [float(x) for x in self.m[c.name]],  # full precision: a reused
                    "u": [float(x) for x in self.u[c.name]],  # model gives the same result
                    "u_keluarga": [float(x) for x in self.u_family.get(c.name, self.u[c.name])],
                    "weight_bits": _round(self.weights()[c.name], 3),
                    "weight_bits_keluarga": _round(self.weights(True)[c.name], 3),
                }
                for c in COMPARISONS
                if c.name in self.m
            },  # fmt: skip
            "matches_per_record": float(self.matches_per_record),
            "trained_on": self.trained_on,
            "common_names": self.common_names,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "model") -> Model:
        made = data.get("format") if isinstance(data, dict) else None
        if made is not None and made != MODEL_FORMAT:
            raise InputFileError(f"{source}: a K3 model of another dp4kit version ({made}; this "
                                 f"one reads {MODEL_FORMAT}): train a new one by running "
                                 "without --k3-model")  # fmt: skip
        try:
            comps = data["comparisons"]
            m = {k: [float(x) for x in v["m"]] for k, v in comps.items()}
            u = {k: [float(x) for x in v["u"]] for k, v in comps.items()}
            u_family = {k: [float(x) for x in v.get("u_keluarga", v["u"])]
                        for k, v in comps.items()}  # fmt: skip
            prior = float(data["matches_per_record"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(f"{source}: not a dp4kit K3 model ({exc})") from exc
        for k in m:
            if k not in BY_NAME or len(m[k]) != len(BY_NAME[k].levels) or len(u[k]) != len(m[k]):
                raise InputFileError(f"{source}: comparison '{k}' does not match this dp4kit")
            if min(m[k] + u[k] + u_family[k]) <= 0 or len(u_family[k]) != len(m[k]):
                raise InputFileError(f"{source}: comparison '{k}' has a probability ≤ 0")
        return cls(m, u, prior, u_family, data.get("trained_on", {}),
                   data.get("common_names", []))  # fmt: skip


def _round(values, digits: int = 8) -> list[float]:
    return [round(float(v), digits) for v in values]


def model_of_json(text: str, source: str) -> Model:
    """A saved k3_model.json's text as a Model (one-line InputFileError if it is not one)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputFileError(f"{source}: cannot read the K3 model: {exc}") from exc
    return Model.from_dict(data, source)


def random_pairs(n: int, count: int = RANDOM_PAIRS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, n, count)
    b = rng.integers(0, n - 1, count)
    b = b + (b >= a)  # never a pair of a person with themselves
    return np.minimum(a, b), np.maximum(a, b)


def estimate_u(levels: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Share of each level among random pairs (nearly all non-matches), half-count smoothed."""
    u = {}
    for comp in COMPARISONS:
        seen = levels[comp.name]
        seen = seen[seen >= 0]
        counts = np.bincount(seen, minlength=len(comp.levels)) + 0.5
        u[comp.name] = list(counts / counts.sum())
    return u


def em(levels: dict[str, np.ndarray], u: dict[str, list[float]], total_pairs: float,
       prior: float, m: dict[str, np.ndarray], update: tuple[str, ...],
       use: tuple[str, ...], u_family: dict | None = None, scale: float = 1.0,
       ) -> tuple[dict[str, np.ndarray], float, int]:  # fmt: skip
    """EM over the distinct comparison patterns of `levels` (u fixed): the comparisons in
    `use` make the likelihood, those in `update` get new m; the match share is over
    `total_pairs` (pairs not in `levels` count as non-matches); pairs of one KK use
    `u_family`; each pair in `levels` stands for `scale` pairs (a sample). Returns m, share,
    iterations."""
    columns = (*use, "domisili") if "domisili" not in use else use
    # one integer per comparison pattern (levels + 1 < 16: four bits each), counted once
    code = np.zeros(len(levels["nama"]), dtype=np.int64)
    for k in columns:
        code = code * 16 + levels[k].astype(np.int64) + 1
    code = np.sort(code)
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    patterns, counts = code[starts], np.diff(np.r_[starts, len(code)]) * scale
    shifts = 4 * np.arange(len(columns) - 1, -1, -1)
    levels_of = ((patterns[:, None] >> shifts) & 15) - 1
    family = levels_of[:, columns.index("domisili")] == FAMILY_LEVEL
    m = {k: np.asarray(v, dtype=float) for k, v in m.items()}
    u_family = u_family or u
    log_u = {k: np.log(np.asarray(u[k])) for k in use}
    log_uf = {k: np.log(np.asarray(u_family.get(k, u[k]) if k != "domisili" else u[k]))
              for k in use}  # fmt: skip
    iteration = 0
    while iteration < EM_ITERATIONS:
        iteration += 1
        log_match = np.full(len(patterns), np.log(prior))
        log_non = np.full(len(patterns), np.log1p(-prior))
        for j, k in enumerate(use):
            lv = levels_of[:, j]
            ok = lv >= 0
            log_match[ok] += np.log(m[k][lv[ok]])
            log_non[ok] += np.where(family[ok], log_uf[k][lv[ok]], log_u[k][lv[ok]])
        expected = counts / (1 + np.exp(np.clip(log_non - log_match, -700, 700)))
        new_prior = min(max(expected.sum() / total_pairs, 1e-15), 0.999)
        change = abs(new_prior - prior) / prior
        for j, k in enumerate(use):
            if k not in update:
                continue
            lv = levels_of[:, j]
            ok = lv >= 0
            tally = np.bincount(lv[ok], weights=expected[ok], minlength=len(m[k]))
            new_m = np.maximum(tally / max(tally.sum(), 1e-300), M_FLOOR)
            new_m = new_m / new_m.sum()
            change = max(change, float(np.abs(new_m - m[k]).max()))
            m[k] = new_m
        prior = new_prior
        if change < EM_TOLERANCE:
            break
    return m, prior, iteration


# Training sessions (as Splink trains): each runs on the pairs of some blocking passes and
# leaves out the comparisons those passes force to agree, whose m it cannot learn there;
# what an earlier session learnt stays fixed in a later one. Session 1: the birth-date passes
# (date, sex and initial agree) teach names, birth place and residence. Session 2: people of
# one KK (residence agrees) teach birth dates and sex: a copy has the same date, a relative not.
SESSIONS = (
    (("tanggal_lahir", "tanggal_tertukar"), ("tanggal_lahir", "jenis_kelamin")),
    (("nkk",), ("domisili",)),
)


def mix(values: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each integer (splitmix64's finaliser, seeded): deterministic, and the
    same whatever else is hashed with it."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) ^ np.uint64(SEED)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def smallest(codes: np.ndarray, count: int = TRAIN_PAIRS) -> np.ndarray:
    """The `count` distinct pair codes of the smallest hash (ties by code), sorted: a random
    sample that depends on the pairs only, not on the order they come in, so the sample of
    a union is the sample of its parts' samples. Only the codes of the smallest hashes are
    made distinct (a partition, not a sort of them all): every code of the answer is among
    the codes hashed at most as high as `take` of them, once those hold `count` distinct."""
    take, hashed = 2 * count, None
    while take < len(codes):
        hashed = mix(codes) if hashed is None else hashed
        cut = np.partition(hashed, take - 1)[take - 1]
        candidates = distinct(codes[hashed <= cut])
        if len(candidates) >= count:
            return smallest_of_distinct(candidates, count)
        take *= 4  # many repeated codes: look further
    return smallest_of_distinct(distinct(codes), count)


def smallest_of_distinct(codes: np.ndarray, count: int = TRAIN_PAIRS) -> np.ndarray:
    """`smallest` of codes already distinct."""
    if len(codes) <= count:
        return np.sort(codes)
    hashed = mix(codes)
    cut = np.partition(hashed, count - 1)[count - 1]
    tied = np.sort(codes[hashed == cut])  # a hash shared at the cut: the smaller codes
    below = codes[hashed < cut]
    return np.sort(np.concatenate([below, tied[: count - len(below)]]))


PairLevels = Callable[..., dict[str, np.ndarray]]


def pair_levels(f: Fields, li: np.ndarray, ri: np.ndarray, twins_out: bool = True,
                ) -> dict[str, np.ndarray]:  # fmt: skip
    """Levels of the pairs (li, ri) of `f`'s people; with `twins_out`, twins left out: the
    pairs born on one day that `kin` keeps apart or leaves to a reviewer look like matches
    on every other field and would teach m a twin's profile. Other pairs it keeps apart
    (a brother and a sister born years apart) stay: EM needs to see such non-matches, or it
    takes "KK sama" alone for a match (precision 0.94 instead of 0.999 on the tuning set)."""
    levels = compare_in_chunks(f, li, ri)
    if not twins_out:
        return levels
    two_people, sibling = kin(f, li, ri)
    same_day = (f.y[li] == f.y[ri]) & (f.m[li] == f.m[ri]) & (f.d[li] == f.d[ri])
    kept = ~((two_people | sibling) & same_day)
    return {k: v[kept] for k, v in levels.items()}


def common_names(counts: np.ndarray, names: np.ndarray, top: int = 10) -> list:
    """The `top` most frequent names as [name, people], ties in name order."""
    order = np.lexsort((names, -counts))[:top]
    return [[str(names[i]), int(counts[i])] for i in order]


# the samples of blocked pairs training learns from, and the passes each is drawn from (None:
# every pass): u within a family, each session's passes, all blocked pairs
_DRAWN = {"family": ("nkk",), **{f"session{i}": passes for i, (passes, _) in
                                 enumerate(SESSIONS)}, "blocked": None}  # fmt: skip
# each drawn once: the session on the KK learns from the family's sample
SAMPLE_OF = {name: next(k for k, v in _DRAWN.items() if v == passes)
             for name, passes in _DRAWN.items()}  # fmt: skip
SAMPLES = {name: _DRAWN[name] for name in dict.fromkeys(SAMPLE_OF.values())}


def samples_of(passes: dict[str, np.ndarray], everyone: np.ndarray) -> dict[str, np.ndarray]:
    """The `SAMPLES` (sorted pair codes, `smallest`) of the pairs of each pass (codes), and of
    `everyone`: the distinct pairs of all passes."""
    return {name: smallest(everyone if drawn_from is None else
                           np.concatenate([passes[p] for p in drawn_from]))
            for name, drawn_from in SAMPLES.items()}  # fmt: skip


def training_pairs(n: int, samples: dict[str, np.ndarray],
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The pairs (left, right) `train` learns from, by step: random pairs (u), then the
    samples (`samples_of`)."""
    return {"random": random_pairs(n), **{k: (v // n, v % n) for k, v in samples.items()}}


def train(n: int, levels_of: PairLevels, blocked_pairs: int,
          steps: dict[str, tuple[np.ndarray, np.ndarray]], common: list,
          on_cores: bool = False) -> Model:  # fmt: skip
    """The model for n people: u from random pairs; m by EM in the sessions above (each
    comparison from the first session that does not block on it); then the share of matching
    pairs among all `blocked_pairs` by EM with m fixed. Each step learns from a sample of at
    most TRAIN_PAIRS pairs (`steps`: `training_pairs`). `levels_of`: the levels of pairs of
    people (by position), twins left out (`pair_levels`); `on_cores`: the steps' levels
    computed on every core at once (their memory too)."""
    done = in_threads(lambda step: levels_of(*steps[step], twins_out=step != "random"), steps,
                      n if on_cores else 0)  # fmt: skip
    levels = dict(zip(steps, done, strict=True))
    u = estimate_u(levels["random"])
    names = tuple(c.name for c in COMPARISONS)
    start = {c.name: np.geomspace(1, 50, len(c.levels)) for c in COMPARISONS}
    m = {k: v / v.sum() for k, v in start.items()}  # matches mostly agree at the top level
    family = levels[SAMPLE_OF["family"]]
    u_family = estimate_u(family) if len(family["nama"]) >= 100 else u
    learnt: dict[str, np.ndarray] = {}
    sessions = []
    for i, (_, left_out) in enumerate(SESSIONS):
        subset = levels[SAMPLE_OF[f"session{i}"]]
        pairs = len(subset["nama"])
        if pairs < 100:
            continue
        use = tuple(k for k in names if k not in left_out)
        # what an earlier session learnt stays fixed here: it anchors the classes
        update = tuple(k for k in use if k not in learnt)
        current = {**m, **learnt}
        found, share, iterations = em(subset, u, pairs, 0.01, current, update, use, u_family)
        sessions.append({"blocked_on": list(left_out), "learnt": list(update), "pairs": pairs,
                         "match_share": round(share, 6), "em_iterations": iterations})  # fmt: skip
        learnt.update({k: found[k] for k in update})
    m = {k: learnt.get(k, m[k]) for k in names}
    total = n * (n - 1) / 2
    blocked = steps["blocked"]
    scale = blocked_pairs / max(len(blocked[0]), 1)  # each sampled pair stands for this many
    _, share, _ = em(levels["blocked"], u, total, min(0.5, 0.01 * n / total), m, (), names,
                     u_family, scale)  # fmt: skip
    trained = {"people": n, "blocked_pairs": blocked_pairs,
               "random_pairs": len(steps["random"][0]),
               "sampled_pairs": len(blocked[0]), "sessions": sessions}  # fmt: skip
    return Model({k: list(v) for k, v in m.items()}, u, share * total / n, u_family, trained,
                 common)  # fmt: skip


def default_model() -> Model:
    return model_of_json(DEFAULT_MODEL.read_text(encoding="utf-8"), str(DEFAULT_MODEL))
