"""The K3 model: its parameters (m and u per comparison level, the prior), how they are saved,
and how they are learnt from the input without labels: u from random pairs, m and the share of
matching pairs by EM over the distinct comparison patterns of the blocked pairs (u fixed, as
Splink does)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from dp4kit.dedup.comparison import (
    BY_NAME,
    COMPARISONS,
    FAMILY_LEVEL,
    compare,
    compare_in_chunks,
    twins,
)
from dp4kit.dedup.features import Fields
from dp4kit.errors import InputFileError

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


def load_model(path: Path) -> Model:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read the K3 model: {exc}") from exc
    return Model.from_dict(data, str(path))


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


def _sample(codes: np.ndarray, count: int = TRAIN_PAIRS) -> np.ndarray:
    """At most `count` of the pair codes (distinct: no pair in two passes), drawn at random
    (seeded: reproducible), sorted."""
    if len(codes) <= count:
        return np.sort(codes)
    return np.sort(codes[np.random.default_rng(SEED).choice(len(codes), count, replace=False)])


def _training_levels(f: Fields, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Levels of the pairs `codes` (i * n + j), twins left out: known non-matches do not
    teach m."""
    li, ri = codes // f.n, codes % f.n
    levels = compare_in_chunks(f, li, ri)
    twin = twins(f, li, ri)
    return {k: v[~twin] for k, v in levels.items()}


def train(f: Fields, li: np.ndarray, ri: np.ndarray, passes: dict[str, np.ndarray]) -> Model:
    """The model for these people: u from random pairs; m by EM in the sessions above (each
    comparison from the first session that does not block on it); then the share of matching
    pairs among all blocked pairs by EM with m fixed. Each step learns from a random sample
    of at most TRAIN_PAIRS pairs."""
    a, b = random_pairs(f.n)
    u = estimate_u(compare(f, a, b))
    names = tuple(c.name for c in COMPARISONS)
    start = {c.name: np.geomspace(1, 50, len(c.levels)) for c in COMPARISONS}
    m = {k: v / v.sum() for k, v in start.items()}  # matches mostly agree at the top level
    family = _training_levels(f, _sample(passes["nkk"]))
    u_family = estimate_u(family) if len(family["nama"]) >= 100 else u
    learnt: dict[str, np.ndarray] = {}
    sessions = []
    for session_passes, left_out in SESSIONS:
        subset = _training_levels(f, _sample(np.concatenate([passes[p] for p in session_passes])))
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
    total = f.n * (f.n - 1) / 2
    blocked = _sample(li * f.n + ri)
    scale = len(li) / max(len(blocked), 1)  # each sampled pair stands for this many
    _, share, _ = em(_training_levels(f, blocked), u, total, min(0.5, 0.01 * f.n / total), m, (),
                     names, u_family, scale)  # fmt: skip
    counts = np.bincount(f.codes["nama_norm"] + 1)[1:]
    top = np.argsort(counts)[::-1][:10]
    common_names = pa.array(f.vocab["nama_norm"][top], pa.string()).to_pylist()
    common = [[name, int(counts[i])] for name, i in zip(common_names, top, strict=True)]
    trained = {"people": f.n, "blocked_pairs": len(li), "random_pairs": len(a),
               "sampled_pairs": len(blocked), "sessions": sessions}  # fmt: skip
    return Model({k: list(v) for k, v in m.items()}, u, share * total / f.n, u_family, trained,
                 common)  # fmt: skip


def default_model() -> Model:
    return load_model(DEFAULT_MODEL)
