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

FORMATS = ("parquet", "xlsx", "csv")
LEVELS = ROLL_UPS  # defined once, in columns
LOG_FORMATS = ("text", "json")


class ConfigError(Dp4kitError):
    """A job setting is unknown, missing or of the wrong type (exit 2)."""


@dataclass(frozen=True)
class Setting:
    kind: str  # text, path, paths, date, bool, number, count, choice, choices, semester
    default: Any
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: dict[str, Setting] = {
    "inputs": Setting("paths", None, "SIAK exports (csv/tsv/xlsx/parquet files or folders)"),
    "keluarga": Setting("path", None, "SIAK family file joined on NO_KK"),
    "profile": Setting(
        "profile", "auto", "column layout: auto, siak, canonical or a .toml mapping"
    ),
    "sheet": Setting("text", None, "Excel sheet name (default: first)"),
    "schemas": Setting("paths", [], "extra pandera schema files with office rules"),
    "election_date": Setting("date", None, "voting day, YYYY-MM-DD"),
    "semester": Setting("semester", None, "data set label such as 2025-S2"),
    "out": Setting("path", None, "output root: each run writes a dated folder inside it"),
    "formats": Setting("choices", ["parquet", "xlsx"], "outputs to write", FORMATS),
    "levels": Setting("choices", list(LEVELS), "roll-ups written beside dak2", LEVELS),
    "mask": Setting("bool", False, "mask NIK/NKK (last four digits ****)"),
    "group_readable": Setting(
        "bool", False, "outputs readable by the owner's group (0640/0750, not 0600/0700)"
    ),
    "exclude_nik": Setting("path", None, "file of NIKs whose voting right is revoked"),
    "merge_fuzzy": Setting("number", None, "merge K3 pairs with at least this match probability"),
    "k3_review": Setting("number", K3_REVIEW, "list K3 pairs with at least this match probability"),
    "k3_model": Setting("path", None, "a saved k3_model.json to use instead of training"),
    "decisions": Setting("path", None, "reviewers' SAMA/BEDA decisions (duplicates.xlsx or CSV)"),
    "max_rejected_share": Setting(
        "number", 0.0, "exit 1 only when more than this share of rows is rejected (0-1)"
    ),
    "keep": Setting("count", 0, "dated runs to keep in `out` (0 = keep all)"),
    "log_format": Setting("choice", "text", "text lines, or json lines for cron", LOG_FORMATS),
    "log_file": Setting("path", None, "also append log lines to this file"),
    "quiet": Setting("bool", False, "only warnings and errors on the terminal"),
}
REQUIRED = ("inputs", "election_date", "out")
ENV_PREFIX = "DP4KIT_"
BUILTIN_PROFILES = ("auto", "siak", "canonical")


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {type(value).__name__}")
    return value


def _list(key: str, value: Any) -> list:
    if isinstance(value, str):  # environment and flags: comma-separated
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
    return value


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


def coerce(key: str, value: Any, base: Path | None = None) -> Any:
    """Check and convert one value; `base` resolves relative paths (the config file's folder)."""
    spec = SETTINGS[key]

    def path(v: Any) -> Path:
        if not _text(key, v).strip():
            raise ConfigError(f"{key}: expected a path, got an empty text")
        p = Path(v).expanduser()
        return p if base is None or p.is_absolute() else base / p

    kinds: dict[str, Callable[[Any], Any]] = {
        "text": lambda v: _text(key, v),
        "profile": lambda v: _profile(key, v, base),
        "path": path,
        "paths": lambda v: [path(p) for p in _list(key, v)],
        "date": lambda v: _date(key, v),
        "bool": lambda v: _bool(key, v),
        "number": lambda v: _number(key, v),
        "count": lambda v: _count(key, v),
    }
    if spec.kind in kinds:
        return kinds[spec.kind](value)
    if spec.kind == "semester":
        if not re.fullmatch(r"\d{4}-S[12]", _text(key, value)):
            raise ConfigError(f"{key}: expected a semester like 2025-S2, got {value!r}")
        return value
    values = _list(key, value) if spec.kind == "choices" else [_text(key, value)]
    wrong = [v for v in values if v not in spec.choices]
    if wrong:
        raise ConfigError(f"{key}: {wrong[0]!r} is not one of {', '.join(spec.choices)}")
    return values if spec.kind == "choices" else values[0]


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings from a TOML file, checked key by key (paths relative to the file)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the job file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting '{unknown[0]}' (see dp4kit init-config)")
    base = Path(path).resolve().parent
    return {k: coerce(k, v, base) for k, v in raw.items()}


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    found = {}
    for key in SETTINGS:
        if env_name(key) in environ:
            try:
                found[key] = coerce(key, environ[env_name(key)])
            except ConfigError as exc:
                raise ConfigError(f"{env_name(key)}: {exc}") from None
    unknown = sorted(
        k for k in environ if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX) :].lower()
        not in SETTINGS
    )  # fmt: skip
    if unknown:
        raise ConfigError(f"unknown environment variable {unknown[0]}")
    return found


def resolve(
    file: Path | None,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge default < file < environment < flags; returns settings and where each came from.
    Flags given as None are "not given"."""
    layers = [
        ("default", {k: s.default for k, s in SETTINGS.items()}),
        ("file", read_config_file(file) if file is not None else {}),
        ("environment", read_environment(environ)),
        ("flag", {k: coerce(k, v) for k, v in flags.items() if v is not None}),
    ]
    settings: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, layer in layers:
        for key, value in layer.items():
            settings[key], origin[key] = value, name
    missing = [k for k in REQUIRED if not settings.get(k)]
    if missing:
        key = missing[0]
        raise ConfigError(
            f"{key} is not set: give {flag_name(key)}, {env_name(key)} or `{key}` in the job file"
        )
    if "parquet" not in settings["formats"]:
        raise ConfigError("formats: parquet is always written (verify and diff read it)")
    return settings, origin


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
schemas = []                          # office rules: extra pandera YAML schema files

# Election
election_date = "2024-11-27"          # voting day: ages and voters are as of this date
# semester = "2024-S2"                # data set label (default: the election date's semester)
# exclude_nik = "hak_pilih_dicabut.txt"  # revoked voting rights, one NIK per line

# Outputs
out = "hasil"                         # each run writes hasil/<date>T<time>/ and hasil/latest
formats = ["parquet", "xlsx"]         # parquet (always), xlsx, csv
levels = ["desa", "kabkota", "provinsi", "nasional"]  # roll-ups beside dak2
mask = false                          # true: NIK/NKK shown as 320411060997****
group_readable = false                # true: files 0640/folders 0750 (default 0600/0700)
keep = 10                             # dated runs to keep (0 = keep all)

# Thresholds
k3_review = 0.5                       # list K3 pairs (same person, two NIKs) at this probability
# merge_fuzzy = 0.999                 # merge K3 pairs at this match probability (default: no)
# k3_model = "k3_model.json"          # reuse a K3 model trained on an earlier, larger run
# decisions = "duplicates.xlsx"       # reviewers' SAMA/BEDA decisions from an earlier run
max_rejected_share = 0.0              # exit 1 when more than this share of rows is rejected

# Logging
log_format = "text"                   # text, or json (one JSON object per line) for cron
# log_file = "/var/log/dp4kit/job.log"
quiet = false                         # true: only warnings and errors on the terminal
"""
