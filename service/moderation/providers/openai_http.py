"""OpenAI-compatible moderation endpoint over HTTP (``POST {base_url}/moderations``).

Request ``{"input": text, "model": model}``; response
``{"results": [{"flagged": bool, "categories": {...}, "category_scores": {...}}]}``. Anything
else (a non-2xx status, a body of another shape, a category score outside [0, 1], a refused
connection) is a :class:`ProviderError` naming what was wrong. The total deadline is enforced by the pipeline;
the client's own timeout is a backstop at the same value.
"""

from __future__ import annotations

import logging
from typing import Annotated

import httpx
import msgspec

from service.moderation.providers.base import ProviderError, ProviderResult
from service.moderation.settings import ProviderSettings

log = logging.getLogger(__name__)


Score = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
"""A category score is a probability: the policy combines scores as ``1 - prod(1 - s)``, where
one above 1 turns the product negative (two scores of 2.0 combined to 0, an allow) and one
below 0 lowers the others' weight. A score outside [0, 1] is a body of another shape."""


class _Result(msgspec.Struct):
    flagged: bool
    category_scores: dict[str, Score] = msgspec.field(default_factory=dict)
    categories: dict[str, bool] = msgspec.field(default_factory=dict)


class _Response(msgspec.Struct):
    results: list[_Result]


_decoder = msgspec.json.Decoder(_Response)


class OpenAIModerationProvider:
    """Moderation through any server that speaks OpenAI's moderation API.

    Args:
        base_url: e.g. ``https://api.openai.com/v1`` or a local gateway; credentials in it
            (``https://user:pass@gateway/v1``) are sent as Basic auth and never logged.
        api_key: sent as a bearer token when not empty; never logged.
        model: the ``model`` field of each request.
        timeout_seconds: httpx timeout for connect, read, write and pool.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        model: str = "omni-moderation-latest",
        timeout_seconds: float = 0.8,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        bare, auth = _credentials_apart(base_url)
        self._url = bare.rstrip("/") + "/moderations"  # quoted in errors, logged, and recorded
        self._model = model
        self._client = httpx.AsyncClient(headers=headers, auth=auth, timeout=httpx.Timeout(timeout_seconds))

    async def classify(self, text: str) -> ProviderResult:
        body = {"input": text, "model": self._model}
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"moderation provider at {self._url} timed out") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"moderation provider at {self._url} failed: {exc!r}") from exc
        if response.status_code != 200:
            raise ProviderError(
                f"moderation provider at {self._url} answered HTTP {response.status_code}"
            )
        try:
            decoded = _decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"moderation provider sent an unexpected body: {exc}") from exc
        if not decoded.results:
            raise ProviderError("moderation provider sent no results - at `$.results`")
        first = decoded.results[0]
        return ProviderResult(flagged=first.flagged, category_scores=first.category_scores)

    async def aclose(self) -> None:
        await self._client.aclose()


def _credentials_apart(base_url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``base_url`` without the credentials a gateway's URL may carry (``https://user:pass@gw``),
    and those credentials as the Basic auth httpx would have sent from the URL itself.

    The URL is quoted in every failure's message, which is logged and recorded in the
    append-only log (a held message's ``community_message_moderated`` reasons, forwarded to
    the sinks): the password must not travel with it."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:  # refused when called, as before: a failure the pipeline reports
        return base_url, None
    if not url.userinfo:
        return base_url, None
    return str(url.copy_with(userinfo=b"")), httpx.BasicAuth(url.username, url.password)


def build_provider(settings: ProviderSettings) -> OpenAIModerationProvider | None:
    """The configured provider, or None when ``settings.enabled`` is false."""
    if not settings.enabled:
        return None
    shown, _ = _credentials_apart(settings.base_url)
    log.info("moderation provider enabled at %s (model %s)", shown, settings.model)
    return OpenAIModerationProvider(
        settings.base_url,
        api_key=settings.api_key,
        model=settings.model,
        timeout_seconds=settings.timeout_seconds,
    )
