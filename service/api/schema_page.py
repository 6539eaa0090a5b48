"""The API reference page at ``/schema``: Swagger UI served by this service itself.

Litestar's pages load their renderer from public CDNs (Redoc's ``latest``, unpinned). A script
from a CDN on this origin could read whatever this origin's pages can, the dashboards behind
their session cookie included, and every visit told the CDN about it. Here Swagger UI comes
from the installed ``swagger-ui-py`` package (a pinned Swagger UI 5 build), its start-up script
is a file of ours (no inline script), and every page under ``/schema`` carries a policy that
lets nothing load from elsewhere. ``/schema/openapi.json`` and ``/schema/openapi.yaml`` are
the document itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import File

OWN = Path(__file__).parent / "static"


def _swagger_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # found, not imported: only its files are used
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


ASSETS = {
    "swagger-ui.css": "swagger",
    "swagger-ui-bundle.js": "swagger",
    "swagger-ui-standalone-preset.js": "swagger",
    "favicon-32x32.png": "swagger",
    "schema-page.js": "own",
    "schema-page.css": "own",
}
"""The files the page needs, and nothing else of the package (its editor bundles)."""

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""Swagger UI sets style attributes, hence ``'unsafe-inline'`` for styles (never scripts)."""


def page(title: str, base: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{base}/assets/favicon-32x32.png">
<link rel="stylesheet" href="{base}/assets/swagger-ui.css">
<link rel="stylesheet" href="{base}/assets/schema-page.css">
</head>
<body data-schema="{base}/openapi.json">
<div id="swagger-ui"></div>
<script src="{base}/assets/swagger-ui-bundle.js"></script>
<script src="{base}/assets/swagger-ui-standalone-preset.js"></script>
<script src="{base}/assets/schema-page.js"></script>
</body>
</html>
"""


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI at ``/schema`` and ``/schema/swagger``, from this service's own files."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        config = request.app.openapi_config
        base = (config.path if config is not None else None) or "/schema"
        return page(openapi_schema["info"]["title"], base.rstrip("/")).encode()

    def receive_router(self, router: Router) -> None:
        router.register(assets)


@get(
    "/assets/{name:str}", include_in_schema=False, sync_to_thread=False,
    cache_control=CacheControlHeader(public=True, max_age=3600),
)  # fmt: skip
def assets(name: str) -> File:
    where = ASSETS.get(name)
    if where is None:
        raise NotFoundException(f"no asset {name[:64]!r}")
    folder = OWN if where == "own" else _swagger_dir()
    return File(folder / name, filename=name, content_disposition_type="inline")


def schema_router() -> Router:
    """The router Litestar serves the OpenAPI pages from, with the policy on every answer."""
    return Router(
        "/schema", route_handlers=[], include_in_schema=False,
        response_headers=[
            ResponseHeader(name="Content-Security-Policy", value=POLICY),
            ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
            ResponseHeader(name="Referrer-Policy", value="no-referrer"),
        ],
    )  # fmt: skip


RENDER_PLUGINS = (SwaggerPage(), JsonRenderPlugin(), YamlRenderPlugin())

SECURITY = Components(
    security_schemes={
        "userToken": SecurityScheme(
            type="http", scheme="bearer", bearer_format="JWT",
            description="A user token the host backend signed (docs/http-api.md, Authentication): "
            "`sub`, `ctx`, `exp`, and a `role` or per-room `roles`. `sideline token` mints "
            "one in development.",
        ),
        "adminKey": SecurityScheme(
            type="apiKey", name="X-Admin-Key", security_scheme_in="header",
            description="The admin API key (`admin.api_key`), for the host backend only.",
        ),
    }
)  # fmt: skip
"""How the endpoints authenticate, named by each controller's ``security``."""
