"""The dashboard access key: checking it, the login session cookie, and a login throttle.

The key never travels in a URL. A browser signs in through a form and gets a session cookie
(HttpOnly, SameSite=Strict, path ``/dashboards``) whose value is an expiry and an HMAC of it
keyed by the access key, so the key itself is never stored in the browser and changing the
key ends every session. Scripts send ``Authorization: Bearer <key>`` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import tomllib
from collections import deque
from pathlib import Path

COOKIE = "sideline_dashboards"
_CONTEXT = b"sideline-dashboards-session-v1:"


def _mac(key: str, expires: int) -> str:
    return hmac.new(key.encode(), _CONTEXT + str(expires).encode(), hashlib.sha256).hexdigest()


def key_matches(given: str, key: str) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    return bool(key) and hmac.compare_digest(given.encode(), key.encode())


def session_value(key: str, hours: float, now: float | None = None) -> tuple[str, int]:
    """A cookie value valid for ``hours``, and its max-age in seconds."""
    max_age = max(60, int(hours * 3600))
    expires = int(now if now is not None else time.time()) + max_age
    return f"{expires}.{_mac(key, expires)}", max_age


def session_valid(value: str | None, key: str, now: float | None = None) -> bool:
    """Whether a cookie value was issued with ``key`` and has not expired."""
    if not value or not key:
        return False
    expires_text, _, mac = value.partition(".")
    if not expires_text.isdigit():
        return False
    expires = int(expires_text)
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, expires).encode())


def dev_key_file(data_dir: Path, key: str) -> Path | None:
    """The development secrets file when the key in effect is the one it holds, else None.

    Only the file's location is ever shown (on the login form), never what it holds; a key set
    in the settings, or a missing or unreadable file, names no file.
    """
    path = data_dir / "dev-secrets.toml"
    try:
        stored = str(tomllib.loads(path.read_text()).get("dashboard_access_key", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return path if key_matches(stored, key) else None


def bearer_key(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class LoginThrottle:
    """At most ``attempts`` failed logins per client in ``window`` seconds."""

    def __init__(self, attempts: int = 10, window: float = 300.0, max_clients: int = 10_000) -> None:
        self.attempts = attempts
        self.window = window
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str, now: float | None = None) -> float:
        """Seconds until ``client`` may try again (0 when it may now)."""
        now = now if now is not None else time.monotonic()
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < self.attempts:
            return 0.0
        return failures[0] + self.window - now

    def failed(self, client: str, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._make_room(now)
        self._failures.setdefault(client, deque(maxlen=self.attempts)).append(now)

    def _make_room(self, now: float) -> None:
        """Bounded memory under a spray of addresses, without ever unblocking a blocked one
        while an unblocked one could go instead: forget expired failures first, then clients
        below the limit, oldest first; blocked clients only when nothing else is left."""
        for client in [c for c, f in self._failures.items() if f[-1] <= now - self.window]:
            del self._failures[client]
        if len(self._failures) < self.max_clients:
            return
        below = [c for c, f in self._failures.items() if len(f) < self.attempts]
        victims = below or list(self._failures)
        for client in victims[: len(self._failures) - self.max_clients + 1]:
            del self._failures[client]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
