"""The check every sink's configured URL passes (the moderation provider's ``base_url`` has
its own: it may carry a gateway's credentials)."""

from __future__ import annotations

from urllib.parse import urlsplit


def check_http_url(url: str, key: str, *, host_only: bool = False) -> None:
    """Refuse ``url`` unless it is an http(s) URL with a host (with ``host_only``, a host name
    and nothing else): anything else fails every request at run time, so it stops the start.

    Credentials in the URL (``https://user:secret@host``) are refused too, and the error does
    not repeat them: secrets come from the environment, where the service knows them as secrets
    and keeps them out of logs, errors and status; a URL is shown wherever the sink is."""
    if not _is_http_url(f"https://{url}" if host_only else url, host_only=host_only):
        expected = "a host name (no scheme or path)" if host_only else "an http(s) URL"
        raise ValueError(f"Expected {expected}, got {url!r} in `{key}`")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        shown = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
        raise ValueError(
            "Expected an http(s) URL without credentials (a key is set through the destination's "
            f"secret setting, from the environment), got {shown!r} in `{key}`"
        )


def _is_http_url(url: str, *, host_only: bool) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, a broken IPv6 literal
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return False
    return not host_only or not (parts.path or parts.query or parts.fragment or parts.username)
