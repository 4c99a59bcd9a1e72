"""Name normalisation for duplicate finding, vectorized and run once per distinct name.

Indonesian names are spelled many ways in SIAK: titles (H., HJ., DR., degrees after a comma),
MUHAMMAD / MUHAMAD / MOCHAMAD / M., SITI / ST., ACHMAD / AHMAD, YUSUF / YUSUP, old Dutch-era
spellings (OE → U, DJ → J, TJ → C, SJ → SY, CH → KH), doubled letters, and a father's name
after BIN / BINTI.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.canonical import per_unique

# Token variants → one spelling. Applied after the letter rules below.
TOKENS = {
    # after the letter rules: CH has become KH (MOCHAMAD → MOKHAMAD)
    "MUHAMMAD": (
        "MUHAMAD",
        "MOHAMAD",
        "MOHAMMAD",
        "MOKHAMAD",
        "MOKHAMMAD",
        "MUKHAMAD",
        "MUKHAMMAD",
        "MUHAMMED",
        "MUHAMED",
        "MOHD",
        "MUH",
        "MOH",
        "M",
    ),
    "SITI": ("ST",),
    "AHMAD": ("ACHMAD", "ACHMAT", "AHMAT", "AKHMAD"),
    "YUSUF": ("YUSUP", "JUSUF", "JUSUP"),
    "ABDUL": ("ABD",),
    "NUR": ("NOOR",),  # NURUL is a name of its own
}
LETTERS = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("SJ", "SY"), ("CH", "KH"))
PREFIXES = {"MUHAMMAD", "SITI", "NUR", "AHMAD", "ABDUL", "RADEN", "RR", "R", "I", "NI", "MADE"}
LEADING_TITLES = r"^((H|HJ|DR|DRS|DRA|IR|PROF|KH|TGK|TEUKU|CUT|ANDI)\.?\s+)+"


@per_unique
def normalise_names(names: pa.Array) -> pa.Array:
    """Upper case, no titles, no punctuation, one spelling per variant, single spaces."""
    s = pc.utf8_upper(names)
    s = pc.replace_substring_regex(s, r",.*$", "")  # degrees after a comma: S.H., S.PD., …
    s = pc.replace_substring_regex(s, LEADING_TITLES, "")
    s = pc.replace_substring_regex(s, r"\s+(BIN|BINTI)\s+.*$", "")
    s = pc.replace_substring_regex(s, r"[^A-Z ]+", " ")
    for old, new in LETTERS:
        s = pc.replace_substring(s, old, new)
    s = pc.replace_substring_regex(s, r"Y\b", "I")  # RIZKY / RIZKI, ANDY / ANDI, HENDRY / HENDRI
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":  # doubled letters: HASSAN / HASAN, YANNI / YANI
        for _ in range(2):
            s = pc.replace_substring(s, letter * 2, letter)
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(s, r"\s+", " "))
    for canonical, variants in TOKENS.items():
        pattern = r"\b(" + "|".join(sorted(variants, key=len, reverse=True)) + r")\b"
        s = pc.replace_substring_regex(s, pattern, canonical)
    return s


@per_unique
def given_name(normalised: pa.Array) -> pa.Array:
    """The first word that is not a common prefix (MUHAMMAD, SITI, NUR, …): twins differ here."""
    pattern = r"^((" + "|".join(sorted(PREFIXES)) + r") )+"
    core = pc.replace_substring_regex(normalised, pattern, "")
    return pc.utf8_slice_codeunits(pc.replace_substring_regex(core, r" .*$", ""), 0, 40)
