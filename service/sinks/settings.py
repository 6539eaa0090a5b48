"""Forwarding settings: which sinks run, where they send, and what they may send.

Several sinks of each kind may be configured (``[[sinks.segment]]`` twice sends to two
workspaces). Secrets never live in the file: a sink names the environment variable that holds
them (``write_key_env = "SEGMENT_WRITE_KEY"``) and the factory reads it at start.
"""

from __future__ import annotations

import difflib
from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

from service.domain.events import EventType
from service.urls import check_http_url

_EVENT_TYPES = [t.value for t in EventType]
PARQUET_COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "lz4_raw", "none")
"""The codecs the Parquet writer takes (any case); another name would fail every batch."""

Seconds = Annotated[float, Meta(gt=0)]
"""A duration that must pass: 0 would fail every request, or spin, or never wait."""
SecondsOrZero = Annotated[float, Meta(ge=0)]
"""A duration where 0 means "do not wait"."""


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SinkCommon(_Section):
    """Settings every sink has."""

    KIND: ClassVar[str] = ""

    name: str
    """Unique sink name; it keys the cursor and the dead letters, so never rename a live sink."""
    enabled: bool = True
    """A disabled sink keeps its cursor but does not run."""
    batch_size: int = 10_000
    """Most events read from the log per batch; one batch becomes as many requests as the
    vendor's limits need, sent ``concurrency`` at a time."""
    linger_seconds: float = 1.0
    """When fewer than ``batch_size`` events wait, wait this long after a send to batch more."""
    include_text: bool = False
    """Send message text and other user-written text (poll questions, report reasons)."""
    include_names: bool = False
    """Send display names (a message's ``name``: the token's ``name`` claim, or the user id)."""
    properties: list[str] = msgspec.field(default_factory=list)
    """Allow-list of property names to send (a warehouse: payload keys and optional columns);
    empty sends every property the text and name rules let out."""
    event_types: list[str] = msgspec.field(default_factory=list)
    """Event types to forward; empty forwards all. Others are skipped (the cursor passes them)."""
    max_backoff_seconds: Seconds = 60.0
    """Longest wait between two attempts of a failing batch (Retry-After may ask for more);
    more than 0."""
    timeout_seconds: Seconds = 15.0
    """HTTP timeout of one request; more than 0."""
    concurrency: int = 4
    """Requests of one batch in flight at once (HTTP sinks)."""


class SegmentSinkSettings(SinkCommon):
    """A Segment source (HTTP Tracking API, through ``segment-analytics-python``)."""

    KIND: ClassVar[str] = "segment"

    write_key_env: str = "SEGMENT_WRITE_KEY"
    """Environment variable holding the source's write key."""
    host: str = "https://api.segment.io"
    """API host, an http(s) URL; ``https://events.eu1.segmentapis.com`` for the EU region, or
    a proxy."""
    gzip: bool = False
    """Compress request bodies."""

    def __post_init__(self) -> None:
        check_http_url(self.host, "host")


class MixpanelSinkSettings(SinkCommon):
    """A Mixpanel project (``/track`` for recent events, ``/import`` for older ones)."""

    KIND: ClassVar[str] = "mixpanel"

    token_env: str = "MIXPANEL_TOKEN"
    """Environment variable holding the project token."""
    api_secret_env: str = "MIXPANEL_API_SECRET"
    """Environment variable holding the project API secret, needed only by ``/import``."""
    api_host: str = "api.mixpanel.com"
    """API domain (``api-eu.mixpanel.com`` for EU residency), used with https: a host name,
    without scheme or path."""
    base_url: str = ""
    """Full http(s) base URL overriding ``api_host`` (e.g. ``http://127.0.0.1:9000`` for a
    collector)."""
    import_after_days: float = 4.5
    """Events older than this go to ``/import``; Mixpanel's live window is 5 days."""
    library_retries: Annotated[int, Meta(ge=0)] = 0
    """Retries of the library itself (5xx on https only); the forwarder retries anyway."""

    def __post_init__(self) -> None:
        if self.base_url:
            check_http_url(self.base_url, "base_url")
        check_http_url(self.api_host, "api_host", host_only=True)


class GA4SinkSettings(SinkCommon):
    """A GA4 web or app stream (Measurement Protocol)."""

    KIND: ClassVar[str] = "ga4"

    measurement_id: str = ""
    """Stream's measurement id (``G-XXXXXXX``); ``firebase_app_id`` streams are not supported."""
    api_secret_env: str = "GA4_API_SECRET"
    """Environment variable holding the Measurement Protocol API secret."""
    base_url: str = "https://www.google-analytics.com"
    """Endpoint base, an http(s) URL; ``https://region1.google-analytics.com`` for EU
    collection."""
    client_id_salt: str = "sideline-ga4"
    """Salt of the stable ``client_id`` derived from the user id."""
    max_age_hours: float = 71.0
    """Older events are dead-lettered; GA4 accepts ``timestamp_micros`` up to 72 h back."""
    concurrency: int = 8
    """Requests in flight at once (a GA4 request carries one user's events, so more of them)."""
    batch_size: int = 50_000
    """Larger than the others: requests group a user's events, so bigger batches fill them."""

    def __post_init__(self) -> None:
        check_http_url(self.base_url, "base_url")


class WarehouseSinkSettings(SinkCommon):
    """The Hive-partitioned Parquet export that analysts and jobs read."""

    KIND: ClassVar[str] = "warehouse"

    path: str = ""
    """Warehouse folder; defaults to ``<data_dir>/warehouse``."""
    include_text: bool = True
    """First-party storage: masked text is exported unless this is off."""
    batch_size: int = 100_000
    linger_seconds: float = 10.0
    compression: str = "zstd"
    """Parquet compression codec: ``zstd``, ``snappy``, ``gzip``, ``brotli``, ``lz4``,
    ``lz4_raw`` or ``none``."""
    compact_min_files: Annotated[int, Meta(ge=2)] = 2
    """A closed day's partition with at least this many files (2 or more) is merged into one."""
    ducklake: bool = False
    """Also write a DuckLake catalog; start fails clearly when DuckDB cannot load DuckLake."""
    ducklake_extension_path: str = ""
    """A local DuckLake extension file to ``LOAD`` (there is no download at run time)."""

    def __post_init__(self) -> None:
        if self.compression.lower() not in PARQUET_COMPRESSIONS:
            named = ", ".join(repr(c) for c in PARQUET_COMPRESSIONS)
            raise ValueError(
                f"Expected one of {named}, got {self.compression!r} in `compression`"
            )


class SinksSettings(_Section):
    """Where committed events are forwarded."""

    enabled: bool = True
    """Run the forwarder inside the service; when off, no sink runs and every one is shown as
    ``disabled`` with its stored cursor."""
    poll_interval_seconds: Seconds = 2.0
    """How often idle sinks look for new events without a commit notification; more than 0."""
    stop_timeout_seconds: SecondsOrZero = 10.0
    """How long ``stop`` waits for healthy sinks to deliver what is already committed (0: not
    at all)."""
    erasure_secret: str = ""
    """Key of erased users' pseudonyms (``erased-`` + an HMAC-SHA256 of the user id under it):
    without it nobody can tell whose a pseudonym is by hashing guessed ids. Every node of a
    deployment needs the same one, so a user erased on each has one pseudonym. Never logged.
    Empty in development: one is generated; production needs one of at least 32 characters.
    Changing it changes the pseudonyms of erasures made afterwards: list the old one in
    ``erasure_retired_secrets``."""
    erasure_retired_secrets: list[str] = msgspec.field(default_factory=list)
    """Earlier values of ``erasure_secret`` that erasures in the log were made under: kept so
    those erasures still find their users' events (the start refuses an erasure whose key is
    in neither)."""
    segment: list[SegmentSinkSettings] = msgspec.field(default_factory=list)
    """Segment sources, one ``[[sinks.segment]]`` table each (keys: docs/forwarding.md)."""
    mixpanel: list[MixpanelSinkSettings] = msgspec.field(default_factory=list)
    """Mixpanel projects, one ``[[sinks.mixpanel]]`` table each (keys: docs/forwarding.md)."""
    ga4: list[GA4SinkSettings] = msgspec.field(default_factory=list)
    """GA4 streams, one ``[[sinks.ga4]]`` table each (keys: docs/forwarding.md)."""
    warehouse: list[WarehouseSinkSettings] = msgspec.field(
        default_factory=lambda: [WarehouseSinkSettings(name="warehouse")]
    )
    """Parquet exports; by default one, under ``<data_dir>/warehouse`` (set ``[]`` for none)."""

    def all(self) -> list[SinkCommon]:
        """Every configured sink, in a stable order."""
        return [*self.segment, *self.mixpanel, *self.ga4, *self.warehouse]

    def find(self, name: str) -> SinkCommon | None:
        """The sink called ``name``, if configured."""
        return next((s for s in self.all() if s.name == name), None)

    def runs(self, sink: SinkCommon) -> bool:
        """Whether ``sink`` runs in the service: it is enabled, and so is forwarding."""
        return self.enabled and sink.enabled


def check_sinks(settings: SinksSettings) -> list[str]:
    """Problems of the sink configuration, each naming its key path (empty when valid)."""
    problems: list[str] = []
    seen: set[str] = set()
    for kind in ("segment", "mixpanel", "ga4", "warehouse"):
        for i, sink in enumerate(getattr(settings, kind)):
            at = f"$.sinks.{kind}[{i}]"
            if not sink.name or not sink.name.replace("-", "").replace("_", "").isalnum():
                problems.append(f"Expected a name of letters, digits, - and _ - at `{at}.name`")
            if sink.name in seen:
                problems.append(f"Duplicate sink name {sink.name!r} - at `{at}.name`")
            seen.add(sink.name)
            if sink.batch_size < 1:
                problems.append(f"Expected >= 1 - at `{at}.batch_size`")
            if sink.concurrency < 1:
                problems.append(f"Expected >= 1 - at `{at}.concurrency`")
            if sink.linger_seconds < 0:
                problems.append(f"Expected >= 0 - at `{at}.linger_seconds`")
            problems += _unknown_event_types(sink.event_types, f"{at}.event_types")
            problems += _unknown_properties(sink.properties, f"{at}.properties")
    for i, ga in enumerate(settings.ga4):
        if not ga.measurement_id:
            problems.append(f"Expected a measurement id - at `$.sinks.ga4[{i}].measurement_id`")
        if not 0 < ga.max_age_hours <= 72:
            problems.append(f"Expected 0 < hours <= 72 - at `$.sinks.ga4[{i}].max_age_hours`")
    for i, mp in enumerate(settings.mixpanel):
        if not 0 < mp.import_after_days <= 5:
            problems.append(
                f"Expected 0 < days <= 5 - at `$.sinks.mixpanel[{i}].import_after_days`"
            )
    return problems


def required_secrets(settings: SinksSettings) -> list[tuple[str, str]]:
    """The environment variables the enabled sinks need at start, each with its key path.

    A disabled sink is not built, so its secret is not needed (the factory reads the same
    ones); Mixpanel's API secret is optional (only ``/import`` uses it).
    """
    named = [("segment", "write_key_env"), ("mixpanel", "token_env"), ("ga4", "api_secret_env")]
    return [
        (getattr(sink, field), f"$.sinks.{kind}[{i}].{field}")
        for kind, field in named
        for i, sink in enumerate(getattr(settings, kind))
        if sink.enabled
    ]


def _unknown_event_types(names: list[str], at: str) -> list[str]:
    """A problem per name that is no event type: it would filter out every event, and the
    cursor passes what the filter drops, so a typo would forward nothing, for good."""
    return _unknown("event type", names, _EVENT_TYPES, at)


def _unknown_properties(names: list[str], at: str) -> list[str]:
    """A problem per name that is no property: the allow-list would drop that field from
    every event without a word."""
    # Here, not at the top: the names come from the property policy, which reads these settings.
    from service.sinks.properties import known_properties

    return _unknown("property", names, sorted(known_properties()), at)


def _unknown(what: str, names: list[str], known: list[str], at: str) -> list[str]:
    problems = []
    for j, name in enumerate(names):
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"Expected a known {what}, got {name!r}{hint} - at `{at}[{j}]`")
    return problems
