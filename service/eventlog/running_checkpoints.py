"""State checkpoints while the service runs, written by a forked child process.

A clean stop writes a checkpoint (:mod:`service.eventlog.checkpoint`); a node killed, or one
that crashed, starts from its last one and folds every event after it, however many were
committed since. So every ``log.checkpoint_every_events`` committed events the running node
writes one too. Writing means encoding the whole state (~3 s a million events here), which
would hold the event loop, and every room with it, for as long. Instead the loop forks: the
child is a copy of the process at that instant, so its state is exactly the fold of the log up
to the last applied seq, and it encodes and writes the file while the parent goes on serving.
The parent pauses for the fork only (its page tables: ~20-50 ms at a 1 GB state), and memory
grows by the pages the child copies as it reads them (at most the state's size, for the few
seconds the child runs).

The child touches nothing the parent owns: it closes every inherited descriptor (sockets,
the log's file, Redis) before it writes, so a restart after the parent is killed can bind its
port again; it ignores Ctrl-C (the parent decides: a stop kills it); it reports through a pipe
and leaves with ``os._exit``, so no cleanup of the parent's runs twice. A child that dies
writes nothing: the file is replaced atomically, or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from pathlib import Path
from typing import NoReturn

from service.domain.state import CommunityState
from service.eventlog.checkpoint import CheckpointLog, usable_seq, write

log = logging.getLogger("sideline.checkpoint")

_SETTLE_TRIES = 200
_SETTLE_SECONDS = 0.01
"""How long a due checkpoint waits for the state to catch up with the log (the events of the
last commit are applied a moment after it): up to 200 times 10 ms, then until the next commit."""


class RunningCheckpoints:
    """A background part: a checkpoint every ``every`` committed events, by a forked child."""

    def __init__(
        self, path: Path, state: CommunityState, event_log: CheckpointLog, *, every: int
    ) -> None:
        self._path = path
        self._state = state
        self._log = event_log
        self._every = every
        self.checkpoint_seq = 0
        """The seq of the newest checkpoint a start would use: a node killed now folds the
        log's events after it."""
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._child: int | None = None
        self._stopping = False
        self.written = 0
        """Checkpoints written since the start (for tests and metrics)."""
        self.last_said = ""
        """What the last attempt came to, as logged."""

    def notify(self, last_seq: int) -> None:
        """A commit listener: events up to ``last_seq`` are committed and applied."""
        if last_seq - self.checkpoint_seq >= self._every:
            self._due.set()

    async def start(self) -> None:
        self.checkpoint_seq = usable_seq(self._path, self._state, self._log)
        self._task = asyncio.create_task(self._run(), name="state-checkpoints")

    async def stop(self) -> None:
        """Stop; a child still writing is killed, and reaped before this returns (the clean
        stop then writes a newer checkpoint through the same temporary file)."""
        self._stopping = True
        if self._child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._child, signal.SIGKILL)
            for _ in range(1000):  # the wait on its thread sees it end at once
                if self._child is None:
                    break
                await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            if self._log.last_seq - self.checkpoint_seq < self._every:
                continue  # woken by commits made while the last one was being written
            if self._state.holds_remote:
                return  # many nodes: the state is no longer the fold of this log alone
            if not await self._settled():
                continue
            try:
                said = await self.write_now()
            except OSError as exc:
                if self._stopping:
                    return
                log.error("state checkpoint not written to %s: %s", self._path, exc)
                await asyncio.sleep(60)  # a full disk: not again at every commit
                continue
            log.info("%s", said)

    async def _settled(self) -> bool:
        """Whether the state reached the log's last seq (waiting a little for it)."""
        for _ in range(_SETTLE_TRIES):
            if self._state.last_seq == self._log.last_seq:
                return True
            await asyncio.sleep(_SETTLE_SECONDS)
        return False

    async def write_now(self) -> str:
        """Fork a child that writes the checkpoint of the state as it is now; returns what
        it did. Raises ``OSError`` when it could not (no fork, or the child's write failed)."""
        seq = self._state.last_seq
        read_end, write_end = os.pipe()
        started = time.perf_counter()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: never returns
            _child(write_end, self._path, self._state, self._log)
        paused = time.perf_counter() - started
        os.close(write_end)
        self._child = pid
        try:
            said, status = await asyncio.to_thread(_wait_for, pid, read_end)
        finally:
            self._child = None
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise OSError(f"the checkpoint's child process ended with {code}: {said or 'no word'}")
        if said.startswith("state checkpoint written"):
            self.checkpoint_seq = seq
            self.written += 1
        self.last_said = f"{said}; the service paused {paused * 1000:.0f} ms to fork the writer"
        return self.last_said


def _child(out: int, path: Path, state: CommunityState, event_log: CheckpointLog) -> NoReturn:
    """In the forked child: write the checkpoint, report on ``out``, leave at once."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.disable()  # nothing it makes is garbage, and a collection would copy every page
        os.closerange(3, out)
        os.closerange(out + 1, os.sysconf("SC_OPEN_MAX"))
        try:
            said = write(path, state, event_log)
        except OSError as exc:
            said, code = f"{type(exc).__name__}: {exc}", 1
        else:
            said += _memory_of_its_own()
        os.write(out, said.encode()[:4000])
    except BaseException:  # nothing of the parent's may run here: no traceback, no cleanup
        code = 2
    finally:
        os._exit(code)


def _memory_of_its_own() -> str:
    """The memory the child added to the machine's: the pages it copied from the parent as it
    read them, and what it built (Linux; empty elsewhere)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))
    except (OSError, StopIteration, ValueError):
        return ""
    return f"; the writer process used {kb / 1024:.0f} MB of memory of its own"


def _wait_for(pid: int, read_end: int) -> tuple[str, int]:
    """What the child said, and how it ended (a blocking wait, on a thread)."""
    chunks = []
    try:
        while chunk := os.read(read_end, 4096):
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace"), status
