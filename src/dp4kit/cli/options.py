"""The CLI's shared options, made from the one settings table (`config.SETTINGS`), and how
every command shows itself: plain help that reads at 80 columns, usage errors on one line.

Every command that takes a setting declares it as `Opt.<key>` (interactive commands, with the
table's default) or `RunOpt.<key>` (`run`, where "not given" lets the job file or the
environment decide): the same flag, type and help everywhere.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from dp4kit import __version__
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
METAVARS = {"text": "TEXT", "profile": "NAME|FILE", "path": "PATH", "paths": "PATH", "date": "DATE",
            "semester": "YYYY-Sn", "number": "P", "count": "N", "choices": "LEVEL"}  # fmt: skip
METAVAR_OF = {"out": "DIR", "sheet": "NAME", "memory_limit": "SIZE"}  # where the kind's is vague


def declarations(key: str) -> tuple[str, ...]:
    """The flag's spellings: the table's, or `--key-with-dashes`."""
    return SETTINGS[key].flags or (flag_name(key),)


def _option(key: str, given_only: bool) -> Any:
    spec = SETTINGS[key]
    kind = TYPES[spec.kind]
    optional = given_only or spec.default is None or spec.kind in ("paths", "choices")
    metavar = METAVAR_OF.get(key, METAVARS.get(spec.kind))
    info = typer.Option(*declarations(key), help=spec.help, metavar=metavar,
                        **LIMITS.get(spec.kind, {}))  # fmt: skip
    return Annotated[kind | None if optional else kind, info]


KEYS = [key for key in SETTINGS if key != "inputs"]  # inputs is an argument
Opt = SimpleNamespace(**{key: _option(key, given_only=False) for key in KEYS})
RunOpt = SimpleNamespace(**{key: _option(key, given_only=True) for key in KEYS})
InputPaths = Annotated[
    list[Path],
    typer.Argument(help=SETTINGS["inputs"].help, show_default=False, metavar="INPUT"),
]
SparkMaster = Annotated[
    str,
    typer.Option(
        "--spark-master",
        metavar="URL",
        help="Spark master URL for --engine spark: local[*], spark://HOST:7077, yarn, "
        "k8s://https://HOST:443.",
    ),
]


class Commands(TyperGroup):
    """dp4kit's commands, with plain help (it reads at 80 columns: rich's option tables leave
    descriptions 17 characters and cut text with "…"), and every usage error as one line on
    stderr naming the help to read, exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):  # fmt: skip
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("dp4kit: aborted", err=True)
            code = 1
        except typer.TyperException as exc:  # click's errors: usage, bad value, no such option
            code = getattr(exc, "exit_code", 2)
            if type(exc).__name__ == "NoArgsIsHelpError":  # `dp4kit` alone: the help
                typer.echo(exc.format_message(), err=True)
            else:
                typer.echo(usage_error(exc), err=True)
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


class Command(TyperCommand):
    """A command whose usage line reads as usage (`dp4kit export [OPTIONS] INPUT...`), whose
    arguments are listed by name and whose options by a short metavar (PATH, N, [text|json]),
    not by their Python type."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "option" and param.metavar is None and not param.is_flag:
                param.metavar = metavar_of(param)

    def collect_usage_pieces(self, ctx) -> list[str]:
        arguments = [p for p in self.get_params(ctx) if p.param_type_name == "argument"]
        return [self.options_metavar, *(argument_name(p) for p in arguments)]

    def format_options(self, ctx, formatter) -> None:
        params = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        arguments = [(argument_name(p), (p.help or "") + ("  [required]" if p.required else ""))
                     for p in params if p.param_type_name == "argument"]  # fmt: skip
        options = [p.get_help_record(ctx) for p in params if p.param_type_name == "option"]
        for title, rows in (("Arguments", arguments), ("Options", [o for o in options if o])):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def metavar_of(param) -> str:
    """PATH, TEXT, N, NUMBER, or the choices as [a|b], from the option's annotation."""
    kind = param.type_descriptor
    if kind.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in kind.choices or ()) + "]"
    names = {Path: "PATH", int: "N", float: "NUMBER"}
    return names.get(kind.annotation, "TEXT")


def argument_name(param) -> str:
    """INPUT..., FOLDER, [PATH]: the metavar or name, `...` when repeatable, [ ] if optional."""
    name = (param.metavar or param.name).upper() + ("..." if param.nargs != 1 else "")
    return name if param.required else f"[{name}]"


def usage_error(exc: Exception) -> str:
    """`dp4kit: error: <what>; see 'dp4kit export --help'`, on one line."""
    from dp4kit.runs.logs import printable

    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "dp4kit"
    return f"dp4kit: error: {printable(message).rstrip('.')}; see '{where} --help'"


# the app and what every command module shares (commands.py, operations.py)
app = typer.Typer(
    name="dp4kit",
    cls=Commands,
    help="Prepare Indonesian SIAK population data for elections (DP4 voter lists, DAK2).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def show(result, output_format: OutputFormat, render) -> None:
    """JSON (result.to_dict()) for machines, else the command's own rendering."""
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        render()


def fail(message: str, code: int) -> None:
    from dp4kit.runs.logs import printable

    typer.echo(f"dp4kit: error: {printable(message)}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dp4kit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Prepare Indonesian SIAK population data for elections (DP4 voter lists, DAK2)."""


def reflow(doc: str) -> str:
    """A docstring for the help: prose paragraphs are wrapped to the terminal's width; example
    paragraphs (indented lines) are kept as they are (click's `\\b` marker)."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(doc))
    return "\n\n".join(
        "\b\n" + p if all(line.startswith("  ") for line in p.splitlines()) else " ".join(p.split())
        for p in paragraphs
    )


def command(*args, **kwargs):
    """`app.command`, with the docstring reflowed for the help."""

    def register(func):
        text = reflow(func.__doc__ or "")
        short = text.split("\n\n")[0].removesuffix(".")  # whole: click would cut it with "..."
        return app.command(*args, cls=Command, help=text, short_help=short, **kwargs)(func)

    return register
