"""Build the DP4 from a validated canonical table: reject, deduplicate, decide eligibility.

Every input row ends in exactly one place: the DP4 list, `excluded` (valid, unique, not a
voter, with a reason), `rejected` (validation errors), `removed` (a duplicate of a kept row)
or `held` (an identity conflict for Dukcapil). `build_dp4` works on tables only; writing files
is `export.py`'s job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import columns as C
from dp4kit.canonical import CanonicalInput, arrow_of, map_codes, per_unique
from dp4kit.dedup.clusters import K3Groups, k3_groups
from dp4kit.dedup.exact import ExactResult, exact_tiers
from dp4kit.dedup.k3 import K3Options, K3Summary, find_k3
from dp4kit.dedup.normalise import given_name, normalise_names
from dp4kit.report import ValidationReport
from dp4kit.rules.eligibility import ELIGIBILITY_COLUMNS, REASONS, exclusion_reasons
from dp4kit.stages import StageTimer, give_back_memory, in_threads

# KPU list forms: B belum kawin, S sudah kawin, P pernah kawin.
KPU_STATUS = {"BELUM KAWIN": "B", "KAWIN": "S", "CERAI HIDUP": "P", "CERAI MATI": "P"}
DP4_COLUMNS = (
    "nik",
    "nkk",
    "nama",
    "tempat_lahir",
    "tanggal_lahir",
    "usia",
    "jenis_kelamin",
    "status_kawin",
    "disabilitas",
    "alamat",
    "rt",
    "rw",
    "kode_provinsi",
    "provinsi",
    "kode_kabkota",
    "kabkota",
    "kode_kecamatan",
    "kecamatan",
    "kode_desa",
    "desa",
    C.SOURCE_FILE,
    C.SOURCE_ROW,
    "perlu_tinjauan",
    "kelompok_tinjauan",
)
POPULATION_COLUMNS = (
    "nkk", "jenis_kelamin", "usia", "status_kawin", "agama", "pendidikan", "pekerjaan",
    "disabilitas", "kode_provinsi", "kode_kabkota", "kode_kecamatan", "kode_desa",
)  # fmt: skip
SORT_KEYS = ["kode_kabkota", "kode_kecamatan", "kode_desa", "rw", "rt", "nama", C.SOURCE_ROW]
ACTIONS = ("kept", "removed", "held", "review")


@dataclass
class Dp4Tables:
    """The outcome of `build_dp4`, one table per place a row can end in."""

    dp4: pd.DataFrame
    excluded: pd.DataFrame  # DP4 columns + alasan
    rejected: pa.Table  # source file/row, rule codes, original values
    duplicates: pd.DataFrame  # every row in a finding: kind, group_id, action, score, reason
    input_rows: int
    removed: int
    held: int
    stages: dict[str, float] = field(default_factory=dict)
    # valid, unique, active residents (what DAK2 counts), with `pemilih` = on the DP4
    population: pd.DataFrame | None = None
    k3: K3Summary | None = None  # the K3 model used, blocking figures, decisions applied
    # what K3 compares of each DP4 voter that the DP4 does not carry (PERSON_EXTRA), row for
    # row with `dp4`: with the DP4's columns, the person file combine compares across runs
    people: pd.DataFrame | None = None

    @property
    def accounting(self) -> dict:
        """input rows = dp4 + excluded + rejected + removed + held, with each term."""
        terms = {
            "dp4": len(self.dp4),
            "excluded": len(self.excluded),
            "rejected": self.rejected.num_rows,
            "removed": self.removed,
            "held": self.held,
        }
        return {
            "input_rows": self.input_rows,
            **terms,
            "balanced": self.input_rows == sum(terms.values()),
        }


DEDUP_COLUMNS = (
    "nik",
    "nkk",
    "nama",
    "tempat_lahir",
    "alamat",
    "tanggal_lahir",
    "jenis_kelamin",
    "status_aktif",
    "kode_desa",
    "nama_ibu",
)
# a DP4 voter's K3 columns: the DP4's own and these (every one on the list is active)
PERSON_EXTRA = ("nama_ibu",)
PERSON_COLUMNS = tuple(c for c in DEDUP_COLUMNS if c != "status_aktif")


@per_unique
def _squeeze(values: pa.Array) -> pa.Array:
    """Upper case without spaces or punctuation: 'Jl. Merdeka 1' = 'JL MERDEKA 1'."""
    return pc.utf8_upper(pc.replace_substring_regex(values, r"\W+", ""))


def person_table(frame: pd.DataFrame, positions: np.ndarray) -> pa.Table:
    """The columns people are compared on, for the rows at `positions` (Arrow)."""
    idx = pa.array(positions)
    empty = pa.nulls(len(positions), pa.string())

    def taken(c: str) -> pa.ChunkedArray | pa.Array:
        return pc.take(arrow_of(frame[c]), idx) if c in frame.columns else empty

    n = len(positions)
    cols = dict(zip(DEDUP_COLUMNS, in_threads(taken, DEDUP_COLUMNS, n), strict=True))
    work = [(normalise_names, "nama"), (normalise_names, "tempat_lahir"), (_squeeze, "alamat"),
            (normalise_names, "nama_ibu")]  # fmt: skip
    name, place, alamat, ibu = in_threads(lambda job: job[0](cols[job[1]]), work, n)
    return pa.table({**cols, "nama_norm": name, "nama_inti": given_name(name),
                     "tempat_lahir_norm": place, "alamat_bersih": alamat,
                     "nama_ibu_norm": ibu})  # fmt: skip


def build_dp4(
    data: CanonicalInput,
    report: ValidationReport,
    election_date: dt.date,
    revoked: Iterable[str] = (),
    merge_fuzzy: float | None = None,
    on_stage: Callable[[str], None] | None = None,
    k3: K3Options | None = None,
) -> Dp4Tables:
    """Reject error rows, resolve duplicates, and split the rest into DP4 and excluded.

    `data.table["usia"]` must be the age on `election_date` (read with as_of=election_date)."""
    stage = StageTimer(on_stage)
    table = data.table
    valid_pos = np.flatnonzero(~report.error_mask)

    people = person_table(table, valid_pos)
    n_valid = len(valid_pos)
    exact = exact_tiers(table, data.raw, people, valid_pos)
    stage("dedup_exact")

    # Fuzzy K3 among the unique persons left (kept rows and rows with a unique NIK). A kept
    # row of an exact group can also be in a K3 group: it is listed once per finding.
    k3 = k3 or K3Options(merge=merge_fuzzy)
    unique = np.flatnonzero((exact.action == None) | (exact.action == "kept"))  # noqa: E711
    if len(unique) < people.num_rows:
        people = people.take(pa.array(unique))  # the others' columns let go
    found = find_k3(people, k3)
    groups = k3_groups(found, unique, n_valid, k3.merge)
    del people
    give_back_memory()  # K3's working memory, freed in its threads' arenas
    stage("dedup_fuzzy")
    return finish_dp4(data, report, Decided(exact, groups, found.summary), revoked, stage)


@dataclass
class Decided:
    """What deduplication decided for each valid row (in input order): the exact tiers, the
    K3 groups, and what K3 used. `build_dp4` decides over one input; a partitioned export
    decides over all of them and hands each part its rows' share."""

    exact: ExactResult
    groups: K3Groups
    k3: K3Summary | None


def finish_dp4(data: CanonicalInput, report: ValidationReport, decided: Decided,
               revoked: Iterable[str], stage: StageTimer) -> Dp4Tables:  # fmt: skip
    """The output tables from the rows' decisions: eligibility, list order, duplicates."""
    table = data.table
    valid_pos = np.flatnonzero(~report.error_mask)
    rejected = _rejected_table(data, report)
    n_valid = len(valid_pos)
    exact, groups = decided.exact, decided.groups
    k3_group, k3_action = groups.group, groups.action
    removed = (exact.action == "removed") | (k3_action == "removed")
    held = exact.action == "held"

    on_list = ~removed & ~held
    positions = valid_pos[on_list]
    reasons = exclusion_reasons(table[list(ELIGIBILITY_COLUMNS)].take(positions), revoked)
    stage("eligibility")

    # Sort once on the sort keys only, then take each output's columns from the source once.
    order = _list_order(table[SORT_KEYS].take(positions))
    positions, reasons = positions[order], reasons[order]
    review_sorted = (k3_action == "review")[on_list][order]
    group_sorted = np.where(k3_action == "review", k3_group, None)[on_list][order]
    eligible = reasons == None  # noqa: E711
    columns = [c for c in DP4_COLUMNS if c in table.columns]
    dp4 = _dp4_shape(_rows(table, columns, positions[eligible]), group_sorted[eligible],
                     review_sorted[eligible])  # fmt: skip
    excluded = _dp4_shape(_rows(table, columns, positions[~eligible]), group_sorted[~eligible],
                          review_sorted[~eligible]).assign(alasan=reasons[~eligible])  # fmt: skip
    extra = [c for c in PERSON_EXTRA if c in table.columns]
    people = _rows(table, extra, positions[eligible])
    k3_found = k3_group != None  # noqa: E711
    duplicates = _duplicates_table(
        table,
        valid_pos,
        [
            (
                exact.kind,
                exact.group,
                exact.action,
                np.full(n_valid, np.nan),
                np.full(n_valid, None),
            ),
            (np.where(k3_found, "K3", None), k3_group, k3_action, groups.score, groups.reason),
        ],
        groups.weights,
    )
    stage("tables")
    resident = reasons != "TIDAK_AKTIF"
    population = _rows(table, [c for c in POPULATION_COLUMNS if c in table.columns],
                       positions[resident])  # fmt: skip
    population["pemilih"] = eligible[resident]
    return Dp4Tables(
        population=population,
        dp4=dp4,
        excluded=excluded,
        rejected=rejected,
        duplicates=duplicates,
        input_rows=report.rows,
        removed=int(removed.sum()),
        held=int(held.sum()),
        stages=stage.seconds,
        k3=decided.k3,
        people=people,
    )


def _rows(frame: pd.DataFrame, columns: list[str], positions: np.ndarray) -> pd.DataFrame:
    """`frame[columns].take(positions)`, indexed from 0, a column per core (Arrow's take
    releases the GIL)."""

    def taken(column: str) -> pd.Series:
        return frame[column].take(positions).reset_index(drop=True)

    return pd.DataFrame(dict(zip(columns, in_threads(taken, columns, len(positions)),
                                 strict=True)), index=pd.RangeIndex(len(positions)))  # fmt: skip


def _list_order(frame: pd.DataFrame) -> np.ndarray:
    """Positions in list order (kab/kota, kecamatan, desa, RW, RT, name, source row), sorted
    by Arrow: pandas sorts Arrow-backed strings far slower."""
    keys = pa.Table.from_pandas(frame[SORT_KEYS], preserve_index=False)
    return pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in SORT_KEYS]).to_numpy()


def _dp4_shape(rows: pd.DataFrame, review_group: np.ndarray, review: np.ndarray) -> pd.DataFrame:
    out = rows.reset_index(drop=True)
    status = map_codes(arrow_of(out["status_kawin"]), KPU_STATUS)
    out["status_kawin"] = pd.Series(pd.arrays.ArrowExtensionArray(status), index=out.index)
    out["perlu_tinjauan"] = pd.array(review, dtype="bool[pyarrow]")
    out["kelompok_tinjauan"] = pd.array(review_group, dtype="string[pyarrow]")
    return out.reset_index(drop=True)


def _duplicates_table(table: pd.DataFrame, valid_pos: np.ndarray, findings: list,
                      weights: dict[str, np.ndarray]) -> pd.DataFrame:  # fmt: skip
    """One line per row and finding: (kind, group, action, score, reason) arrays per finding,
    and the K3 match weight of each comparison (empty for the exact kinds)."""
    parts = []
    for kind, group, action, score, reason in findings:
        involved = np.flatnonzero(kind != None)  # noqa: E711
        base = table.iloc[valid_pos[involved]][
            [
                C.SOURCE_FILE,
                C.SOURCE_ROW,
                "nik",
                "nkk",
                "nama",
                "tanggal_lahir",
                "tempat_lahir",
                "kode_desa",
                "alamat",
            ]
        ].reset_index(drop=True)
        extra = pd.DataFrame(
            {
                "kind": pd.array(kind[involved], dtype="string[pyarrow]"),
                "group_id": pd.array(group[involved], dtype="string[pyarrow]"),
                "action": pd.array(action[involved], dtype="string[pyarrow]"),
                "score": pd.array(score[involved], dtype="double[pyarrow]"),
                "reason": pd.array(reason[involved], dtype="string[pyarrow]"),
                **{k: pd.array(np.round(v[involved], 3), dtype="double[pyarrow]")
                   for k, v in weights.items()},
            }
        )  # fmt: skip
        parts.append(pd.concat([extra, base], axis=1))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["group_id", C.SOURCE_FILE, C.SOURCE_ROW], kind="stable").reset_index(
        drop=True
    )


def _rejected_table(data: CanonicalInput, report: ValidationReport) -> pa.Table:
    """Rows with errors (and broken rows): source file and row, rule codes, original values."""
    failures = report.failures.filter(pc.equal(report.failures["severity"], "error"))
    codes = failures.group_by(["file", "row"], use_threads=False).aggregate([("rule", "distinct")])
    codes = codes.rename_columns([C.SOURCE_FILE, C.SOURCE_ROW, "aturan"])
    # failures are sorted by rule within a row, and a serial group_by keeps that order
    codes = codes.set_column(2, "aturan", pc.binary_join(codes["aturan"], ";"))
    positions = np.flatnonzero(report.error_mask)
    raw_cols = [c for c in data.raw.column_names if not c.startswith("__")]
    rows = data.raw.select(raw_cols).take(pa.array(positions))
    broken = data.raw_input.broken_rows
    if broken.num_rows:
        extra = pa.table(
            {
                C.SOURCE_FILE: broken[C.SOURCE_FILE],
                C.SOURCE_ROW: broken[C.SOURCE_ROW],
                "teks_baris": broken["teks"],
            }
        )
        rows = pa.concat_tables([rows, extra], promote_options="permissive")
    joined = rows.join(codes, [C.SOURCE_FILE, C.SOURCE_ROW], join_type="left outer")
    ordered = [C.SOURCE_FILE, C.SOURCE_ROW, "aturan"] + [
        c for c in joined.column_names if c not in (C.SOURCE_FILE, C.SOURCE_ROW, "aturan")
    ]
    return joined.select(ordered).sort_by(
        [(C.SOURCE_FILE, "ascending"), (C.SOURCE_ROW, "ascending")]
    )


__all__ = ["Dp4Tables", "build_dp4", "REASONS", "ACTIONS", "DP4_COLUMNS", "KPU_STATUS"]
