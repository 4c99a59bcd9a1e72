"""Profiles: map an input's headers to the canonical table and parse text into typed columns.

Profiles: `siak` (flat SIAK export, or person file + family file joined on NO_KK),
`canonical` (our snake_case names), `auto` (detected from the header) or a TOML mapping file:

    [columns]             # canonical name = header in your file
    nik = "NOMOR_INDUK"
    nama = "NAMA"
    kode_desa = "KODE_WILAYAH"   # or no_prop/no_kab/no_kec/no_kel for SIAK-style parts
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import columns as C
from dp4kit.canonical import (
    CanonicalInput,
    age_on,
    map_codes,
    pad_digits,
    parse_dates,
    region_codes,
)
from dp4kit.errors import InputFileError, MissingColumns, ProfileError
from dp4kit.io.given_files import MAPPING, mapping_file, read_small_text
from dp4kit.io.readers import read_inputs
from dp4kit.io.sources import RawInput
from dp4kit.reference import master
from dp4kit.stages import in_threads

REGION_PARTS = ("no_prop", "no_kab", "no_kec", "no_kel")

SIAK = {
    "NIK": "nik", "NO_KK": "nkk", "NAMA_LGKP": "nama", "TMPT_LHR": "tempat_lahir",
    "TGL_LHR": "tanggal_lahir", "JENIS_KLMIN": "jenis_kelamin", "STAT_KWN": "status_kawin",
    "AGAMA": "agama", "JENIS_PKRJN": "pekerjaan", "PDDK_AKH": "pendidikan",
    "STAT_HBKEL": "hubungan_keluarga", "PNYDNG_CCT": "disabilitas", "GOL_DRH": "golongan_darah",
    "NAMA_LGKP_IBU": "nama_ibu", "ALAMAT": "alamat", "NO_RT": "rt", "NO_RW": "rw",
    "FLAG_STATUS": "status_aktif",
    "NO_PROP": "no_prop", "NO_KAB": "no_kab", "NO_KEC": "no_kec", "NO_KEL": "no_kel",
}  # fmt: skip
SIAK_FAMILY = ("NO_KK", "ALAMAT", "NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL")
CANONICAL = {
    name.upper(): name for name in (*C.TEXT, "tanggal_lahir", "status_aktif", *REGION_PARTS)
}

CODE_TABLES = {
    "jenis_kelamin": C.JENIS_KELAMIN, "status_kawin": C.STATUS_KAWIN, "agama": C.AGAMA,
    "pekerjaan": C.PEKERJAAN, "pendidikan": C.PENDIDIKAN, "hubungan_keluarga": C.HUBUNGAN_KELUARGA,
    "disabilitas": C.DISABILITAS, "golongan_darah": C.GOLONGAN_DARAH,
    "kewarganegaraan": C.KEWARGANEGARAAN,
}  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """How headers (upper-cased) map to canonical columns."""

    name: str
    mapping: dict[str, str]


def load_mapping(path: Path) -> Profile:
    """A user mapping file: `[columns]` canonical name = header in the input."""
    text = read_small_text(path, MAPPING)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: cannot read mapping file: {exc}") from exc
    cols = data.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise ProfileError(f"{path}: a mapping file needs a [columns] table (canonical = header)")
    known = set(CANONICAL.values())
    unknown = sorted(k for k in cols if k not in known)
    if unknown:
        raise ProfileError(
            f"{path}: unknown canonical column(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    bad = sorted(k for k, v in cols.items() if not isinstance(v, str))
    if bad:
        raise ProfileError(f"{path}: header names must be text: {', '.join(bad)}")
    return Profile(path.stem, {v.strip().upper(): k for k, v in cols.items()})


def detect_profile(headers: list[str]) -> Profile:
    """Pick `siak` or `canonical` from the header; an unknown layout is an error."""
    upper = {h.strip().upper() for h in headers}
    if {"NIK", "NAMA_LGKP"} <= upper or {"NIK", "NO_KK", "TGL_LHR"} <= upper:
        return Profile("siak", SIAK)
    if {"NIK", "NAMA", "TANGGAL_LAHIR"} <= upper:
        return Profile("canonical", CANONICAL)
    raise ProfileError(
        "cannot detect the column layout: expected SIAK headers (NIK, NO_KK, NAMA_LGKP, …) "
        "or canonical ones (nik, nkk, nama, tanggal_lahir, …); map yours with --profile FILE.toml"
    )


def resolve_profile(profile: str, headers: list[str]) -> Profile:
    if profile == "auto":
        return detect_profile(headers)
    if profile == "siak":
        return Profile("siak", SIAK)
    if profile == "canonical":
        return Profile("canonical", CANONICAL)
    path = mapping_file(profile)
    if path is not None:
        return load_mapping(path)
    raise ProfileError(f"unknown profile '{profile}' (use auto, siak, canonical or a .toml file)")


def _join_family(raw: RawInput, family: RawInput) -> pa.Table:
    """Join a SIAK person file with its family file (address) on NO_KK, keeping row order.
    Adds `__kk_ditemukan`: False where the person's NO_KK is not in the family file."""
    fam_cols = {c.upper(): c for c in family.table.column_names}
    missing = [c for c in SIAK_FAMILY if c not in fam_cols]
    if missing:
        raise MissingColumns(family.sources[0].path, missing, "siak (keluarga)")
    fam = family.table.select([fam_cols[c] for c in SIAK_FAMILY]).rename_columns(SIAK_FAMILY)
    # One family row per NO_KK: the first one wins (a family file should not repeat NO_KK).
    fam = fam.append_column("__i", pa.array(range(fam.num_rows), pa.int64()))
    first = fam.group_by("NO_KK").aggregate([("__i", "min")])["__i_min"]
    fam = fam.take(pc.sort_indices(first)).drop_columns(["__i"])
    person_cols = {c.upper(): c for c in raw.table.column_names}
    if "NO_KK" not in person_cols:
        raise MissingColumns(raw.sources[0].path, ["NO_KK"], "siak")
    people = raw.table.drop_columns([person_cols[c] for c in SIAK_FAMILY[1:] if c in person_cols])
    people = people.rename_columns(
        ["NO_KK" if c == person_cols["NO_KK"] else c for c in people.column_names]
    )
    people = people.append_column("__order", pa.array(range(people.num_rows), pa.int64()))
    joined = people.join(fam, "NO_KK", join_type="left outer").sort_by("__order")
    found = pc.is_in(joined["NO_KK"], value_set=fam["NO_KK"])
    return joined.drop_columns(["__order"]).append_column("__kk_ditemukan", found)


def mapped_columns(headers: list[str], profile: Profile, path: str) -> dict[str, str]:
    """The header each canonical column is read from; a required column the headers lack
    is refused (MissingColumns), naming it as the profile spells it."""
    source: dict[str, str] = {}
    for header in headers:
        target = profile.mapping.get(header.strip().upper())
        if target and target not in source:
            source[target] = header
    has_parts = all(p in source for p in REGION_PARTS)
    missing = [c for c in C.REQUIRED if c != "kode_desa" and c not in source]
    if not has_parts and "kode_desa" not in source:
        missing += ["kode_desa (or no_prop, no_kab, no_kec, no_kel)"]
    if missing:
        inverse = {v: k for k, v in profile.mapping.items()}
        raise MissingColumns(path, [inverse.get(m, m) for m in missing], profile.name)
    return source


def kabkota_codes(raw: pa.Table, source: dict[str, str]) -> pa.Array:
    """Each row's kab/kota code (PP.KK) as the canonical table will derive it."""
    if all(p in source for p in REGION_PARTS):
        desa = region_codes([raw[source[p]] for p in REGION_PARTS], None)
    else:
        desa = region_codes([], raw[source["kode_desa"]])
    return pc.utf8_slice_codeunits(desa, 0, 5)


def _column(raw: pa.Table, source: dict[str, str], name: str) -> pa.ChunkedArray | None:
    return raw[source[name]] if name in source else None


def to_canonical(
    raw_input: RawInput, profile: Profile, as_of: dt.date, family: RawInput | None = None
) -> CanonicalInput:
    """Map, clean and parse a raw text table into the canonical table."""
    raw = raw_input.table
    if family is not None:
        raw = _join_family(raw_input, family)
    source = mapped_columns(raw.column_names, profile, raw_input.sources[0].path)
    has_parts = all(p in source for p in REGION_PARTS)
    n = raw.num_rows
    out: dict[str, pa.ChunkedArray | pa.Array] = {}
    empty = pa.nulls(n, pa.string())
    for name in C.PERSON_TEXT:
        col = _column(raw, source, name)
        out[name] = empty if col is None else col
    for name in ("nik", "nkk"):  # Excel users prefix identifiers with ' to keep them text
        out[name] = pc.replace_substring_regex(out[name], r"^'", "")
    coded = in_threads(lambda item: map_codes(out[item[0]], item[1]), CODE_TABLES.items(), n)
    out |= dict(zip(CODE_TABLES, coded, strict=True))
    if "kewarganegaraan" not in source:
        out["kewarganegaraan"] = pa.array(["WNI"] * n, pa.string())
    out["rt"] = pad_digits(out["rt"], 3)
    out["rw"] = pad_digits(out["rw"], 3)
    parts = [_column(raw, source, p) for p in REGION_PARTS] if has_parts else []
    desa = region_codes(parts, _column(raw, source, "kode_desa") if not has_parts else None)
    regions = master()
    out["kode_provinsi"] = pc.utf8_slice_codeunits(desa, 0, 2)
    out["kode_kabkota"] = pc.utf8_slice_codeunits(desa, 0, 5)
    out["kode_kecamatan"] = pc.utf8_slice_codeunits(desa, 0, 8)
    out["kode_desa"] = desa
    levels = (
        ("provinsi", "kode_provinsi"),
        ("kabkota", "kode_kabkota"),
        ("kecamatan", "kode_kecamatan"),
        ("desa", "kode_desa"),
    )
    named = in_threads(lambda level: regions[level[0]].name_of(out[level[1]]), levels, n)
    out |= {level: names for (level, _), names in zip(levels, named, strict=True)}
    born = parse_dates(_column(raw, source, "tanggal_lahir"))
    out["tanggal_lahir"] = born
    flag = _column(raw, source, "status_aktif")
    if flag is None:
        out["status_aktif"] = pa.array([True] * n)
    else:  # SIAK FLAG_STATUS 0 = active; anything else (dead, moved, …) is inactive
        upper = pc.utf8_upper(flag)
        active = pc.is_in(upper, pa.array(["0", "AKTIF"]))
        out["status_aktif"] = pc.or_(pc.is_null(upper), active)  # an empty flag is not a death
    out["usia"] = age_on(born, as_of)
    if "__kk_ditemukan" in raw.column_names:
        out["kk_ditemukan"] = raw["__kk_ditemukan"]
    out[C.SOURCE_FILE] = raw[C.SOURCE_FILE]
    out[C.SOURCE_ROW] = raw[C.SOURCE_ROW]
    table = pa.table(out).to_pandas(types_mapper=pd.ArrowDtype)
    return CanonicalInput(table, raw, source, raw_input, profile.name)


def read_canonical(
    paths: list[Path],
    profile: str = "auto",
    as_of: dt.date | None = None,
    sheet: str | None = None,
    keluarga: Path | None = None,
) -> CanonicalInput:
    """Read inputs with a profile into one canonical table (the entry point for every command)."""
    if not paths:
        raise InputFileError("no input files given")
    raw = read_inputs(paths, sheet)
    prof = resolve_profile(profile, raw.table.column_names)
    family = read_inputs([keluarga], sheet) if keluarga is not None else None
    if family is not None and prof.name != "siak":
        raise ProfileError("--keluarga goes with the SIAK profile (person file + family file)")
    return to_canonical(raw, prof, as_of or dt.date.today(), family)
