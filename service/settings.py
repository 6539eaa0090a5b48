"""Typed settings: embedded defaults, an optional TOML file, then ``SIDELINE_*`` env vars.

Precedence (last wins): defaults < TOML file (``SIDELINE_CONFIG`` or ``--config``) < env.
Nested keys use a double underscore: ``SIDELINE_SERVER__PORT=9000`` sets ``server.port``.
Everything is validated at start; a bad value stops the start with its key path, e.g.
``Expected `int`, got `str` - at `$.server.port```.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from analytics.settings import AnalyticsSettings, check_settings
from service.domain.rooms import RoomMode
from service.domain.state import LONGEST_SLOW_MODE_SECONDS
from service.moderation.settings import ModerationSettings, host_domains
from service.protocol.keypath import name_keys
from service.sinks.settings import SinksSettings

ENV_PREFIX = "SIDELINE_"

# Bounds a value must keep for the service to work at all; msgspec names the key that breaks
# one (``Expected `int` >= 1 - at `$.realtime.send_queue_size```).
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
"""A duration that must pass: zero or less would make it expire at once or divide by zero."""
NonNegativeSeconds = Annotated[float, msgspec.Meta(ge=0)]
Rate = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
SlowModeSeconds = Annotated[int, msgspec.Meta(ge=0, le=LONGEST_SLOW_MODE_SECONDS)]
"""A slow mode, bounded like the APIs bound it (a day): ``last_post`` keeps the posts of the
longest slow mode a room may have, so an unbounded one would keep every post."""
NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A node id names the log shard's file and the warehouse's ``node=`` partition folders."""
NodeId = Annotated[str, msgspec.Meta(pattern=NODE_ID_PATTERN)]


class ConfigError(Exception):
    """The configuration is invalid; the message names the key path and what was expected."""


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class ServerSettings(_Section):
    """The HTTP/WebSocket server."""

    host: str = "127.0.0.1"
    """Interface to bind."""
    port: Port = 8000
    """TCP port."""
    max_body_bytes: int = 64 * 1024
    """Largest accepted HTTP request body; larger bodies get 413."""
    allowed_origins: list[str] = msgspec.field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    """Browser origins allowed to open WebSockets and call the API (``*`` allows any)."""
    public_url: str = ""
    """The URL browsers reach this service at (printed at start; defaults to http://host:port).
    Its origin may always open WebSockets, as the embedded panel does: set it behind a proxy
    or TLS. An ``https://`` URL also makes the dashboards' session cookie ``Secure`` where
    TLS ends at a proxy on another host."""
    graceful_timeout_seconds: NonNegativeSeconds = 10.0
    """How long shutdown waits for in-flight requests before the writer is flushed."""


class LogSettings(_Section):
    """The append-only event log."""

    path: str = ""
    """DuckDB file of this node's log shard; defaults to ``<data_dir>/log-<node_id>.duckdb``."""
    batch_max: Positive = 2000
    """Most events committed in one group-commit transaction."""
    checkpoint: bool = True
    """Write the state (rooms, roles, restrictions, recent history ...) beside the log file
    when the service stops cleanly (``log-<node_id>.checkpoint``), and start from it: the start
    then folds only the events after it, not the whole log. ``false`` folds the whole log."""
    checkpoint_every_events: NonNegative = 250_000
    """While the service runs, also write the checkpoint each time this many events were
    committed since the last one, so a node that is killed or crashes folds at most about
    this many at its next start. A forked child process writes it: the service pauses only
    for the fork (~20-50 ms at a 1 GB state), and memory grows by up to the state's size for
    the few seconds the child runs. One node only (with many, the state holds other nodes'
    events and only stops and long starts write one). ``0`` writes it only then."""


class MemorySettings(_Section):
    """What a node's in-memory state keeps of its log; what it lets go of is read from the log."""

    history_messages: Positive = 100_000
    """Recent messages held in memory across all rooms (about 1.1 KB each with a short text,
    so ~110 MB by default). Past it, the rooms that have gone longest without a message let go
    of theirs: their joins and history pages read the log (with many nodes, the answering
    node's own messages only, as for pages older than memory)."""
    message_index_size: Positive = 500_000
    """Latest messages whose id, author and visibility are held in memory (about 700 B each),
    with the ``client_msg_id`` a retry is answered by: a retry of a send older than that is
    taken as a new message."""


class AuthSettings(_Section):
    """Verification of user tokens signed by the host backend."""

    hs256_secret: str = ""
    """Shared secret for HS256 tokens. Empty in development: a dev secret is generated."""
    public_keys: list[str] = msgspec.field(default_factory=list)
    """PEM files (or inline PEM) of RS256/EdDSA public keys accepted for asymmetric tokens."""
    audience: str | None = None
    """When set, tokens must carry this ``aud``."""
    issuer: str | None = None
    """When set, tokens must carry this ``iss``."""
    leeway_seconds: NonNegative = 10
    """Clock skew tolerated on ``exp``."""
    dev_token_ttl_seconds: Positive = 3600
    """Lifetime of tokens minted by ``sideline token``."""
    max_token_lifetime_seconds: int = 7 * 86_400
    """Tokens whose ``exp`` is further ahead than this (plus the leeway) are refused
    (``token_invalid`` at ``$.exp``): tokens are meant to be short-lived, and one that leaks
    should not open rooms for months. A week covers a long-lived app session; 0 turns it off."""


class AdminSettings(_Section):
    """The server-to-server admin API."""

    api_key: str = ""
    """Key the host backend sends as ``X-Admin-Key``. Empty in development: one is generated."""


class DashboardSettings(_Section):
    """Dashboards for product managers: served at ``/dashboards`` and written as static files."""

    access_key: str = ""
    """Key that opens ``/dashboards`` (login form, or ``Authorization: Bearer``). Empty in
    development: one is generated; in production the served dashboards stay closed without it."""
    output_dir: str = ""
    """Folder of the static dashboard pages; defaults to ``<data_dir>/dashboards``."""
    session_hours: Seconds = 12.0
    """How long a dashboard login (an HttpOnly, SameSite=Strict cookie) stays valid."""


class RoomPolicy(_Section):
    """Defaults for every room of one kind (``match``, ``team`` ...)."""

    mode: RoomMode = RoomMode.OPEN
    """Initial room mode."""
    slow_mode_seconds: SlowModeSeconds = 0
    """Minimum seconds between two posts of one user (0: off)."""
    max_message_length: Positive = 500
    """Longest message text, in characters."""
    history_size: NonNegative = 100
    """Recent messages kept in memory per room and sent on join."""
    moderation_policy: str = ""
    """Name of the moderation policy (a key of ``moderation.policies``) these rooms are checked
    by; defaults to the kind itself."""


def _default_rooms() -> dict[str, RoomPolicy]:
    return {
        "match": RoomPolicy(max_message_length=300, history_size=200),
        "team": RoomPolicy(),
        "dashboard": RoomPolicy(max_message_length=1000),
        "video": RoomPolicy(),
    }


class RealtimeSettings(_Section):
    """WebSocket fan-out, presence and typing."""

    broker: Literal["memory", "redis"] = "memory"
    """Fan-out backend: ``memory`` for one node, ``redis`` for many."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis used when ``broker = "redis"``."""
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 64 * 1024
    """Largest WebSocket frame accepted."""
    send_queue_size: Positive = 256
    """Frames buffered per socket before the client counts as a slow consumer."""
    auth_timeout_seconds: Seconds = 10.0
    """A socket must authenticate within this time."""
    idle_timeout_seconds: Seconds = 75.0
    """A socket silent for this long is closed (clients ping every 25 s)."""
    presence_interval_seconds: Seconds = 1.0
    """Presence diffs and crowd reaction counts are sent at most this often."""
    presence_list_max: NonNegative = 50
    """Rooms larger than this get a member count instead of a member list."""
    typing_max_room_size: NonNegative = 200
    """Typing indicators are off in rooms with more members than this."""
    typing_throttle_seconds: NonNegativeSeconds = 2.0
    """A user's typing signal is forwarded at most once per this many seconds per room."""
    presence_ttl_seconds: Seconds = 30.0
    """Presence entries expire after this unless refreshed (every third of it) by their node."""
    redis_timeout_seconds: Seconds = 5.0
    """A Redis command not answered in this time fails, as when Redis is down. And a
    subscription that has not brought back a message this node published this long ago is
    taken as silent (a connection that stopped carrying packets without closing) and made
    again; what it missed is read back as after any interruption (many nodes only)."""
    redis_prefix: str = "sideline"
    """Prefix of the Redis channel and keys, so several deployments can share one Redis."""
    redis_recent_events: NonNegative = 50_000
    """Events (of all nodes) kept in Redis for nodes that start later, which read the other
    nodes' recent messages, reactions and polls from there (many nodes only; 0 keeps none)."""
    send_claim_seconds: float = 600.0
    """How long Redis keeps the claim of a sent message's ``client_msg_id``: within it a retry
    through another node that has not received the message yet waits for it rather than
    sending a second one (many nodes only; one node answers retries from its own state)."""
    vote_claim_seconds: float = 2_592_000.0
    """How long after a poll's last vote Redis keeps who voted in it (30 days; dropped when the
    poll is closed): within it a second vote of a user through another node is refused even
    when that node's state lacks the first one (many nodes only)."""
    reaction_claim_seconds: float = 86_400.0
    """How long after a user's last reaction change on a message Redis keeps which emoji they
    have on it (a day: the life of a live chat's message, while one small hash per user and
    message reacted on is kept): within it a change through another node is judged by what was
    written through any node, also when that node's state lacks it (many nodes only)."""
    history_on_join: NonNegative = 50
    """Messages sent with ``joined``."""
    resume_max_events: NonNegative = 500
    """A resume that missed more events than this gets ``resync`` instead."""
    remote_buffer_size: NonNegative = 256
    """Frames of other nodes kept per room for resume (many nodes only)."""
    max_rooms_per_socket: Positive = 20
    """Rooms one connection may be in at once."""
    frames_per_second: Rate = 20.0
    """Inbound frames per socket per second on average (token bucket)."""
    frame_burst: Positive = 40
    """Inbound burst per socket; this many refused frames in a row close it (4302)."""
    gc_freeze: bool = True
    """Exempt objects alive at start (app, rebuilt state) from the cyclic GC, so its full
    collections do not stall fan-out for ~100 ms."""


class ReactionSettings(_Section):
    """Reactions on messages (each one emoji, broadcast to the room, counted in every page)."""

    max_per_user_per_message: int = 3
    """Most different reactions one user may have on one message; the next is refused (409)
    until they remove one. Three leave room for a mixed feeling (😂🔥👏) while one user's
    taps cannot fill a message's counts, or the room's fan-out, with a keyboard of emoji."""


class HoldoutSettings(_Section):
    """Holdout from the community layer, for measuring its causal effect."""

    share: float = 0.0
    """Share (0..1) of users held out; held-out users get HOLDOUT refusals."""
    unit: Literal["user", "context"] = "user"
    """What is assigned: users, or whole contexts."""
    salt: str = "sideline-holdout-v1"
    """Salt of the deterministic hash assignment; change it to re-randomise."""


class CrowdControlSettings(_Section):
    """Automatic room modes when a room gets too fast or too risky, and back when it calms."""

    enabled: bool = True
    """Watch every room's message and risk rates."""
    window_seconds: Seconds = 10.0
    """Sliding window over which rates are measured."""
    slow_mode_rate: Rate = 15.0
    """Messages shown to the room per second above which it switches to slow mode."""
    slow_mode_seconds: Annotated[int, msgspec.Meta(ge=1, le=LONGEST_SLOW_MODE_SECONDS)] = 5
    """Slow-mode interval crowd control applies."""
    reactions_only_rate: Rate = 50.0
    """Messages shown to the room per second above which it switches to reactions-only."""
    risk_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.3
    """Share of the window's posters with a message refused, held or shadowed for what it said (not for speed; masking is no risk) that triggers slow mode."""
    min_messages: Positive = 20
    """Fewest messages in the window (sent, or refused for what they said), from at least three people, before the risk share counts."""
    calm_seconds: Seconds = 30.0
    """How long rates must stay below half their thresholds before the room is restored, or before crowd control acts again in a room whose mode or slow mode a person changed."""


class Settings(_Section):
    """All settings of one Sideline node."""

    env: Literal["development", "test", "production"] = "development"
    """``production`` refuses generated secrets, secrets copied from a ``dev-secrets.toml`` in
    the data folder, and short ones (token secret and erasure key under 32 characters, admin
    key under 24, dashboard key under 16)."""
    node_id: NodeId = "node-1"
    """This node's id, written into every event and the log shard's file name."""
    data_dir: str = "data"
    """Where the log, warehouse export and reports live."""
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    memory: MemorySettings = msgspec.field(default_factory=MemorySettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    admin: AdminSettings = msgspec.field(default_factory=AdminSettings)
    dashboards: DashboardSettings = msgspec.field(default_factory=DashboardSettings)
    rooms: dict[str, RoomPolicy] = msgspec.field(default_factory=_default_rooms)
    """Room policies by kind; a room id's kind must be one of these. Rooms of a kind taken out later stay in the log and are no longer served."""
    realtime: RealtimeSettings = msgspec.field(default_factory=RealtimeSettings)
    reactions: ReactionSettings = msgspec.field(default_factory=ReactionSettings)
    moderation: ModerationSettings = msgspec.field(default_factory=ModerationSettings)
    sinks: SinksSettings = msgspec.field(default_factory=SinksSettings)
    holdout: HoldoutSettings = msgspec.field(default_factory=HoldoutSettings)
    crowd_control: CrowdControlSettings = msgspec.field(default_factory=CrowdControlSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def log_path(self) -> Path:
        return Path(self.log.path) if self.log.path else self.data_path / f"log-{self.node_id}.duckdb"

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"

    @property
    def host_domains(self) -> list[str]:
        """The host's own domains, from ``server.public_url`` and ``server.allowed_origins``
        (links to them are not spam; see ``moderation.spam.allow_host_links``)."""
        return host_domains([self.server.public_url, *self.server.allowed_origins])

    def policy_name(self, kind: str) -> str:
        """The moderation policy rooms of ``kind`` are checked by: the kind's
        ``moderation_policy`` when set, else the kind itself (a kind without a policy of its
        name gets ``default`` from the pipeline)."""
        room = self.rooms.get(kind)
        return (room.moderation_policy if room is not None else "") or kind


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in {"SIDELINE_CONFIG", "SIDELINE_REQUIRE_ALL"}:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        value: Any = raw
        if raw.startswith(("[", "{")):
            try:
                value = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                value = raw
        node[path[-1]] = value
    return tree


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build validated settings from defaults, the TOML file, the environment and overrides.

    Raises:
        ConfigError: a key is unknown or a value has the wrong type; the message names it.
    """
    environ = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    path = config_file or environ.get("SIDELINE_CONFIG")
    if path:
        try:
            tree = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    tree = _merge(tree, _env_tree(environ))
    tree = _merge(tree, overrides)
    if "rooms" in tree:  # a kind configured keeps its built-in defaults for what it leaves out
        tree["rooms"] = _merge(msgspec.to_builtins(_default_rooms()), tree["rooms"])
        _check_keyed(tree["rooms"], RoomPolicy, "$.rooms", path)
    try:
        settings = msgspec.convert(tree, Settings, strict=False)
    except msgspec.ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{where}: {_located(_keys_named(exc, tree))}") from exc
    _check(settings)
    return settings


def _check_keyed(
    table: Any, of: type[msgspec.Struct], at: str, path: str | Path | None
) -> None:
    """Validate each value of a table keyed by names (room kinds) on its own, so an error
    names its key: msgspec says ``$.rooms[...].mode`` for any key of a dict."""
    if not isinstance(table, Mapping):
        return  # the whole conversion names the table's own type error
    for name, value in table.items():
        try:
            msgspec.convert(value, of, strict=False)
        except msgspec.ValidationError as exc:
            text, where = str(exc), f"{at}.{name}"
            text = text.replace("`$", f"`{where}", 1) if " - at `$" in text else f"{text} - at `{where}`"
            in_file = f" in {path}" if path else ""
            raise ConfigError(f"invalid configuration{in_file}: {_located(text)}") from exc


def _keys_named(exc: msgspec.ValidationError, tree: dict[str, Any]) -> str:
    """msgspec's message, with the key of a table (``moderation.policies.match``) named where
    it writes ``[...]``."""
    text = str(exc)
    found = re.search(r" - at `(?P<at>\$[^`]*\[\.\.\.\][^`]*)`$", text)
    if found is None:
        return text
    named = name_keys(found["at"], tree, Settings, strict=False)
    return f"{text[: found.start()]} - at `{named}`"


_INNER = re.compile(r"^(?P<message>.*) in `(?P<key>[A-Za-z_][\w.-]*)` - at `(?P<at>\$[^`]*)`$", re.S)


def _located(text: str) -> str:
    """msgspec's message for a check a section makes of its own keys (``__post_init__``) says
    ``at`` the section (``$.moderation``); such checks name the key they refused last (``in
    `policies.match.hold_at```), which is joined to the path: ``at `$.moderation.policies.match.hold_at```."""
    found = _INNER.match(text)
    if found is None:
        return text
    return f"{found['message']} - at `{found['at']}.{found['key']}`"


def _check(settings: Settings) -> None:
    problems = check_settings(settings.analytics)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    if not 0.0 <= settings.holdout.share <= 1.0:
        raise ConfigError("Expected a share between 0 and 1 - at `$.holdout.share`")
    auth = settings.auth
    if auth.max_token_lifetime_seconds < 0:
        raise ConfigError("Expected >= 0 - at `$.auth.max_token_lifetime_seconds`")
    if 0 < auth.max_token_lifetime_seconds < auth.dev_token_ttl_seconds:
        raise ConfigError(
            f"Expected at most auth.max_token_lifetime_seconds ({auth.max_token_lifetime_seconds}),"
            " or its tokens would be refused - at `$.auth.dev_token_ttl_seconds`"
        )
    rt = settings.realtime
    if rt.redis_timeout_seconds <= rt.presence_interval_seconds:
        raise ConfigError(
            f"Expected more than realtime.presence_interval_seconds ({rt.presence_interval_seconds}"
            "): each node's heartbeat goes out that often and must come back in this time - at "
            "`$.realtime.redis_timeout_seconds`"
        )
    if rt.send_claim_seconds <= 0:
        raise ConfigError("Expected > 0 - at `$.realtime.send_claim_seconds`")
    if rt.vote_claim_seconds <= 0:
        raise ConfigError("Expected > 0 - at `$.realtime.vote_claim_seconds`")
    if rt.reaction_claim_seconds <= 0:
        raise ConfigError("Expected > 0 - at `$.realtime.reaction_claim_seconds`")
    if settings.reactions.max_per_user_per_message < 1:
        raise ConfigError("Expected >= 1 - at `$.reactions.max_per_user_per_message`")
    if settings.server.max_body_bytes < 1024:
        raise ConfigError("Expected at least 1024 - at `$.server.max_body_bytes`")
    for kind, policy in settings.rooms.items():
        named = policy.moderation_policy
        if named and named not in settings.moderation.policies:
            known = ", ".join(sorted(settings.moderation.policies))
            raise ConfigError(
                f"no moderation policy {named!r} (policies: {known}) - at "
                f"`$.rooms.{kind}.moderation_policy`"
            )
    if settings.env == "production":
        if not settings.auth.hs256_secret and not settings.auth.public_keys:
            raise ConfigError(
                "production needs a token key: set SIDELINE_AUTH__HS256_SECRET or "
                "auth.public_keys - at `$.auth`"
            )
        if not settings.admin.api_key:
            raise ConfigError("production needs SIDELINE_ADMIN__API_KEY - at `$.admin.api_key`")
        if not settings.sinks.erasure_secret:  # the admin API can erase whatever else runs
            raise ConfigError(
                "production needs SIDELINE_SINKS__ERASURE_SECRET, the key of erased users' "
                "pseudonyms (the same on every node) - at `$.sinks.erasure_secret`"
            )
        _check_production_secrets(settings)


MIN_SECRET_LENGTH = {
    "auth.hs256_secret": 32, "admin.api_key": 24, "dashboards.access_key": 16,
    "sinks.erasure_secret": 32,
}  # fmt: skip
"""Shortest secret production accepts: 32 characters for the HS256 key (RFC 7518: a key as long
as the hash, 256 bits) and the erasure key (an HMAC-SHA256 key, which guesses of user ids must
not get around), fewer for keys that are compared rather than used to sign."""


def _check_production_secrets(settings: Settings) -> None:
    """Refuse short secrets and secrets taken from a development ``dev-secrets.toml``: they were
    generated for a laptop, printed once, and may sit in a shell history or a screenshot."""
    configured = {
        "auth.hs256_secret": settings.auth.hs256_secret,
        "admin.api_key": settings.admin.api_key,
        "dashboards.access_key": settings.dashboards.access_key,
        "sinks.erasure_secret": settings.sinks.erasure_secret,
    }
    dev_file = settings.data_path / "dev-secrets.toml"
    try:
        generated = set(tomllib.loads(dev_file.read_text()).values()) if dev_file.exists() else set()
    except (OSError, tomllib.TOMLDecodeError):
        generated = set()
    for key, value in configured.items():
        if not value:
            continue
        if len(value) < MIN_SECRET_LENGTH[key]:
            raise ConfigError(
                f"production needs at least {MIN_SECRET_LENGTH[key]} characters, got "
                f"{len(value)} - at `$.{key}`"
            )
        if value in generated:
            raise ConfigError(
                f"production refuses the development secret generated in {dev_file}: set a "
                f"new one - at `$.{key}`"
            )


def ensure_dev_secrets(settings: Settings) -> list[str]:
    """Fill empty secrets in development from ``<data_dir>/dev-secrets.toml``, creating it once.

    Returns the lines to print (only when the file was just created), so a dev secret is
    shown exactly once. Never called in production, where ``_check`` demands real secrets.
    """
    if settings.env == "production":
        return []
    path = settings.data_path / "dev-secrets.toml"
    printed: list[str] = []
    if path.exists():
        stored = tomllib.loads(path.read_text())
    else:
        stored = {"hs256_secret": secrets.token_urlsafe(32), "admin_api_key": secrets.token_urlsafe(24)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f'{k} = "{v}"\n' for k, v in stored.items()))
        path.chmod(0o600)
        printed = [
            f"generated development secrets in {path} (refused when SIDELINE_ENV=production):",
            f"  admin API key: {stored['admin_api_key']}",
        ]
    if "dashboard_access_key" not in stored:  # files written before dashboards get it appended
        stored["dashboard_access_key"] = secrets.token_urlsafe(18)
        with path.open("a") as fh:
            fh.write(f'dashboard_access_key = "{stored["dashboard_access_key"]}"\n')
        printed = printed or [f"added a development dashboard access key to {path}:"]
        printed.append(f"  dashboard access key: {stored['dashboard_access_key']}")
    if "erasure_secret" not in stored:  # appended to older files; never printed: nobody types it
        stored["erasure_secret"] = secrets.token_urlsafe(32)
        with path.open("a") as fh:
            fh.write(f'erasure_secret = "{stored["erasure_secret"]}"\n')
    if not settings.sinks.erasure_secret:
        settings.sinks.erasure_secret = stored["erasure_secret"]
    if not settings.dashboards.access_key:
        settings.dashboards.access_key = stored["dashboard_access_key"]
    if not settings.auth.hs256_secret:
        settings.auth.hs256_secret = stored["hs256_secret"]
    if not settings.admin.api_key:
        settings.admin.api_key = stored["admin_api_key"]
    return printed
