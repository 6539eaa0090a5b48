"""How the service's log lines are written: one event per line, whatever the data in it.

What a client chooses ends up in log lines: a token's ``sub``, a room id, a request path, a
provider's error text. A line feed in any of them would forge a line of its own, an escape
sequence would drive the reader's terminal. So every value a line is formatted with is written
with its non-printable characters escaped (:func:`printable`); the format strings, which are
the service's own, are left as they are, and so is a value marked :class:`Verbatim` (a
traceback the service built and redacted itself).

``sideline serve`` and ``sideline demo`` call :func:`configure_logging`; as a library the
service never configures logging.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (CR, LF, ESC, NEL, U+2028 ...)
    written as its Python escape, so a request path cannot forge a log line or drive a
    terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class Verbatim(str):
    """A value written into a log line as it is, line breaks and all: text the service made
    itself (a redacted traceback), never a client's."""

    __slots__ = ()


def _escaped(value: Any) -> Any:
    if isinstance(value, (Verbatim, int, float)) or value is None:
        return value  # (bool is an int; numbers keep their %d and %.1f)
    if isinstance(value, str):
        return printable(value)
    return printable(str(value))  # an exception, a path, an id: as %s would write it


class EscapingFormatter(logging.Formatter):
    """A formatter that escapes the values of each line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if args:
            if isinstance(args, Mapping):
                record.args = {k: _escaped(v) for k, v in args.items()}
            else:
                record.args = tuple(_escaped(v) for v in args)
        msg = record.msg
        if not isinstance(msg, str):  # log.info(obj): the object is the data
            record.msg = _escaped(msg)
        try:
            return super().format(record)
        finally:
            record.args, record.msg = args, msg


class NoQueryStrings(logging.Filter):
    """Drops the query string from uvicorn's WebSocket handshake lines (``"WebSocket
    /v1/ws?token=..." [accepted]``): a client may put a token there, and our own access log
    never prints one either."""

    _QUERY = re.compile(r'("WebSocket [^"?]*)\?[^"]*"')

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if '"WebSocket ' in text and "?" in text:
            record.msg, record.args = self._QUERY.sub(r'\1"', text), ()
        return True


def configure_logging() -> None:
    """INFO and above to stderr, one event per line, for ``sideline serve`` and ``demo``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # APScheduler announces every job it adds, runs and finishes at INFO (two dozen lines at each
    # start); the scheduler says once which jobs it holds, and each run logs its own result.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").addFilter(NoQueryStrings())
