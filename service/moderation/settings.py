"""Moderation settings: checks' limits, the optional AI provider and the policies per room kind.

TOML example (every key optional)::

    [moderation.policies.match]
    shadow_at = 0.5
    hold_at = 0.7
    block_at = 0.9
    blocklist = ["scab"]
    allowlist = ["scunthorpe"]
    [moderation.policies.match.actions]
    pii = "mask"
    spam = "shadow"
    "rate.duplicate" = "shadow"
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
import phonenumbers

from service.moderation.codes import is_known
from service.moderation.verdict import Action

AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


def _default_actions() -> dict[str, Action]:
    return {
        "input": Action.BLOCK,
        "rate": Action.BLOCK,
        "rate.duplicate": Action.SHADOW,
        "spam": Action.SHADOW,
        "pii": Action.MASK,
    }


class Policy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How one kind of room turns findings into an action.

    Findings of checks (or codes) named in ``actions`` take that action once their score
    reaches ``act_at``. All other findings are combined (1 - prod(1 - score)) and the
    combined score climbs the ladder ``shadow_at`` <= ``hold_at`` <= ``block_at``.
    The most severe action wins.
    """

    shadow_at: float = 0.5
    """Combined score from which a message is shadowed (visible only to its sender)."""
    hold_at: float = 0.7
    """Combined score from which a message is held for review."""
    block_at: float = 0.9
    """Combined score from which a message is blocked."""
    act_at: float = 0.5
    """Score from which a finding of a check listed in ``actions`` takes that action."""
    actions: dict[str, Action] = msgspec.field(default_factory=_default_actions)
    """Check name or reason code -> action; a code entry beats its check's entry."""
    blocklist: list[str] = msgspec.field(default_factory=list)
    """Extra blocked words or phrases for this kind (matched whole-word, evasion-aware)."""
    allowlist: list[str] = msgspec.field(default_factory=list)
    """Words never blocked in this kind; a phrase (``dick advocaat``) allows its words only
    together."""
    default_blocklist: bool = True
    """Seed the blocklist from better-profanity's word list (minus the shipped exclusions)."""
    provider: bool = True
    """Ask the AI provider (when one is configured) about messages still allowed or masked."""

    def validate(self, where: str = "policy") -> None:
        """Raise ValueError naming ``where`` and the bad key when the policy is inconsistent.

        Called for every configured policy at start and by :meth:`Pipeline.set_policy`.
        """
        for name in ("shadow_at", "hold_at", "block_at", "act_at"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"Expected a score in (0, 1], got {value} in `{where}.{name}`")
        if not self.shadow_at <= self.hold_at <= self.block_at:
            raise ValueError(
                "Expected shadow_at <= hold_at <= block_at, got "
                f"{self.shadow_at} / {self.hold_at} / {self.block_at} in `{where}`"
            )
        for key in self.actions:
            if not is_known(key):
                raise ValueError(f"Unknown check or code {key!r} in `{where}.actions`")
        for name in ("blocklist", "allowlist"):
            if any(not word.strip() for word in getattr(self, name)):
                raise ValueError(f"Expected non-empty words in `{where}.{name}`")


def _default_policies() -> dict[str, Policy]:
    video_actions = _default_actions() | {"blocklist": Action.MASK}
    return {
        "default": Policy(),
        "match": Policy(),
        "team": Policy(actions=_default_actions() | {"spam": Action.HOLD}),
        "dashboard": Policy(),
        "video": Policy(actions=video_actions),
    }


class RateSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Per-user rate, burst and duplicate limits (state kept in memory, bounded)."""

    burst_max: AtLeastOne = 5
    """Most messages one user may send within ``burst_window_seconds``."""
    burst_window_seconds: Positive = 5.0
    """Window of the burst limit."""
    rate_max: AtLeastOne = 20
    """Most messages one user may send within ``rate_window_seconds``."""
    rate_window_seconds: Positive = 60.0
    """Window of the sustained rate limit."""
    duplicate_max: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Copies of the same text one user may send within the duplicate window; the next one is
    a duplicate (0 counts as 1)."""
    duplicate_window_seconds: Positive = 120.0
    """Window in which repeated texts count as duplicates."""
    duplicate_min_chars: AtLeastOne = 12
    """Texts with fewer letters than this (chants, emoji) are never duplicates."""
    max_users: AtLeastOne = 100_000
    """Users whose recent activity is remembered; the least recently seen are evicted."""


class SpamSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Content spam patterns."""

    max_mentions: int = 5
    """Messages with at least this many @mentions are a mention flood."""
    extra_shorteners: list[str] = msgspec.field(default_factory=list)
    """Link-shortener domains to add to the built-in list."""
    allowed_domains: list[str] = msgspec.field(default_factory=list)
    """Domains (and their subdomains) whose links never count as spam, beyond the host's own."""
    allow_host_links: bool = True
    """Links to the host's own sites never count as spam: the hosts of ``server.public_url``
    and ``server.allowed_origins`` (without ``www.``; local and IP addresses are not
    domains). A host whose users must not post its links sets this to false."""


class ProviderSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Optional AI moderation provider (OpenAI-compatible ``POST {base_url}/moderations``)."""

    enabled: bool = False
    """Ask the provider after the local checks."""
    base_url: str = "https://api.openai.com/v1"
    """Base URL; ``/moderations`` is appended."""
    api_key: str = ""
    """Bearer token sent to the provider (never logged)."""
    model: str = "omni-moderation-latest"
    """Model name sent as ``model``."""
    timeout_seconds: Positive = 0.8
    """Total time allowed per call, connection included."""
    on_failure: Literal["open", "closed"] = "open"
    """``open``: a failed or slow call leaves the local verdict; ``closed``: ``closed_action``."""
    closed_action: Action = Action.HOLD
    """Action taken when the provider fails and ``on_failure = "closed"``."""
    min_category_score: float = 0.3
    """Category scores below this are not reported as reasons."""
    flagged_score: float = 0.75
    """Score given to a message the provider flags without a high category score."""

    def __post_init__(self) -> None:
        if self.enabled and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"Expected an http(s) URL, got {self.base_url!r} in `base_url`")


class ModerationSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How messages are checked before anyone else sees them."""

    enabled: bool = True
    """Run the moderation pipeline on every message."""
    max_input_chars: AtLeastOne = 10_000
    """Longer texts are blocked unexamined (room limits normally refuse them earlier)."""
    phone_regions: list[str] = msgspec.field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "AU"]
    )
    """Regions tried, in order, for phone numbers written without a ``+`` country code."""
    report_hide_threshold: AtLeastOne = 3
    """Distinct users whose reports of a message hide it pending review (applies with the
    pipeline off too: reports are users' judgement, not a check)."""
    rate: RateSettings = msgspec.field(default_factory=RateSettings)
    spam: SpamSettings = msgspec.field(default_factory=SpamSettings)
    provider: ProviderSettings = msgspec.field(default_factory=ProviderSettings)
    policies: dict[str, Policy] = msgspec.field(default_factory=_default_policies)
    """Policies by room kind (or by a room policy's ``moderation_policy`` name); unknown
    kinds use ``default``."""

    def __post_init__(self) -> None:
        unknown = [r for r in self.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"Unknown phone region(s) {unknown} in `phone_regions`")
        for kind, policy in self.policies.items():
            policy.validate(f"policies.{kind}")


def host_domains(urls: Iterable[str]) -> list[str]:
    """The domains of the host's own sites in ``urls`` (its public URL, its allowed origins),
    without ``www.``; ``*``, ``localhost`` and IP addresses are left out."""
    domains: list[str] = []
    for url in urls:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
        if not host or host == "localhost" or "." not in host:
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            domain = host.removeprefix("www.")
            if domain not in domains:
                domains.append(domain)
    return domains
