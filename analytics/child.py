"""Report jobs run by the service happen in a child process, never on its event loop's GIL.

Most of a job is Polars (which releases the GIL), but rendering the dashboards after a run is
Python turning report rows into chart data, and held the service's event loop for up to 1.1 s
on the 10M-event benchmark warehouse when it ran on a worker thread
(``benchmarks/job_isolation.py``): every chat message of that second waited. A child process
has its own interpreter and runs at a lower CPU priority (``nice`` +10), so on a small machine
the chat keeps the cores it needs.

The parent writes the service's effective settings (msgspec JSON, secrets included, so the
child sees exactly what the service was started with; they go through a pipe, never argv or
the environment) and the job names (or "render the dashboards only", for a page requested
before any run wrote it) to the child's stdin; the child answers one JSON document
on stdout: its pid and the :class:`~analytics.runner.JobResult` of every job. Its logs go to
the service's stderr. Cancelling the caller kills the child: a run is crash-safe (windows are
written idempotently and watermarks only after a window is written), so the next run redoes
whatever was cut.

    python -m analytics.child < request.json
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import Any

import msgspec

from analytics.runner import JobResult

log = logging.getLogger(__name__)

NICENESS = 10
"""How much lower than the service the child's CPU priority is."""


class JobRequest(msgspec.Struct, forbid_unknown_fields=True):
    settings: msgspec.Raw
    names: list[str] | None = None
    full: bool = False
    render_only: bool = False
    """Run no job: only render the dashboards from the reports there are."""


class JobReply(msgspec.Struct):
    pid: int
    results: list[dict[str, Any]] = msgspec.field(default_factory=list)
    error: str | None = None
    """Why no job ran (an unknown job name, the watermarks held by another process)."""


class ChildFailed(RuntimeError):
    """The job process ended without a reply, or could not run the jobs at all."""


async def run_in_child(settings: Any, names: list[str] | None = None, *, full: bool = False,
                       ) -> tuple[int, list[JobResult]]:  # fmt: skip
    """Run ``names`` (every job when None) in a new process; ``(its pid, the results)``.

    Raises:
        ChildFailed: the process crashed or refused the request (the message says why).
    """
    reply = await _ask(JobRequest(settings=_raw(settings), names=names, full=full))
    return reply.pid, msgspec.convert(reply.results, list[JobResult])


async def render_in_child(settings: Any) -> int:
    """Render the dashboards from the existing reports in a new process; its pid.

    Raises:
        ChildFailed: the process crashed (the message says why).
    """
    return (await _ask(JobRequest(settings=_raw(settings), render_only=True))).pid


def _raw(settings: Any) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(settings))


async def _ask(request: JobRequest) -> JobReply:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "analytics.child",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
    )  # fmt: skip
    try:
        out, _ = await proc.communicate(msgspec.json.encode(request))
    except BaseException:  # cancelled (service stopping): a run is crash-safe, so cut it short
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    try:
        reply = msgspec.json.decode(out, type=JobReply)
    except msgspec.DecodeError:
        raise ChildFailed(f"report job process exited with code {proc.returncode} "
                          "without a reply (its log is above)") from None  # fmt: skip
    if reply.error:
        raise ChildFailed(reply.error)
    return reply


def main() -> int:
    """The child: read a :class:`JobRequest` on stdin, run it, write a :class:`JobReply`."""
    from analytics.runner import Runner, UnknownJob
    from analytics.state import StateBusy
    from service.settings import Settings

    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )  # fmt: skip
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=JobRequest)
    settings = msgspec.json.decode(request.settings, type=Settings)
    reply = JobReply(pid=os.getpid())
    if request.render_only:
        from dashboards import render_all

        render_all(settings)
        sys.stdout.buffer.write(msgspec.json.encode(reply))
        sys.stdout.flush()
        return 0
    try:
        results = Runner.from_settings(settings, progress=False).run(request.names, full=request.full)
    except (UnknownJob, StateBusy) as exc:
        reply.error = str(exc)
    else:
        reply.results = [msgspec.to_builtins(r) for r in results]
    sys.stdout.buffer.write(msgspec.json.encode(reply))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
