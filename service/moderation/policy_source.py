"""Which moderation policy the service applies to a room kind: for ``sideline moderate``.

The service's policies are the configured ones, replaced by every change made through the
admin API (``moderation_policy_changed`` events, re-applied at each start). A dry run that read
the configuration only tested another policy than the service's without a word. So the dry
run reads the changes from the node's event log, the way the service does at start; while the
service runs it holds the log (DuckDB lets one process open it), and the policy is asked of the
service's admin API instead. Either way it says which policy it used and where from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec

from service import duck
from service.moderation.settings import Policy
from service.settings import Settings, ensure_dev_secrets

_LOGGED = (
    "SELECT occurred_at, payload FROM events WHERE event_type = 'moderation_policy_changed' "
    "ORDER BY seq"
)


class PolicySourceError(Exception):
    """The policy cannot be told (an unknown kind, a log neither readable nor served): the dry
    run stops with exit code 2 rather than test another policy."""


@dataclass
class Resolved:
    """The policy a dry run applies, with what to apply to the pipeline and what to tell."""

    name: str
    """The policy's name (``MessageContext.room_kind`` of every line)."""
    changes: dict[str, Policy] = field(default_factory=dict)
    """Policies to set on the pipeline over the configured ones (changes made at run time)."""
    source: str = ""
    """Which policy, and where it was read: one line for stderr."""


def resolve(settings: Settings, kind: str, *, url: str | None, configured_only: bool) -> Resolved:
    """The policy rooms of ``kind`` are checked by (or the policy named ``kind``).

    Raises:
        PolicySourceError: ``kind`` is neither a room kind nor a policy, a logged policy is
            invalid, or the log is held by a process whose admin API does not answer.
    """
    if configured_only:
        name = _name(settings, kind, {})
        return Resolved(name, source=f"{_which(settings, kind, name, {})} from the configuration only "
                                     "(--configured-only: changes made through the admin API are not applied)")  # fmt: skip
    path = settings.log_path
    if not path.exists():
        name = _name(settings, kind, {})
        return Resolved(name, source=f"{_which(settings, kind, name, {})} from the configuration "
                                     f"(no event log at {path})")  # fmt: skip
    try:
        logged = _read_log(path)
    except _Busy:
        return _ask_service(settings, kind, url or service_url(settings), path)
    changes = {k: _parse(raw, f"the change of policy {k!r} logged at {at.isoformat()}")
               for k, (at, raw) in logged.items()}  # fmt: skip
    name = _name(settings, kind, changes)
    which = _which(settings, kind, name, changes)
    effective = name if name in changes or name in settings.moderation.policies else "default"
    if effective in logged:
        where = f"as changed through the admin API at {logged[effective][0].isoformat()} (read from {path})"
    else:
        where = f"from the configuration (no change of it in {path})"
    return Resolved(name, changes, f"{which} {where}")


def service_url(settings: Settings) -> str:
    """The running service's address, from the settings (as ``sideline sinks`` finds it)."""
    host = settings.server.host
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    return f"http://{host}:{settings.server.port}"


class _Busy(Exception):
    pass


def _read_log(path: Path) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The latest logged change of each policy: ``{name: (when, raw policy)}``."""
    try:
        con = duck.connect(path, read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _Busy from exc
        raise PolicySourceError(f"the event log {path} cannot be read: {exc}") from exc
    try:
        try:
            rows = con.execute(_LOGGED).fetchall()
        except duckdb.CatalogException:  # a log file created but never written
            rows = []
    finally:
        con.close()
    latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for at, payload in rows:
        p = msgspec.json.decode(payload)
        latest[p["kind"]] = (at, p["policy"])
    return latest


def _parse(raw: dict[str, Any], what: str) -> Policy:
    """A logged policy, checked as the service checks it at start (which stops on a bad one)."""
    try:
        policy = msgspec.convert(raw, Policy)
        policy.validate("$.policy")
    except (msgspec.ValidationError, ValueError) as exc:
        raise PolicySourceError(f"{what} is invalid (the service would not start): {exc}") from exc
    return policy


def _name(settings: Settings, kind: str, changes: dict[str, Policy]) -> str:
    """``kind``'s policy name, as the admin API resolves it (``actions.policies.policy_name``)."""
    if kind in settings.rooms:
        return settings.policy_name(kind)
    if kind == "default" or kind in settings.moderation.policies or kind in changes:
        return kind
    kinds = ", ".join(sorted(settings.rooms))
    names = ", ".join(sorted({"default", *settings.moderation.policies, *changes}))
    raise PolicySourceError(
        f"--policy {kind[:64]!r} is neither a room kind (kinds: {kinds}) nor a moderation policy "
        f"(policies: {names})"
    )


def _which(settings: Settings, kind: str, name: str, changes: dict[str, Policy]) -> str:
    """``policy 'strict' (room kind 'match')``; a name without a policy of its own checks by
    ``default``, as the pipeline does."""
    own = name in changes or name in settings.moderation.policies
    said = f"policy {name!r}" if own else f"policy 'default' ({name!r} has none of its own)"
    return f"{said} for room kind {kind!r}" if kind in settings.rooms else said


def _ask_service(settings: Settings, kind: str, url: str, path: Path) -> Resolved:
    """The policy as the running service has it, through its admin API."""
    if settings.env != "production" and (settings.data_path / "dev-secrets.toml").exists():
        ensure_dev_secrets(settings)  # the development admin key the service uses
    target = f"{url.rstrip('/')}/v1/admin/moderation/policies/{kind}"
    try:
        answer = httpx.get(target, headers={"X-Admin-Key": settings.admin.api_key}, timeout=10)
    except httpx.HTTPError as exc:
        raise PolicySourceError(
            f"the event log {path} is held by another process (the service?) and no service "
            f"answered at {url} ({exc}); pass --url, or --configured-only to test the configured "
            "policies alone"
        ) from exc
    if answer.status_code != 200:
        raise PolicySourceError(f"the service at {url} refused {target}: HTTP {answer.status_code} {answer.text[:300]}")
    try:
        policy = msgspec.json.decode(answer.content, type=Policy)
    except msgspec.ValidationError as exc:
        raise PolicySourceError(f"the service at {url} answered a policy this version cannot read: {exc}") from exc
    name = settings.policy_name(kind) if kind in settings.rooms else kind
    label = f"policy {name!r} for room kind {kind!r}" if kind in settings.rooms else f"policy {name!r}"
    return Resolved(name, {name: policy}, f"{label} as the running service applies it "
                                          f"(read from {url}: it holds the log {path})")  # fmt: skip
