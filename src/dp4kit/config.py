"""Job settings for `dp4kit run`: one TOML file, environment variables and flags.

Every setting has one name used three ways: `election_date` in the file,
`DP4KIT_ELECTION_DATE` in the environment, `--election-date` on the command line.
Precedence: flag > environment > file > default. Paths in the file are relative to the file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dp4kit.columns import ROLL_UPS
from dp4kit.dedup import K3_REVIEW
from dp4kit.errors import Dp4kitError
from dp4kit.io.given_files import Holds, MiB, read_small_text

FORMATS = ("parquet", "xlsx", "csv")  # the deprecated `formats` setting
LEVELS = ROLL_UPS  # defined once, in columns
LOG_FORMATS = ("text", "json")
EXCEL_MAX_ROWS = 1_048_576  # Excel's sheet limit


class ConfigError(Dp4kitError):
    """A job setting is unknown, missing or of the wrong type (exit 2)."""


JOB_FILE = Holds("job file", limit=MiB, error=ConfigError)


@dataclass(frozen=True)
class Setting:
    kind: str  # text, path, paths, date, bool, number, count, choice, choices, semester
    default: Any
    help: str  # the --help text of the flag, the same in every command
    choices: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # the flag's spellings (default: --key-with-dashes)


# Every setting once: its job-file key, DP4KIT_ variable and flag derive from the key.
SETTINGS: dict[str, Setting] = {
    "inputs": Setting("paths", None, "SIAK exports: .csv/.tsv/.txt, .xlsx, .parquet files or "
                      "Parquet folders."),
    "keluarga": Setting("path", None, "SIAK family file (NO_KK, ALAMAT, NO_RT and more) to join on "
                        "NO_KK."),
    "profile": Setting("profile", "auto", "Column layout: auto, siak, canonical, or a mapping "
                       "file (.toml).", flags=("--profile", "-p")),
    "sheet": Setting("text", None, "Excel sheet name (default: first)."),
    "schema": Setting("paths", [], "Extra pandera schema file (YAML) with office rules; "
                      "repeatable."),
    "election_date": Setting("date", None, "Voting day: ages and voters are as of this date, "
                             "YYYY-MM-DD (Pilkada 2024: 2024-11-27)."),
    "semester": Setting("semester", None, "Label of the data set, e.g. 2025-S2 (default: the "
                        "election date's semester: S1 to 30 June, S2 to 31 December)."),
    "out": Setting("path", None, "Output folder, replaced atomically (run: the root that holds "
                   "a dated folder per run and `latest`).", flags=("--out", "-o")),
    "excel": Setting("bool", True, "Write the Excel files: a DP4 workbook per kecamatan, "
                     "rejected.xlsx, duplicates.xlsx and dak2.xlsx.",
                     flags=("--excel/--no-excel",)),
    "csv": Setting("bool", False, "Also write dp4.csv (UTF-8, every value quoted, spreadsheet "
                   "formulas neutralised).", flags=("--csv/--no-csv",)),
    "level": Setting("choices", list(LEVELS), "Roll-up to write beside dak2 (per kecamatan); "
                     "repeatable (default: desa, kabkota, provinsi and nasional).", LEVELS),
    "mask": Setting("bool", False, "Mask NIK/NKK (last 4 digits ****).",
                    flags=("--mask/--no-mask",)),
    "group_readable": Setting("bool", False, "Outputs readable by your group (files 0640, "
                              "folders 0750); by default only you can read them (0600/0700).",
                              flags=("--group-readable/--owner-only",)),
    "exclude_nik": Setting("path", None, "Revoked voting rights: a file with one NIK per line."),
    "merge_fuzzy": Setting("number", None, "Merge K3 pairs (same person, two NIKs) whose match "
                           "probability is at least this (e.g. 0.999): all but one are removed. "
                           "Default: only flag them for review."),
    "k3_review": Setting("number", K3_REVIEW, "List K3 pairs whose match probability is at "
                         "least this for review."),
    "k3_model": Setting("path", None, "Use a saved k3_model.json (from an earlier run) instead "
                        "of training the K3 model on this input."),
    "k3_partitions": Setting("count", 0, "Compare K3 people one partition per blocking key at "
                             "a time, in this many partitions (0: all at once): the same "
                             "result in less memory, about 3 times the K3 time."),
    "memory_limit": Setting("text", None, "Memory to stay within, like 8G or 1.5G (more than "
                            "1G). export: given, the input is worked on one kab/kota at a time "
                            "(the same files; default: all in memory). combine: its scan is "
                            "split to fit (default: half the machine's memory)."),
    "decisions": Setting("path", None, "Reviewers' decisions: a duplicates.xlsx with its "
                         "Keputusan column filled in (SAMA/BEDA), or a CSV "
                         "nik_1,nik_2,keputusan."),
    "max_rejected_share": Setting("number", 0.0, "Exit 1 when a larger share of rows is "
                                  "rejected (0–1)."),
    "keep": Setting("count", 0, "Dated runs to keep in the output root (0 = keep all)."),
    "log_format": Setting("choice", "text", "text, or json (one JSON object per line) for cron.",
                          LOG_FORMATS),
    "log_file": Setting("path", None, "Append the log to this file as well."),
    "quiet": Setting("bool", False, "Only warnings and errors on the terminal.",
                     flags=("--quiet/--no-quiet", "-q")),
}  # fmt: skip
# Old spellings, kept for one release: they still work, with a warning.
DEPRECATED = {"schemas": ("schema",), "levels": ("level",), "formats": ("excel", "csv")}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting of `export`, `aggregate` and `run`, built by keyword (from flags, a job
    file and the environment by `resolve`). The last four are not user settings: Excel's
    row limit (tests lower it), `dp4=False` for `aggregate`, and `export --memory-limit`'s
    --jobs (parts at once; None: one per core) and Spark master (flags, not for job files)."""

    election_date: dt.date
    inputs: tuple[Path, ...] = ()
    out: Path | None = None
    keluarga: Path | None = None
    profile: str = "auto"
    sheet: str | None = None
    schema: tuple[Path, ...] = ()
    semester: str | None = None
    excel: bool = True
    csv: bool = False
    level: tuple[str, ...] = LEVELS
    mask: bool = False
    group_readable: bool = False
    exclude_nik: Path | None = None
    merge_fuzzy: float | None = None
    k3_review: float = K3_REVIEW
    k3_model: Path | None = None
    k3_partitions: int = 0
    memory_limit: str | None = None
    decisions: Path | None = None
    max_rejected_share: float = 0.0
    keep: int = 0
    log_format: str = "text"
    log_file: Path | None = None
    quiet: bool = False
    excel_max_rows: int = EXCEL_MAX_ROWS
    dp4: bool = True
    jobs: int | None = None
    spark_master: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Settings:
        """From checked values (lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


REQUIRED = ("inputs", "election_date", "out")
ENV_PREFIX = "DP4KIT_"
BUILTIN_PROFILES = ("auto", "siak", "canonical")


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def flag_name(key: str) -> str:
    """The flag as users type it: `--election-date`, `--mask` (not `--mask/--no-mask`)."""
    flags = SETTINGS[key].flags if key in SETTINGS else ()
    return flags[0].split("/")[0] if flags else "--" + key.replace("_", "-")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {type(value).__name__}")
    return value


def _list(key: str, value: Any) -> list:
    if isinstance(value, str):  # environment and the old flags: comma-separated
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
    return [getattr(v, "value", v) for v in value]  # flags give enum members


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes")
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _number(key: str, value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not 0 <= number <= 1:
        raise ConfigError(f"{key}: expected a number from 0 to 1, got {value!r}")
    return number


def _count(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    raise ConfigError(f"{key}: expected a whole number ≥ 0, got {value!r}")


def _profile(key: str, value: Any, base: Path | None) -> str:
    """A built-in layout name, or a mapping file (relative to the job file's folder)."""
    name = _text(key, value)
    if base is None or name in BUILTIN_PROFILES or Path(name).expanduser().is_absolute():
        return name
    return str(base / name)


def _date(key: str, value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(_text(key, value))
    except ValueError:
        raise ConfigError(f"{key}: expected a date as YYYY-MM-DD, got {value!r}") from None


def coerce(key: str, value: Any, base: Path | None = None, label: str | None = None) -> Any:
    """Check and convert one value; `base` resolves relative paths (the config file's folder);
    errors name `label` (default: the key)."""
    spec = SETTINGS[key]
    name = label or key

    def path(v: Any) -> Path:
        if not _text(name, str(v) if isinstance(v, Path) else v).strip():
            raise ConfigError(f"{name}: expected a path, got an empty text")
        p = Path(v).expanduser()
        return p if base is None or p.is_absolute() else base / p

    kinds: dict[str, Callable[[Any], Any]] = {
        "text": lambda v: _text(name, v),
        "profile": lambda v: _profile(name, v, base),
        "path": path,
        "paths": lambda v: [path(p) for p in _list(name, v)],
        "date": lambda v: _date(name, v),
        "bool": lambda v: _bool(name, v),
        "number": lambda v: _number(name, v),
        "count": lambda v: _count(name, v),
    }
    if spec.kind in kinds:
        return kinds[spec.kind](value)
    if spec.kind == "semester":
        if not re.fullmatch(r"\d{4}-S[12]", _text(name, value)):
            raise ConfigError(f"{name}: expected a semester like 2025-S2, got {value!r}")
        return value
    values = _list(name, value) if spec.kind == "choices" else [_text(name, value)]
    wrong = [v for v in values if v not in spec.choices]
    if wrong:
        raise ConfigError(f"{name}: {wrong[0]!r} is not one of {', '.join(spec.choices)}")
    if spec.kind == "choices":  # in the table's order, once each
        return [c for c in spec.choices if c in values]
    return values[0]


def _renamed(layer: dict[str, Any], label: Callable[[str], str]) -> dict[str, Any]:
    """The old spellings of a layer (`schemas`, `levels`, `formats`) under their new keys; a
    warning per old spelling in `layer["_deprecated"]`, naming both as `label` spells them."""
    notes = []
    for key in [k for k in layer if k in DEPRECATED]:
        value = layer.pop(key)
        new = " and ".join(label(k) for k in DEPRECATED[key])
        notes.append(f"{label(key)} is deprecated: use {new}")
        if key == "formats":
            formats = coerce_formats(value)
            layer.setdefault("excel", "xlsx" in formats)
            layer.setdefault("csv", "csv" in formats)
        else:
            layer.setdefault(DEPRECATED[key][0], value)
    if notes:
        layer["_deprecated"] = notes
    return layer


def coerce_formats(value: Any) -> list[str]:
    """The deprecated `formats` list: parquet, xlsx, csv (parquet is always written)."""
    formats = _list("formats", value)
    wrong = [v for v in formats if v not in FORMATS]
    if wrong:
        raise ConfigError(f"formats: {wrong[0]!r} is not one of {', '.join(FORMATS)}")
    if "parquet" not in formats:
        raise ConfigError("formats: parquet is always written (verify and diff read it)")
    return formats


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings from a TOML file, checked key by key (paths relative to the file)."""
    text = read_small_text(path, JOB_FILE)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(SETTINGS) - set(DEPRECATED))
    if unknown:
        raise ConfigError(f"{path}: unknown setting '{unknown[0]}' (see dp4kit init-config)")
    base = Path(path).resolve().parent
    raw = _renamed(raw, lambda k: f"`{k}` (job file)")
    notes = raw.pop("_deprecated", [])
    checked = {k: coerce(k, v, base) for k, v in raw.items()}
    return checked | ({"_deprecated": notes} if notes else {})


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    names = {env_name(k): k for k in (*SETTINGS, *DEPRECATED)}
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in names)
    if unknown:
        raise ConfigError(f"unknown environment variable {unknown[0]}")
    found = _renamed({names[k]: v for k, v in environ.items() if k in names}, env_name)
    notes = found.pop("_deprecated", [])
    checked = {}
    for key, value in found.items():
        try:
            checked[key] = coerce(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{env_name(key)}: {exc}") from None
    return checked | ({"_deprecated": notes} if notes else {})


def resolve(
    file: Path | None,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Merge default < file < environment < flags into one Settings; also returns where each
    setting came from (`origin["_deprecated"]` lists old spellings used). Flags given as None
    are "not given"."""
    given = _renamed({k: v for k, v in flags.items() if v is not None}, flag_name)
    notes = given.pop("_deprecated", [])
    layers = [
        ("default", {k: s.default for k, s in SETTINGS.items()}),
        ("file", read_config_file(file) if file is not None else {}),
        ("environment", read_environment(environ)),
        ("flag", {k: coerce(k, v, label=flag_name(k)) for k, v in given.items()}),
    ]
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, layer in layers:
        notes = [*layer.pop("_deprecated", []), *notes]
        for key, value in layer.items():
            values[key], origin[key] = value, name
    missing = [k for k in REQUIRED if not values.get(k)]
    if missing:
        key = missing[0]
        raise ConfigError(
            f"{key} is not set: give {flag_name(key)}, {env_name(key)} or `{key}` in the job file"
        )
    return Settings.of(values), origin | ({"_deprecated": "; ".join(notes)} if notes else {})


EXAMPLE = """\
# dp4kit job file: `dp4kit run --config job.toml`
# Every setting can be overridden by an environment variable (DP4KIT_ + the name in capitals,
# e.g. DP4KIT_ELECTION_DATE=2024-11-27) or a flag (--election-date 2024-11-27).
# Precedence: flag > environment > this file > default. Relative paths are relative to this file.

# Inputs: SIAK exports (.csv/.tsv/.txt, .xlsx, .parquet files or Parquet folders).
inputs = ["siak_penduduk.csv"]
# keluarga = "siak_keluarga.csv"      # two-table SIAK export: family file joined on NO_KK
profile = "auto"                      # auto, siak, canonical, or a mapping file (.toml)
# sheet = "Sheet1"                    # Excel sheet (default: the first)
schema = []                           # office rules: extra pandera YAML schema files

# Election
election_date = "2024-11-27"          # voting day: ages and voters are as of this date
# semester = "2024-S2"                # data set label (default: the election date's semester)
# exclude_nik = "hak_pilih_dicabut.txt"  # revoked voting rights, one NIK per line

# Outputs
out = "hasil"                         # each run writes hasil/<date>T<time>/ and hasil/latest
excel = true                          # the Excel files (DP4 per kecamatan, dak2.xlsx, …)
csv = false                           # also dp4.csv (Parquet is always written)
level = ["desa", "kabkota", "provinsi", "nasional"]  # roll-ups beside dak2
mask = false                          # true: NIK/NKK shown as 320411060997****
group_readable = false                # true: files 0640/folders 0750 (default 0600/0700)
keep = 10                             # dated runs to keep (0 = keep all)

# Thresholds
k3_review = 0.5                       # list K3 pairs (same person, two NIKs) at this probability
# merge_fuzzy = 0.999                 # merge K3 pairs at this match probability (default: no)
# k3_model = "k3_model.json"          # reuse a K3 model trained on an earlier, larger run
# k3_partitions = 8                   # K3 in 8 partitions: same result, less memory, slower
# memory_limit = "8G"                 # a province in one file: one kab/kota at a time, same files
# decisions = "duplicates.xlsx"       # reviewers' SAMA/BEDA decisions from an earlier run
max_rejected_share = 0.0              # exit 1 when more than this share of rows is rejected

# Logging
log_format = "text"                   # text, or json (one JSON object per line) for cron
# log_file = "/var/log/dp4kit/job.log"
quiet = false                         # true: only warnings and errors on the terminal
"""
