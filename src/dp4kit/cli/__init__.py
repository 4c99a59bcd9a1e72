"""The command line: the Typer app (`options.py`), its commands (`commands.py`: validate,
export, aggregate; `operations.py`: the rest, registered in this order) and `main`."""

from dp4kit.cli import commands, operations  # noqa: F401 - they register themselves on `app`
from dp4kit.cli.options import app


def main() -> None:
    """Console script entry point."""
    app(prog_name="dp4kit")
