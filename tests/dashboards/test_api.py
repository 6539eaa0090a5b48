"""``/dashboards`` over real HTTP: the access key, the session cookie, pages, live sink status.

A real uvicorn server on 127.0.0.1 runs a Litestar app with the dashboard controller and the
service's error handler (the whole service is exercised by the browser test).
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar

from dashboards.api import DashboardController
from service.api.errors import handle_sideline_error
from service.errors import SidelineError
from service.settings import ensure_dev_secrets, load_settings
from service.sinks.status import SinkStatus
from tests.fixtures.server import free_port

KEY = "correct-horse-battery-staple"


class Forwarder:
    """Stands in for the service's forwarder: only ``status()`` is read by the dashboards."""

    def __init__(self) -> None:
        self.lag = 7

    def status(self) -> list[SinkStatus]:
        return [SinkStatus(name="segment-main", kind="segment", state="idle", cursor=10,
                           last_seq=10 + self.lag, lag=self.lag)]  # fmt: skip


def serve(settings: Any, forwarder: Forwarder | None = None, apps: list[Litestar] | None = None,
          ) -> Iterator[str]:  # fmt: skip
    app = Litestar(route_handlers=[DashboardController],
                   exception_handlers={SidelineError: handle_sideline_error})  # fmt: skip
    if apps is not None:
        apps.append(app)
    app.state.settings = settings
    if forwarder is not None:
        app.state.forwarder = forwarder
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def site(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Forwarder]]:
    shutil.copytree(demo_dir / "dashboards", tmp_path / "dashboards")
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path),
                                      "SIDELINE_DASHBOARDS__ACCESS_KEY": KEY})  # fmt: skip
    forwarder = Forwarder()
    for url in serve(settings, forwarder):
        yield url, forwarder


def test_a_browser_without_a_session_is_sent_to_the_login_form(site):
    url, _ = site
    with httpx.Client(base_url=url) as c:
        r = c.get("/dashboards")
        assert (r.status_code, r.headers["location"]) == (303, "/dashboards/index.html")
        r = c.get("/dashboards/events.html")
        assert (r.status_code, r.headers["location"]) == (303, "/dashboards/login?next=/dashboards/events.html")
        form = c.get("/dashboards/login", params={"next": "/dashboards/events.html"})
        assert form.status_code == 200 and 'type="password"' in form.text
        assert 'name="next" value="/dashboards/events.html"' in form.text
        assert KEY not in form.text


def test_the_login_form_names_the_real_file_of_a_development_key(tmp_path: Path):
    # sideline demo runs in a temporary folder: the form names that file, never a guess.
    data = tmp_path / "demo-folder"
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(data)})
    ensure_dev_secrets(settings)
    key = settings.dashboards.access_key
    for url in serve(settings):
        form = httpx.get(f"{url}/dashboards/login").text
        where = data / "dev-secrets.toml"
        assert f"<code>dashboard_access_key</code> in <code>{where}</code>" in form
        assert "<code>data/dev-secrets.toml" not in form and key not in form
        assert settings.admin.api_key not in form and settings.auth.hs256_secret not in form


def test_the_login_form_of_a_configured_key_names_no_file(site):
    url, _ = site
    form = httpx.get(f"{url}/dashboards/login").text
    assert "dev-secrets.toml" not in form and KEY not in form
    assert "<code>dashboards.access_key</code>" in form


def test_login_sets_an_httponly_samesite_strict_cookie_that_opens_the_pages(site):
    url, _ = site
    with httpx.Client(base_url=url) as c:
        r = c.post("/dashboards/login", data={"key": KEY, "next": "/dashboards/events.html"})
        assert (r.status_code, r.headers["location"]) == (303, "/dashboards/events.html")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("sideline_dashboards=") and KEY not in cookie
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/dashboards", "Max-Age=43200"):
            assert attribute in cookie
        page = c.get("/dashboards/events.html")
        assert page.status_code == 200 and "<h1>Events</h1>" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "private, no-cache"
        out = c.post("/dashboards/logout")
        assert out.status_code == 303 and 'sideline_dashboards=""' in out.headers["set-cookie"]
        c.cookies.clear()
        assert c.get("/dashboards/events.html").status_code == 303


def test_the_cookie_is_secure_when_browsers_reach_the_service_over_https(tmp_path: Path):
    # Behind a TLS-terminating proxy the service itself sees http; the https public URL the
    # operator sets for that proxy is what browsers use, so the cookie must be Secure.
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path),
                                      "SIDELINE_DASHBOARDS__ACCESS_KEY": KEY,
                                      "SIDELINE_SERVER__PUBLIC_URL": "https://chat.example.org"})  # fmt: skip
    for url in serve(settings):
        r = httpx.post(f"{url}/dashboards/login", data={"key": KEY})
        assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]


def test_the_cookie_is_not_secure_over_plain_http_without_an_https_public_url(site):
    url, _ = site
    r = httpx.post(f"{url}/dashboards/login", data={"key": KEY})
    assert r.status_code == 303 and "Secure" not in r.headers["set-cookie"]
    # A proxy on this host that says it took https is trusted (uvicorn's forwarded_allow_ips).
    r = httpx.post(f"{url}/dashboards/login", data={"key": KEY},
                   headers={"X-Forwarded-Proto": "https"})  # fmt: skip
    assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]


def test_wrong_keys_are_refused_and_throttled(site):
    url, _ = site
    with httpx.Client(base_url=url) as c:
        bad = c.get("/dashboards/overview.html", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json() == {"error": {"code": "dashboard_key_invalid",
                                        "message": "wrong dashboard access key", "at": "Authorization"}}
        # The key in a query string opens nothing.
        assert c.get("/dashboards/overview.html", params={"key": KEY}).status_code == 303
        c.cookies.set("sideline_dashboards", "9999999999.00", path="/dashboards")
        assert c.get("/dashboards/overview.html").status_code == 303  # a forged session
        c.cookies.clear()
        for _ in range(9):  # the wrong bearer key above was the first of ten guesses
            r = c.post("/dashboards/login", data={"key": "guess"})
            assert r.status_code == 401 and "That is not the dashboard access key." in r.text
        r = c.post("/dashboards/login", data={"key": KEY})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


def test_bearer_keys_are_throttled_like_logins(site):
    """A bearer key is a guess like a login: ten wrong ones block the address for every way
    in (the right key included, as for the form), and wrong form logins count for it too."""
    url, _ = site
    with httpx.Client(base_url=url) as c:
        for i in range(10):
            r = c.get("/dashboards/overview.html", headers={"Authorization": f"Bearer guess-{i}"})
            assert r.status_code == 401
        for headers in ({"Authorization": "Bearer guess-10"}, {"Authorization": f"Bearer {KEY}"}):
            r = c.get("/dashboards/overview.html", headers=headers)
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
            assert int(r.headers["retry-after"]) > 0
        assert c.post("/dashboards/login", data={"key": KEY}).status_code == 429


def test_login_never_redirects_off_the_dashboards(site):
    url, _ = site
    with httpx.Client(base_url=url) as c:
        for target in ("https://evil.example/", "//evil.example/x", "/v1/admin/sinks",
                       "/dashboards/..//evil", "/dashboards/../v1/admin/sinks",
                       "/dashboards/./../v1"):  # fmt: skip
            r = c.post("/dashboards/login", data={"key": KEY, "next": target})
            assert r.headers["location"] == "/dashboards/index.html", target
        r = c.post("/dashboards/login", data={"key": KEY, "next": "/dashboards/a/../events.html?x=1"})
        assert r.headers["location"] == "/dashboards/events.html?x=1"


def test_bearer_key_gzip_and_live_sink_status(site):
    url, forwarder = site
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url) as c:
        raw = c.get("/dashboards/churn.html", headers={**auth, "Accept-Encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert int(raw.headers["content-length"]) < len(raw.content) / 2  # decoded by httpx
        overview = c.get("/dashboards/overview.html", headers=auth).text
        assert "The segment-main sink is delivering; 7 events are waiting for it." in overview
        assert "Status read from the running service" in overview
        forwarder.lag = 1500
        assert "1,500 events are waiting for it." in c.get("/dashboards/overview.html", headers=auth).text
        missing = c.get("/dashboards/secrets.html", headers=auth)
        assert missing.status_code == 404 and missing.json()["error"]["at"] == "$.path"
        assert c.get("/dashboards/overview", headers=auth).status_code == 404


def test_pages_are_rendered_on_demand_when_no_run_wrote_them(demo_dir: Path, tmp_path: Path):
    shutil.copytree(demo_dir / "warehouse" / "reports", tmp_path / "warehouse" / "reports")
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path),
                                      "SIDELINE_DASHBOARDS__ACCESS_KEY": KEY})  # fmt: skip
    apps: list[Litestar] = []
    for url in serve(settings, apps=apps):
        # the whole render: 41 s at a load of 6 on 2 cores, so a deadline well past that
        r = httpx.get(f"{url}/dashboards/journey.html", headers={"Authorization": f"Bearer {KEY}"},
                      timeout=180)  # fmt: skip
        assert r.status_code == 200 and "Community funnel" in r.text
    assert (tmp_path / "dashboards" / "journey.html").exists()
    # rendered by a child process, not in the process of the event loop, which the render
    # held for about a second on large reports
    assert apps[0].state.dashboard_pages.last_render_pid not in (None, os.getpid())
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_the_sign_in_form_starts_rendering_missing_pages_once(demo_dir: Path, tmp_path: Path):
    """Pages no run wrote yet are rendered while the visitor types the key, not after: the
    first page after signing in took the whole render (~30 s on a loaded machine)."""
    shutil.copytree(demo_dir / "warehouse" / "reports", tmp_path / "warehouse" / "reports")
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path),
                                      "SIDELINE_DASHBOARDS__ACCESS_KEY": KEY})  # fmt: skip
    apps: list[Litestar] = []
    for url in serve(settings, apps=apps):
        assert httpx.get(f"{url}/dashboards/login").status_code == 200
        pages = apps[0].state.dashboard_pages
        deadline = time.monotonic() + 180  # the whole render: 53 s at a load of 6 on 2 cores
        while pages.last_render_pid is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / "dashboards" / "overview.html").exists()  # no page was asked for
        assert pages.last_render_pid not in (None, os.getpid())
        (tmp_path / "dashboards" / "overview.html").unlink()
        assert httpx.get(f"{url}/dashboards/login").status_code == 200
        time.sleep(0.5)  # once per start: a visitor cannot make the node render again and again
        assert not (tmp_path / "dashboards" / "overview.html").exists()


def test_without_a_key_the_dashboards_stay_closed(tmp_path: Path):
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    assert settings.dashboards.access_key == ""
    for url in serve(settings):
        r = httpx.get(f"{url}/dashboards/overview.html", headers={"Authorization": "Bearer x"})
        assert r.status_code == 404
        assert "SIDELINE_DASHBOARDS__ACCESS_KEY" in r.json()["error"]["message"]
        assert httpx.post(f"{url}/dashboards/login", data={"key": ""}).status_code == 404
