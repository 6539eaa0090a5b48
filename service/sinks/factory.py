"""Builds the configured sinks and the forwarder; reads secrets from the environment.

Secrets are read here, once, at start, from the variables the settings name; they are passed
to the vendor clients and never logged or stored. A missing secret stops the start with the
variable's name and the sink's key path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry

from service.eventlog.duckdb_log import DuckDBLog
from service.settings import ConfigError, Settings
from service.sinks.base import Sink
from service.sinks.erasure import ErasureIndex, ErasureKeys
from service.sinks.forwarder import Forwarder
from service.sinks.ga4 import GA4Sink
from service.sinks.metrics import SinkMetrics
from service.sinks.mixpanel import MixpanelSink
from service.sinks.segment import SegmentSink
from service.sinks.settings import SinkCommon, WarehouseSinkSettings, check_sinks
from service.sinks.warehouse.sink import WarehouseSink


def _secret(environ: Mapping[str, str], var: str, at: str, *, required: bool = True) -> str:
    value = environ.get(var, "")
    if required and not value:
        raise ConfigError(f"environment variable {var} is not set - at `{at}`")
    return value


def warehouse_root(settings: Settings, sink: WarehouseSinkSettings) -> Path:
    """The folder of a warehouse sink (``<data_dir>/warehouse`` unless configured)."""
    return Path(sink.path) if sink.path else settings.data_path / "warehouse"


def erasure_keys(settings: Settings) -> ErasureKeys:
    """The keys of erased users' pseudonyms (``sinks.erasure_secret``, and retired ones)."""
    return ErasureKeys(settings.sinks.erasure_secret, settings.sinks.erasure_retired_secrets)


def build_sinks(
    settings: Settings,
    log: DuckDBLog,
    *,
    erasures: ErasureIndex,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[Sink, SinkCommon]]:
    """Every enabled sink of ``settings``, built and ready to start.

    Raises:
        ConfigError: the sink configuration is invalid or a secret is missing.
    """
    env = os.environ if environ is None else environ
    cfg = settings.sinks
    problems = check_sinks(cfg)
    if problems:
        raise ConfigError("invalid sink configuration: " + "; ".join(problems))
    built: list[tuple[Sink, SinkCommon]] = []
    for i, seg in enumerate(cfg.segment):
        if seg.enabled:
            key = _secret(env, seg.write_key_env, f"$.sinks.segment[{i}].write_key_env")
            built.append((SegmentSink(seg, write_key=key), seg))
    for i, mp in enumerate(cfg.mixpanel):
        if mp.enabled:
            token = _secret(env, mp.token_env, f"$.sinks.mixpanel[{i}].token_env")
            secret = _secret(env, mp.api_secret_env, "", required=False)
            built.append((MixpanelSink(mp, token=token, api_secret=secret), mp))
    for i, ga in enumerate(cfg.ga4):
        if ga.enabled:
            secret = _secret(env, ga.api_secret_env, f"$.sinks.ga4[{i}].api_secret_env")
            built.append((GA4Sink(ga, api_secret=secret), ga))
    for wh in cfg.warehouse:
        if wh.enabled:
            sink = WarehouseSink(wh, root=warehouse_root(settings, wh), log_=log, erasures=erasures)
            built.append((sink, wh))
    return built


def build_forwarder(
    settings: Settings,
    log: DuckDBLog,
    *,
    registry: CollectorRegistry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Forwarder:
    """The forwarder of ``settings.sinks``: the sinks that run, and those that do not (disabled,
    or every sink when forwarding is off), shown and replayed by their stored cursor."""
    erasures = ErasureIndex(keys=erasure_keys(settings))
    sinks = (
        build_sinks(settings, log, erasures=erasures, environ=environ)
        if settings.sinks.enabled
        else []
    )
    # Every configured warehouse, enabled or not and with forwarding off too: an erasure
    # rewrites each folder, not only those a running sink writes to.
    warehouses = [(wh, warehouse_root(settings, wh)) for wh in settings.sinks.warehouse]
    disabled = [sink for sink in settings.sinks.all() if not settings.sinks.runs(sink)]
    return Forwarder(
        log, sinks, poll_interval=settings.sinks.poll_interval_seconds,
        stop_timeout=settings.sinks.stop_timeout_seconds, metrics=SinkMetrics(registry),
        erasures=erasures, warehouses=warehouses, disabled=disabled,
    )  # fmt: skip
