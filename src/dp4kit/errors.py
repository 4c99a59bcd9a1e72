"""Errors a user can cause. Each maps to an exit code and one clear line; the CLI catches them."""

from __future__ import annotations

from xlsxwriter.exceptions import XlsxFileError

# what a write can raise when the disk is full, a folder is read-only or a file is too large
WRITE_ERRORS = (OSError, XlsxFileError)


class Dp4kitError(Exception):
    """Base class: the command cannot run. `exit_code` is what the CLI returns."""

    exit_code = 2


class InputFileError(Dp4kitError):
    """An input is missing, empty, unreadable or of an unsupported kind."""


class MissingColumns(Dp4kitError):
    """Required columns are absent from an input."""

    def __init__(self, source: str, missing: list[str], profile: str):
        self.missing = missing
        super().__init__(
            f"{source}: missing required column(s) for profile '{profile}': {', '.join(missing)}"
        )


class ProfileError(Dp4kitError):
    """The column profile cannot be detected or a mapping file is invalid."""


class SchemaFileError(Dp4kitError):
    """A schema file cannot be read or names an unknown check."""


class UsageError(Dp4kitError):
    """A flag value is invalid."""


class OutputError(Dp4kitError):
    """An output (report, export folder) cannot be written."""


class EngineError(Dp4kitError):
    """The Spark engine cannot start or a Spark job failed."""


class AccountingError(Dp4kitError):
    """The outputs do not account for every input row: nothing is written."""

    exit_code = 3


def write_failure(exc: BaseException) -> str:
    """The operating system's words for a write failure (xlsxwriter wraps the OSError)."""
    inner = exc.args[0] if isinstance(exc, XlsxFileError) and exc.args else exc
    return getattr(inner, "strerror", None) or str(inner) or type(inner).__name__
