"""The command line as a shell pipeline uses it: a reader that stops early is no error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_listing_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``sideline config --reference | head -0``: the reader closes the pipe before the command
    writes (it is still starting); the command ends without a BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "config", "--reference"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # as a reader that has what it wants does
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
