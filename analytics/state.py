"""The runner's watermarks: one STARTED/DONE row per job and window, and a row per run.

A window is marked STARTED before its query runs and DONE (with its row count and whether it
is final) only after its Parquet file has been renamed into place. After a crash the window
is still STARTED, so the next run computes it again; a DONE final window is never computed
again except by a full refresh or when the export rows it reads changed (``inputs``, the
digest of a context day's contexts and views or of a cohort's users and activity, written
with DONE, so a crash before it leaves the window STARTED). The tallies those digests are made
of are kept per version of the exports (``export_digests``), so they are computed once per
changed export, not on every run. The store is a small DuckDB file of its own next to the
reports, opened only for the length of one run (DuckDB lets one process hold a file).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from analytics.jobs.base import Window
from service import duck
from service.domain.events import utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_windows (
    job          VARCHAR NOT NULL,
    window_key   VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end   TIMESTAMPTZ NOT NULL,
    status       VARCHAR NOT NULL,      -- STARTED | DONE
    final        BOOLEAN NOT NULL,
    rows         BIGINT,
    run_id       VARCHAR NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    seconds      DOUBLE,
    inputs       VARCHAR,               -- digest of the export rows the window reads
    PRIMARY KEY (job, window_key)
);
ALTER TABLE job_windows ADD COLUMN IF NOT EXISTS inputs VARCHAR;
-- JSON list of the columns of the window's file; NULL in watermarks of releases before it.
ALTER TABLE job_windows ADD COLUMN IF NOT EXISTS columns VARCHAR;
CREATE TABLE IF NOT EXISTS export_digests (
    version VARCHAR NOT NULL,           -- the exports' version (and Polars') they describe
    export  VARCHAR NOT NULL,           -- activity | users | context_views | '' (a marker)
    item    VARCHAR NOT NULL,           -- a day, or a context_id of the views
    rows    BIGINT NOT NULL,
    hash    UBIGINT NOT NULL,           -- sum of the rows' hashes, modulo 2^64
    PRIMARY KEY (version, export, item)
);
CREATE TABLE IF NOT EXISTS job_runs (
    run_id      VARCHAR NOT NULL,
    job         VARCHAR NOT NULL,
    mode        VARCHAR NOT NULL,       -- incremental | full
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      VARCHAR NOT NULL,       -- running | ok | failed
    windows     INTEGER,
    rows        BIGINT,
    seconds     DOUBLE,
    notes       VARCHAR,                -- JSON list of strings
    error       VARCHAR,
    PRIMARY KEY (run_id, job)
);
"""


class StateBusy(Exception):
    """Another process (the service's scheduler, another CLI run) holds the watermark file."""


@dataclass(frozen=True, slots=True)
class WindowState:
    """One watermark row."""

    key: str
    status: str
    final: bool
    rows: int | None
    finished_at: datetime | None
    start: datetime
    end: datetime
    inputs: str | None
    """Digest of the export rows that defined the window when it was computed (if any)."""
    columns: list[str] | None = None
    """The columns of the window's file, None when written before they were recorded."""

    @property
    def window(self) -> Window:
        """The window this watermark is about."""
        return Window(self.key, self.start, self.end)


def _window_state(row: tuple[Any, ...]) -> WindowState:
    key, status, final, rows, finished_at, start, end, inputs, columns = row
    return WindowState(key, status, final, rows, finished_at, start, end, inputs,
                       None if columns is None else json.loads(columns))  # fmt: skip


class WatermarkStore:
    """Watermarks in ``path``; use as a context manager around one run."""

    def __init__(self, path: Path, *, wait_seconds: float = 10.0) -> None:
        self.path = path
        self._wait = wait_seconds
        self._con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> WatermarkStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self._wait
        while True:
            try:
                self._con = duck.connect(self.path)
                break
            except duckdb.IOException as exc:
                if time.monotonic() >= deadline:
                    raise StateBusy(
                        f"the job watermarks {self.path} are in use by another process "
                        f"(the service's scheduler or another `sideline jobs run`): {exc}"
                    ) from exc
                time.sleep(0.2)
        self._con.execute(_SCHEMA)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        assert self._con is not None, "use WatermarkStore as a context manager"
        return self._con

    def windows(self, job: str) -> dict[str, WindowState]:
        """Every watermark of ``job`` by window key."""
        rows = self.con.execute(
            "SELECT window_key, status, final, rows, finished_at, window_start, window_end, "
            "inputs, columns FROM job_windows WHERE job = ?",
            [job],
        ).fetchall()
        return {r[0]: _window_state(r) for r in rows}

    def reset(self, job: str) -> None:
        """Forget every watermark of ``job`` (a full refresh)."""
        self.con.execute("DELETE FROM job_windows WHERE job = ?", [job])

    def drop(self, job: str, keys: list[str]) -> None:
        """Forget the watermarks of windows that no longer exist (after removing their files)."""
        self.con.executemany(
            "DELETE FROM job_windows WHERE job = ? AND window_key = ?", [[job, k] for k in keys]
        )

    def started(self, job: str, windows: list[Window], run_id: str) -> None:
        """Mark ``windows`` STARTED (before computing them)."""
        now = utcnow()
        self.con.executemany(
            "INSERT OR REPLACE INTO job_windows (job, window_key, window_start, window_end, "
            "status, final, run_id, started_at) VALUES (?, ?, ?, ?, 'STARTED', false, ?, ?)",
            [[job, w.key, w.start, w.end, run_id, now] for w in windows],
        )

    def done(
        self, job: str, window: Window, *, final: bool, rows: int, seconds: float, run_id: str,
        inputs: str | None = None, columns: list[str] | None = None,
    ) -> None:  # fmt: skip
        """Mark ``window`` DONE (after its file, of ``columns``, is in place), computed from
        ``inputs``."""
        self.con.execute(
            "UPDATE job_windows SET status = 'DONE', final = ?, rows = ?, finished_at = ?, "
            "seconds = ?, run_id = ?, inputs = ?, columns = ? WHERE job = ? AND window_key = ?",
            [final, rows, utcnow(), seconds, run_id, inputs,
             None if columns is None else json.dumps(columns), job, window.key],
        )  # fmt: skip

    def record_columns(self, job: str, columns: dict[str, list[str]]) -> None:
        """Record the columns of window files written before they were recorded (by key)."""
        if not columns:
            return
        self.con.executemany(
            "UPDATE job_windows SET columns = ? WHERE job = ? AND window_key = ?",
            [[json.dumps(cols), job, key] for key, cols in columns.items()],
        )

    def export_digests(self, version: str) -> list[tuple[str, str, int, int]] | None:
        """The export tallies kept for ``version`` (``export, item, rows, hash``), or None."""
        rows = self.con.execute(
            "SELECT export, item, rows, hash FROM export_digests WHERE version = ?", [version]
        ).fetchall()
        return [r for r in rows if r[0]] if rows else None

    def keep_export_digests(self, version: str, frame: pl.DataFrame) -> None:
        """Keep the tallies of ``version`` (:func:`analytics.windows.digest_exports`) in place
        of any earlier version's, in one transaction."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DELETE FROM export_digests")
            self.con.execute("INSERT INTO export_digests VALUES (?, '', '', 0, 0)", [version])
            self.con.register("_digests", frame.to_arrow())
            self.con.execute(
                "INSERT INTO export_digests SELECT ?, export, item, rows, hash FROM _digests",
                [version],
            )
            self.con.unregister("_digests")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def run_started(self, run_id: str, job: str, mode: str) -> None:
        self.con.execute(
            "INSERT INTO job_runs VALUES (?, ?, ?, ?, NULL, 'running', NULL, NULL, NULL, NULL, "
            "NULL)",
            [run_id, job, mode, utcnow()],
        )

    def run_finished(
        self, run_id: str, job: str, *, status: str, windows: int, rows: int, seconds: float,
        notes: list[str], error: str | None = None,
    ) -> None:  # fmt: skip
        self.con.execute(
            "UPDATE job_runs SET finished_at = ?, status = ?, windows = ?, rows = ?, seconds = ?, "
            "notes = ?, error = ? WHERE run_id = ? AND job = ?",
            [utcnow(), status, windows, rows, seconds, json.dumps(notes), error, run_id, job],
        )

    def status(self) -> list[dict[str, Any]]:
        """Per job: windows DONE (final / open), STARTED, rows, and its last run."""
        rows = self.con.execute(
            """
            WITH w AS (
                SELECT job,
                       count(*) FILTER (WHERE status = 'DONE' AND final) AS final_windows,
                       count(*) FILTER (WHERE status = 'DONE' AND NOT final) AS open_windows,
                       count(*) FILTER (WHERE status = 'STARTED') AS started_windows,
                       sum(rows) FILTER (WHERE status = 'DONE') AS rows,
                       max(window_key) FILTER (WHERE status = 'DONE') AS last_window
                FROM job_windows GROUP BY job
            ), r AS (
                SELECT job, started_at, status, seconds, windows, notes, error,
                       row_number() OVER (PARTITION BY job ORDER BY started_at DESC) AS n
                FROM job_runs
            )
            SELECT coalesce(w.job, r.job), w.final_windows, w.open_windows, w.started_windows,
                   w.rows, w.last_window, r.started_at, r.status, r.seconds, r.windows, r.notes,
                   r.error
            FROM w FULL JOIN (SELECT * FROM r WHERE n = 1) r ON r.job = w.job
            ORDER BY 1
            """
        ).fetchall()
        keys = ("job", "final_windows", "open_windows", "started_windows", "rows", "last_window",
                "last_run_at", "last_status", "last_seconds", "last_windows", "notes", "error")  # fmt: skip
        out = []
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["notes"] = json.loads(item["notes"]) if item["notes"] else []
            out.append(item)
        return out
