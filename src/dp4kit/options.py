"""The CLI's shared options, made from the one settings table (`config.SETTINGS`).

Every command that takes a setting declares it as `Opt.<key>` (interactive commands, with the
table's default) or `RunOpt.<key>` (`run`, where "not given" lets the job file or the
environment decide): the same flag, type and help everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from dp4kit.columns import ROLL_UPS
from dp4kit.config import SETTINGS, flag_name


class Engine(StrEnum):
    """Where the work of `combine` and `export --each` runs."""

    local = "local"
    spark = "spark"


Level = StrEnum("Level", {name: name for name in ROLL_UPS})  # the roll-ups, defined once
LogFormat = StrEnum("LogFormat", {name: name for name in SETTINGS["log_format"].choices})

TYPES: dict[str, Any] = {
    "text": str, "profile": str, "path": Path, "paths": list[Path], "date": str,
    "semester": str, "bool": bool, "number": float, "count": int, "choice": LogFormat,
    "choices": list[Level],
}  # fmt: skip
LIMITS = {"number": {"min": 0.0, "max": 1.0}, "count": {"min": 0}}


def declarations(key: str) -> tuple[str, ...]:
    """The flag's spellings: the table's, or `--key-with-dashes`."""
    return SETTINGS[key].flags or (flag_name(key),)


def _option(key: str, given_only: bool) -> Any:
    spec = SETTINGS[key]
    kind = TYPES[spec.kind]
    optional = given_only or spec.default is None or spec.kind in ("paths", "choices")
    info = typer.Option(*declarations(key), help=spec.help, **LIMITS.get(spec.kind, {}))
    return Annotated[kind | None if optional else kind, info]


KEYS = [key for key in SETTINGS if key != "inputs"]  # inputs is an argument
Opt = SimpleNamespace(**{key: _option(key, given_only=False) for key in KEYS})
RunOpt = SimpleNamespace(**{key: _option(key, given_only=True) for key in KEYS})
InputPaths = Annotated[list[Path], typer.Argument(help=SETTINGS["inputs"].help, show_default=False)]
SparkMaster = Annotated[
    str,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark: local[*], spark://HOST:7077, yarn, "
        "k8s://https://HOST:443.",
    ),
]
