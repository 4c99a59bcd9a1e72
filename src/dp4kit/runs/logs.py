"""Log lines for unattended runs: readable text on a terminal, JSON lines for cron.

Every record carries `stage`, `counts` and `elapsed` (null when not relevant). Log lines hold
counts, file paths and timings only: never a NIK, NKK or name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dp4kit.columns import IDENTIFIER_PATTERN, MASKED_IDENTIFIER
from dp4kit.errors import OutputError
from dp4kit.io.given_files import LOG_FILE, checked

LOGGER = "dp4kit.run"
COLOURS = {"WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[31m"}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def printable(text: str) -> str:
    """A message as it may be shown or logged: control characters escaped (`\\n`, `\\x1b`),
    so a file name holding a newline cannot forge a log line or a terminal escape, and any
    NIK-like digit run masked (`320411060997****`), so no identifier reaches a log."""
    text = IDENTIFIER.sub(MASKED_IDENTIFIER, text)
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class LogFile(logging.FileHandler):
    """Appends to the log file (created 0600); a failed write is kept in `error`, not printed
    as a traceback, and `event` turns it into one clear error."""

    error: OSError | None = None

    def __init__(self, path: Path) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(path, encoding="utf-8")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.error = sys.exc_info()[1] or OSError("write failed")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


def colours_wanted(stream: IO) -> bool:
    """Colours only on a terminal and only when NO_COLOR is not set (no-color.org)."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                    timespec="milliseconds"
                ),
                "level": record.levelname.lower(),
                "stage": getattr(record, "stage", None),
                "message": IDENTIFIER.sub(MASKED_IDENTIFIER, record.getMessage()),
                "counts": getattr(record, "counts", None),
                "elapsed": getattr(record, "elapsed", None),
            },
            ensure_ascii=False,
        )


class TextLines(logging.Formatter):
    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        time = dt.datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S")
        level = f"{record.levelname:<7}"
        if self.colour and record.levelname in COLOURS:
            level = f"{COLOURS[record.levelname]}{level}\x1b[0m"
        stage = getattr(record, "stage", None)
        elapsed = getattr(record, "elapsed", None)
        parts = [time, level, f"{stage or '-':<11}", printable(record.getMessage())]
        if elapsed is not None:
            parts.append(f"({elapsed:.1f} s)")
        return " ".join(parts)


@contextlib.contextmanager
def run_logging(
    log_format: str = "text",
    log_file: Path | None = None,
    quiet: bool = False,
    stream: IO | None = None,
) -> Iterator[logging.Logger]:
    """The run's logger: to `stream` (stderr; warnings and errors only when quiet) and, if
    given, appended to `log_file` (everything). Handlers are removed afterwards."""
    stream = stream if stream is not None else sys.stderr
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    terminal = logging.StreamHandler(stream)
    terminal.setLevel(logging.WARNING if quiet else logging.INFO)
    colour = colours_wanted(stream)
    terminal.setFormatter(JsonLines() if log_format == "json" else TextLines(colour))
    handlers.append(terminal)
    if log_file is not None:
        checked(log_file, LOG_FILE)
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            to_file = LogFile(Path(log_file))
        except OSError as exc:
            raise OutputError(
                f"{log_file}: cannot open the log file: {exc.strerror or exc}"
            ) from exc
        to_file.setFormatter(JsonLines() if log_format == "json" else TextLines(False))
        handlers.append(to_file)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


def event(logger: logging.Logger, message: str, *, level: int = logging.INFO, stage=None,
          counts: dict | None = None, elapsed: float | None = None) -> None:  # fmt: skip
    logger.log(level, message, extra={"stage": stage, "counts": counts, "elapsed": elapsed})
    for handler in logger.handlers:
        if isinstance(handler, LogFile) and handler.error is not None:
            logger.removeHandler(handler)
            handler.close()
            reason = getattr(handler.error, "strerror", None) or handler.error
            raise OutputError(f"{handler.baseFilename}: cannot write the log file: {reason}")
