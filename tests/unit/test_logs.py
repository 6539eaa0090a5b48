"""Log lines stay one event per line whatever the data in them (service/logs.py)."""

from __future__ import annotations

import logging
import subprocess
import sys

from service.logs import FORMAT, EscapingFormatter, Verbatim, printable

FORGED = "u1\n2026-01-01 00:00:00,000 ERROR forged\x1b[2J\u2028\x85"


def record(msg: object, *args: object) -> logging.LogRecord:
    return logging.LogRecord("service.test", logging.INFO, __file__, 1, msg, args or None, None)


def line(msg: object, *args: object) -> str:
    return EscapingFormatter("%(message)s").format(record(msg, *args))


def test_printable_escapes_every_character_that_is_not_printable():
    assert printable("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    assert printable(FORGED) == "u1\\n2026-01-01 00:00:00,000 ERROR forged\\x1b[2J\\u2028\\x85"
    assert printable(printable(FORGED)) == printable(FORGED)  # escaping twice changes nothing


def test_values_are_escaped_and_the_format_string_is_not():
    assert line("closed %s\n(next)", FORGED) == f"closed {printable(FORGED)}\n(next)"
    assert "\n2026" not in line("user %s", FORGED)


def test_numbers_keep_their_formats_and_other_values_are_written_as_str_would():
    assert line("%d events in %.1f s, %s", 3, 0.5, None) == "3 events in 0.5 s, None"
    assert line("%r failed: %s", "x", ValueError("bad\nline")) == "'x' failed: bad\\nline"
    assert line("%(who)s left", {"who": FORGED}) == f"{printable(FORGED)} left"


def test_a_verbatim_value_keeps_its_line_breaks():
    trace = Verbatim("Traceback (most recent call last):\n  boom\n")
    assert line("sink s: failed\n%s", trace) == "sink s: failed\nTraceback (most recent call last):\n  boom\n"


def test_a_logged_object_is_escaped_and_the_record_is_left_as_it_was():
    rec = record("user %s", FORGED)
    EscapingFormatter("%(message)s").format(rec)
    assert rec.args == (FORGED,)  # other handlers see the values as they were logged
    assert line(ValueError(FORGED)) == printable(FORGED)


def test_sideline_logging_writes_one_line_per_event():
    """The configuration ``sideline serve`` and ``demo`` use, in a process of its own."""
    code = (
        "import logging; from service.logs import configure_logging; configure_logging();"
        f"logging.getLogger('service.x').warning('could not record %s leaving %s', {FORGED!r}, 'match:1')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert out.count("\n") == 1 and "\x1b" not in out and "\u2028" not in out
    assert out.endswith(f"WARNING service.x: could not record {printable(FORGED)} leaving match:1\n")
    assert FORMAT.endswith("%(message)s")
