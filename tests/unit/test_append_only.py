"""No code path updates or deletes rows of the event log."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(
    r"\b(UPDATE\s+events\b|DELETE\s+FROM\s+events\b|TRUNCATE\s+(TABLE\s+)?events\b|DROP\s+TABLE\s+(IF\s+EXISTS\s+)?events\b)",
    re.IGNORECASE,
)


def test_no_code_rewrites_the_log():
    offenders = []
    for path in [*ROOT.glob("service/**/*.py"), *ROOT.glob("service/**/*.sql")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_the_scan_would_catch_a_rewrite():
    assert FORBIDDEN.search("con.execute('DELETE FROM events WHERE seq > ?')")
    assert FORBIDDEN.search("update EVENTS set payload = '{}'")
    assert not FORBIDDEN.search("INSERT INTO events SELECT * FROM batch")
