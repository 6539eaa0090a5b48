"""The moderation pipeline: ordered, timed checks and a policy per room kind.

Order, cheapest first, and why:

1. ``input``: refuse empty and over-long texts, strip undisplayable characters.
2. ``normalize``: fold the text once (see :mod:`service.moderation.normalize`).
3. ``rate``: per-user bursts, rate and duplicates; before content checks so that a flooder
   costs as little as possible, and so every attempt is counted.
4. ``blocklist``: set intersections on tokens; the cheapest content check.
5. ``threat``: trigger-gated regexes for violence announced at a person, death wishes,
   self-harm incitement and doxxing hints.
6. ``hate``: trigger-gated regexes for dehumanising generalisations, calls to harm a group,
   racist abuse aimed at a person and extremist slogans.
7. ``spam``: trigger-gated regexes over links and lures.
8. ``pii``: always runs, even after a block, and always masks what it finds, whatever the
   policy says of it (``allow``, an ``act_at`` above its score, a ladder above it), so the
   verdict's text, and what the provider is given, never carry unmasked personal data; a
   message it masks is at least ``mask``, never ``allow``.
9. ``provider`` (only in :meth:`Pipeline.check`): an external classifier, asked only about
   messages still allowed or masked, given the masked text, bounded by a timeout.

Once the action is ``block`` the remaining scoring checks (4 to 7, 9) are skipped: the first
block wins. ``rate`` always runs, so every attempt is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from service.moderation.activity.base import ActivityStore
from service.moderation.checks import hygiene
from service.moderation.checks.base import Check, CheckInput
from service.moderation.checks.blocklist import BlocklistCheck
from service.moderation.checks.hate import HateCheck
from service.moderation.checks.pii import NAME as PII
from service.moderation.checks.pii import PiiCheck
from service.moderation.checks.rate import RateCheck, Sample
from service.moderation.checks.spam import SpamCheck
from service.moderation.checks.threat import ThreatCheck
from service.moderation.masking import apply_spans
from service.moderation.normalize import TextView
from service.moderation.policy import CompiledPolicy, Tally
from service.moderation.providers.base import ModerationProvider, ProviderResult
from service.moderation.settings import ModerationSettings, Policy
from service.moderation.verdict import Action, Finding, MessageContext, Reason, Verdict

log = logging.getLogger(__name__)

_perf = time.perf_counter


class _Run:
    """One message on its way through the pipeline."""

    __slots__ = ("original", "sample", "tally", "timings", "view")

    def __init__(self, original: str, tally: Tally) -> None:
        self.original = original
        self.tally = tally
        self.timings: dict[str, float] = {}
        self.view: TextView | None = None
        self.sample: Sample | None = None


class Pipeline:
    """Checks messages before anyone else sees them.

    Args:
        settings: moderation settings (policies, limits, provider options).
        clock: seconds, monotonic; read when a :class:`MessageContext` has no ``now``.
        provider: optional external classifier, consulted by :meth:`check` only.
        activity: per-user activity store for rate limits (in memory when omitted).
        host_domains: the host's own domains (``Settings.host_domains``); links to them are
            not spam (unless ``settings.spam.allow_host_links`` is false).
    """

    def __init__(
        self,
        settings: ModerationSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        provider: ModerationProvider | None = None,
        activity: ActivityStore | None = None,
        host_domains: Sequence[str] = (),
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._provider = provider
        self._policies = {kind: CompiledPolicy(kind, p) for kind, p in settings.policies.items()}
        self._fallback = self._policies.get("default") or CompiledPolicy("default", Policy())
        self._rate = RateCheck(settings.rate, activity)
        self._content: tuple[Check, ...] = (
            BlocklistCheck(),
            ThreatCheck(),
            HateCheck(),
            SpamCheck(settings.spam, host_domains),
        )
        self._pii = PiiCheck(settings.phone_regions)

    @property
    def provider(self) -> ModerationProvider | None:
        """The external provider, if one is configured (closed by the app at shutdown)."""
        return self._provider

    def policy_for(self, kind: str) -> Policy:
        """The policy applied to rooms of ``kind`` (``default`` for unknown kinds)."""
        return self._policies.get(kind, self._fallback).policy

    def set_policy(self, kind: str, policy: Policy) -> None:
        """Replace the policy of ``kind`` at run time (the admin API calls this).

        Raises:
            ValueError: the policy is inconsistent; the message names the bad key.
        """
        policy.validate(f"policies.{kind}")
        compiled = CompiledPolicy(kind, policy)
        self._policies[kind] = compiled
        if kind == "default":
            self._fallback = compiled
        log.info("moderation policy for %s replaced", kind)

    def observe_elsewhere(self, user_id: str, text: str | None, now: float) -> None:
        """Count a post ``user_id`` made through another node (``text`` None for a refused
        attempt), so rate and duplicate limits hold across nodes, not per node."""
        if not self._settings.enabled:
            return
        view = None
        if text is not None:
            view = TextView(hygiene.sanitize(text[: self._settings.max_input_chars])[0])
        self._rate.observe_elsewhere(user_id, view, now)

    def retract(self, sample: Sample | None) -> None:
        """Uncount a message from the rate limits (``sample`` is its ``Verdict.rate_sample``):
        it was never stored (its commit failed), so its retry must be judged as if this
        attempt had not happened."""
        if sample is not None and self._settings.enabled:
            self._rate.retract(sample)

    def forget_user(self, user_id: str) -> None:
        """Drop the rate-limit memory of ``user_id`` (erasure requests)."""
        self._rate.store.forget(user_id)

    def check_local(self, text: str, ctx: MessageContext) -> Verdict:
        """Run the in-process checks only: synchronous, no I/O."""
        run = self._local(text, ctx)
        return self._finish(run)

    async def check(self, text: str, ctx: MessageContext) -> Verdict:
        """Run the local checks, then the provider when configured and still undecided."""
        run = self._local(text, ctx)
        compiled = run.tally.compiled
        if (
            self._provider is not None
            and compiled.policy.provider
            and run.view is not None
            and run.tally.action.severity < Action.SHADOW.severity
        ):
            started = _perf()
            await self._ask_provider(self._provider, self._text(run), run.tally)
            run.timings["provider"] = (_perf() - started) * 1000.0
        return self._finish(run)

    def _local(self, text: str, ctx: MessageContext) -> _Run:
        compiled = self._policies.get(ctx.room_kind, self._fallback)
        run = _Run(text, Tally(compiled))
        if not self._settings.enabled:
            return run
        started = _perf()
        limit = self._settings.max_input_chars
        if len(text) > limit:
            run.tally.add([hygiene.too_long(len(text), limit)])
            run.timings["input"] = (_perf() - started) * 1000.0
            return run
        clean, found = hygiene.sanitize(text)
        run.tally.add(found)
        mark = _perf()
        timings = run.timings
        timings["input"] = (mark - started) * 1000.0
        view = run.view = TextView(clean)
        started, mark = mark, _perf()
        timings["normalize"] = (mark - started) * 1000.0
        if not view.folded.strip():
            run.tally.add([hygiene.empty()])
            return run
        now = ctx.now if ctx.now is not None else self._clock()
        msg = CheckInput(view, compiled, ctx.user_id, ctx.room_id, now)
        tally = run.tally
        findings, run.sample = self._rate.record(msg)
        tally.add(findings)
        started, mark = mark, _perf()
        timings[self._rate.name] = (mark - started) * 1000.0
        for check in self._content:
            if tally.action is Action.BLOCK:
                break
            tally.add(check.run(msg))
            started, mark = mark, _perf()
            timings[check.name] = (mark - started) * 1000.0
        personal = self._pii.run(msg)
        if personal:
            tally.add(personal)
            tally.floor(Action.MASK)
        timings["pii"] = (_perf() - mark) * 1000.0
        return run

    async def _ask_provider(self, provider: ModerationProvider, text: str, tally: Tally) -> None:
        ps = self._settings.provider
        try:
            result = await asyncio.wait_for(provider.classify(text), ps.timeout_seconds)
        except Exception as exc:  # any failure is the provider's, never the sender's
            failure = "timed out" if isinstance(exc, TimeoutError) else str(exc) or repr(exc)
            log.warning("moderation provider %s failed: %s", provider.name, failure)
            detail = f"{provider.name} {failure}; failing {ps.on_failure}"
            tally.add([Finding(Reason("provider", "provider.unavailable", 0.0, detail))])
            if ps.on_failure == "closed":
                tally.floor(ps.closed_action)
            return
        tally.add(self._provider_findings(provider.name, result))

    def _provider_findings(self, name: str, result: ProviderResult) -> list[Finding]:
        ps = self._settings.provider
        findings = [
            Finding(Reason("provider", f"provider.{cat}", round(score, 4), f"{name}: {cat}"))
            for cat, score in sorted(result.category_scores.items())
            if score >= ps.min_category_score
        ]
        top = max((f.reason.score for f in findings), default=0.0)
        if result.flagged and top < ps.flagged_score:
            reason = Reason("provider", "provider.flagged", ps.flagged_score, f"{name}: flagged")
            findings.append(Finding(reason))
        return findings

    def _text(self, run: _Run) -> str:
        """The text to show: sanitised, with the spans of acting findings, and of personal
        data whatever the policy, masked."""
        if run.view is None:  # refused before folding (too long), or moderation disabled
            return run.original if not self._settings.enabled else ""
        tally = run.tally
        spans = [
            s
            for f in tally.findings
            if f.spans and (f.reason.check == PII or tally.acting(f))
            for s in f.spans
        ]
        return apply_spans(run.view, spans) if spans else run.view.text

    def _finish(self, run: _Run) -> Verdict:
        tally = run.tally
        findings = tally.findings
        text = self._text(run)
        if not findings:  # the common case: nothing to combine
            return Verdict(
                action=Action.ALLOW,
                score=0.0,
                reasons=[],
                text=text,
                altered=text != run.original,
                checks_ms=run.timings,
                rate_sample=run.sample,
            )
        retry = [f.retry_after for f in findings if f.retry_after is not None]
        return Verdict(
            action=tally.action,
            score=tally.score,
            reasons=[f.reason for f in findings],
            text=text,
            altered=text != run.original,
            checks_ms=run.timings,
            retry_after=max(retry) if retry else None,
            rate_sample=run.sample,
        )
