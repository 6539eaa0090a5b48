"""``/dashboards``: the dashboard pages behind the dashboard access key.

- ``GET /dashboards`` and ``/dashboards/`` redirect to ``/dashboards/index.html``;
  ``GET /dashboards/<page>.html`` serves a page (gzip when accepted).
- ``GET /dashboards/login`` shows a small form; ``POST /dashboards/login`` checks the key
  and sets the session cookie; ``POST /dashboards/logout`` clears it.
- Without a session, a browser is redirected to the form; a request that sent an
  ``Authorization`` header with a wrong key gets ``401 dashboard_key_invalid``.
- Without a configured key (production without ``dashboards.access_key``) the pages stay
  closed (404 with the setting to fix), never open.

The page store reads ``app.state.settings`` and, when the service forwards events,
``app.state.forwarder`` for live sink health.
"""

from __future__ import annotations

import html
import logging
import posixpath
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect

from dashboards import auth
from dashboards.page import CSP, asset
from dashboards.paths import MOUNT
from dashboards.serve import PageStore, UnknownPage
from service.errors import ErrorCode, SidelineError

log = logging.getLogger(__name__)

HEADERS = {
    "Cache-Control": "private, no-cache",
    "Content-Security-Policy": CSP + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _state(request: Request[Any, Any, Any]) -> tuple[PageStore, auth.LoginThrottle, str, float]:
    state = request.app.state
    settings = state.settings
    if getattr(state, "dashboard_pages", None) is None:
        forwarder = getattr(state, "forwarder", None)
        state.dashboard_pages = PageStore(settings, forwarder.status if forwarder else None)
        state.dashboard_throttle = auth.LoginThrottle()
    key = settings.dashboards.access_key
    if not key:
        raise SidelineError(ErrorCode.NOT_FOUND, "dashboards are closed on this node: set "
                            "dashboards.access_key (SIDELINE_DASHBOARDS__ACCESS_KEY)")  # fmt: skip
    return state.dashboard_pages, state.dashboard_throttle, key, settings.dashboards.session_hours


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "?"


def _refuse_if_blocked(throttle: auth.LoginThrottle, client: str) -> None:
    wait = throttle.blocked(client)
    if wait > 0:
        raise SidelineError(ErrorCode.RATE_LIMITED, "too many wrong dashboard keys from "
                            "this address; try again later", retry_after=wait)  # fmt: skip


def _signed_in(request: Request[Any, Any, Any], key: str, throttle: auth.LoginThrottle) -> bool:
    """A valid session cookie, or a bearer key; a key is a guess like a login, so it goes
    through the same throttle."""
    given = auth.bearer_key(request.headers.get("authorization"))
    if given is not None:
        client = _client(request)
        _refuse_if_blocked(throttle, client)
        if not auth.key_matches(given, key):
            throttle.failed(client)
            raise SidelineError(ErrorCode.DASHBOARD_KEY_INVALID, "wrong dashboard access key",
                                at="Authorization")  # fmt: skip
        throttle.succeeded(client)
        return True
    return auth.session_valid(request.cookies.get(auth.COOKIE), key)


def _over_https(request: Request[Any, Any, Any]) -> bool:
    """Whether browsers reach us over https: this request came so (directly, or through a
    proxy uvicorn trusts), or the operator's ``server.public_url`` is https, as behind a
    TLS-terminating proxy whose address is not trusted for forwarded headers."""
    public = str(request.app.state.settings.server.public_url)
    return request.url.scheme == "https" or public.lower().startswith("https://")


def _safe_next(target: str | None) -> str:
    # Only a page of ours: no scheme, no other host, no path outside the dashboards (after
    # resolving "..", which a browser would).
    if target and "//" not in target and "\\" not in target:
        path, sep, query = target.partition("?")
        resolved = posixpath.normpath(path)
        if resolved.startswith(MOUNT + "/"):
            return resolved + sep + query
    return f"{MOUNT}/index.html"


def _key_file(request: Request[Any, Any, Any]) -> Path | None:
    """Where a development node's key is kept, looked up once (production names no file)."""
    state = request.app.state
    if not hasattr(state, "dashboard_key_file"):
        settings = state.settings
        state.dashboard_key_file = (
            auth.dev_key_file(settings.data_path, settings.dashboards.access_key)
            if settings.env != "production"
            else None
        )
    found: Path | None = state.dashboard_key_file
    return found


def _where_the_key_is(key_file: Path | None) -> str:
    if key_file is not None:
        return (f"on this development node it is <code>dashboard_access_key</code> in "
                f"<code>{html.escape(str(key_file))}</code>")  # fmt: skip
    return "ask whoever runs Sideline; it is the setting <code>dashboards.access_key</code>"


def login_page(next_path: str, error: str = "", key_file: Path | None = None) -> str:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Sideline dashboards</title><style>{asset("dashboard.css")}</style></head>
<body><main class="login card"><h1>Community dashboards</h1>
<p class="intro">Enter the dashboard access key ({_where_the_key_is(key_file)}).</p>{message}
<form method="post" action="{MOUNT}/login"><label for="key">Access key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit">Sign in</button></form></main>
<script>{_KEEP_HASH}</script></body></html>"""


_KEEP_HASH = """(function () {
  // A page's filters and drill-down live in its URL hash (#range=7d&kind=match), which the
  // browser keeps on the redirect here but never sends: carry it to the page signed in to.
  var next = document.querySelector('input[name="next"]');
  if (next && location.hash && next.value.indexOf("#") < 0) next.value += location.hash;
})();"""


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=HEADERS)


class DashboardController(Controller):
    path = MOUNT
    tags: ClassVar[list[str]] = ["dashboards"]  # type: ignore[misc]
    include_in_schema = False

    @get("/", name="dashboards:root")
    async def root(self) -> Redirect:
        return Redirect(f"{MOUNT}/index.html", status_code=303)

    @get("/login", name="dashboards:login-form")
    async def login_form(
        self, request: Request[Any, Any, Any],
        next_path: Annotated[str | None, QueryParameter(name="next")] = None,
    ) -> Response[str]:  # fmt: skip
        pages, *_ = _state(request)
        pages.warm()  # rendered while the key is typed
        return _html(login_page(_safe_next(next_path), key_file=_key_file(request)))

    @post("/login", name="dashboards:login", status_code=303)
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        _pages, throttle, key, hours = _state(request)
        client = _client(request)
        form = await request.form()
        target = _safe_next(str(form.get("next") or ""))
        _refuse_if_blocked(throttle, client)
        if not auth.key_matches(str(form.get("key") or ""), key):
            throttle.failed(client)
            log.info("dashboard login refused from %s", client)
            wrong = "That is not the dashboard access key."
            refused = login_page(target, wrong, _key_file(request))
            return _html(refused, 401)
        throttle.succeeded(client)
        value, max_age = auth.session_value(key, hours)
        response: Response[Any] = Redirect(target, status_code=303)
        response.set_cookie(auth.COOKIE, value, max_age=max_age, path=MOUNT, httponly=True,
                            samesite="strict", secure=_over_https(request))  # fmt: skip
        return response

    @post("/logout", name="dashboards:logout", status_code=303)
    async def logout(self) -> Response[Any]:
        response: Response[Any] = Redirect(f"{MOUNT}/login", status_code=303)
        response.delete_cookie(auth.COOKIE, path=MOUNT)
        return response

    @get("/{name:str}", name="dashboards:page")
    async def page(self, request: Request[Any, Any, Any], name: str) -> Response[Any]:
        pages, throttle, key, _hours = _state(request)
        slug = name.removesuffix(".html")
        if not name.endswith(".html"):
            raise SidelineError(ErrorCode.NOT_FOUND, f"no dashboard {name!r}", at="$.path")
        if not _signed_in(request, key, throttle):
            return Redirect(f"{MOUNT}/login?next={quote(f'{MOUNT}/{name}')}", status_code=303)
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "")
        try:
            body, zipped = await pages.page(slug, gzip_ok)
        except UnknownPage:
            raise SidelineError(ErrorCode.NOT_FOUND, f"no dashboard {name!r}", at="$.path") from None
        headers = {**HEADERS, "Vary": "Accept-Encoding"}
        if zipped:
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=MediaType.HTML, headers=headers)
