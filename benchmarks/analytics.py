"""Benchmark of the analytics jobs: 10M events, 1M users, 30 days of community history.

    .venv/bin/python benchmarks/analytics.py [--events N] [--users N]

Generates (once, cached under benchmarks/.cache/, ignored by git) a warehouse in the exact
layout the warehouse sink writes and Parquet product exports (activity from 28 days before to
28 days after the 30 community days, so churn is observable), then measures, each in its own
subprocess so its peak RSS is its own:

- ``full``: a full refresh of every report;
- ``incremental``: one new day of events after a run over the 29 days before it;
- ``churn_polars``: the churn-vs-posting report alone (full);
- ``churn_pandas``: the same report written in pandas as an analyst would (the baseline).

Prints a table and writes ``benchmarks/results/analytics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from analytics.io import write_events  # noqa: E402
from analytics.windows import GRID_ORIGIN  # noqa: E402

CACHE = ROOT / ".cache" / "analytics"
RESULTS = ROOT / "results" / "analytics.json"
DAYS, PRE, POST = 30, 28, 28


def start_day() -> date:
    """A grid-aligned first community day whose export ends before today."""
    latest = datetime.now(UTC).date() - timedelta(days=DAYS + POST)
    return latest - timedelta(days=(latest - GRID_ORIGIN).days % 14)


# -- data ---------------------------------------------------------------------------------------


def generate(folder: Path, n_events: int, n_users: int, seed: int = 1) -> None:
    """Write exports and warehouse for the benchmark into ``folder`` (vectorised, ~1 min)."""
    g = np.random.default_rng(seed)
    start = start_day()
    tier = g.integers(0, 4, n_users)
    ids = pl.Series("user_id", np.arange(n_users)).cast(pl.String).str.pad_start(7, "0")
    ids = ("u" + ids).alias("user_id")
    exports = folder / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    signup = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(days=PRE + 1)
    pl.DataFrame({
        "user_id": ids,
        "signed_up_at": pl.Series([signup]).dt.cast_time_unit("us").repeat_by(n_users).explode()
        - pl.Series(g.integers(0, 400 * 86400, n_users) * 1_000_000).cast(pl.Duration("us")),
        "plan": np.array(["free", "plus", "pro", "pro"])[tier],
        "country": np.array(["GB", "US", "DE", "IN"])[g.integers(0, 4, n_users)],
    }).write_parquet(exports / "users.parquet")  # fmt: skip
    span = PRE + DAYS + POST
    active_p = np.array([0.1, 0.25, 0.45, 0.7])[tier]
    churn_day = np.where(g.random(n_users) < np.array([0.3, 0.2, 0.12, 0.06])[tier],
                         PRE + g.integers(0, DAYS, n_users), span)  # fmt: skip
    parts = []
    for day in range(span):
        on = (g.random(n_users) < active_p) & (day < churn_day)
        who = np.nonzero(on)[0]
        parts.append(pl.DataFrame({
            "user_id": ids.gather(who),
            "date": pl.repeat(start - timedelta(days=PRE - day), len(who), eager=True),
            "sessions": (1 + g.poisson(1.0 + tier[who])).astype(np.int64),
            "minutes": np.round(g.gamma(2.0, 8.0, len(who)), 1),
        }))  # fmt: skip
    pl.concat(parts).write_parquet(exports / "activity.parquet", row_group_size=1_000_000)
    contexts, n_match = _contexts(g, start)
    contexts.write_parquet(exports / "contexts.parquet")
    per_day = n_events // DAYS
    community = np.nonzero(g.random(n_users) < np.array([0.15, 0.3, 0.45, 0.6])[tier])[0]
    weight = g.pareto(1.2, len(community)) + 1
    weight /= weight.sum()
    seq0 = 0
    for day in range(DAYS):
        frame = _events_of_day(g, start + timedelta(days=day), day, per_day, ids, community,
                               weight, n_match, seq0)  # fmt: skip
        seq0 += frame.height
        write_events(frame, folder / "warehouse")


def _contexts(g: np.random.Generator, start: date) -> tuple[pl.DataFrame, list[int]]:
    rows, n_match = [], []
    for day in range(DAYS):
        kick = datetime(start.year, start.month, start.day, 12, tzinfo=UTC) + timedelta(days=day)
        k = int(g.integers(6, 14))
        n_match.append(k)
        for m in range(k):
            at = kick + timedelta(minutes=30 * int(g.integers(0, 17)))
            rows.append((f"match:{day:02d}{m:02d}", "match", f"match {day}/{m}", at,
                         at + timedelta(minutes=110), int(g.integers(20_000, 200_000))))  # fmt: skip
    frame = pl.DataFrame(rows, orient="row", schema=["context_id", "kind", "title", "starts_at",
                                                     "ends_at", "viewers"])  # fmt: skip
    return frame.with_columns(pl.col("starts_at", "ends_at").dt.cast_time_unit("us")), n_match


_TYPES = np.array(["community_room_joined", "reaction_added", "community_message_sent",
                   "poll_voted", "community_room_left", "community_message_moderated",
                   "community_exposure_assigned", "community_message_reported",
                   "community_message_approved"])  # fmt: skip
_P = np.array([0.22, 0.33, 0.16, 0.1, 0.12, 0.025, 0.04, 0.0025, 0.0025])


def _events_of_day(g, day, index, n, ids, community, weight, n_match, seq0) -> pl.DataFrame:
    users = community[g.choice(len(community), n, p=weight)]
    kinds = _TYPES[g.choice(len(_TYPES), n, p=_P / _P.sum())]
    match = g.integers(0, n_match[index], n)
    kick_minutes = 12 * 60 + 30 * g.integers(0, 17, n)  # approximate: within the match day
    minute = g.uniform(-5, 115, n)
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    micros = ((kick_minutes + minute) * 60e6).astype(np.int64).clip(0, 86_400_000_000 - 1)
    seq = np.arange(seq0 + 1, seq0 + n + 1)
    act = np.array(["mask", "hold", "block", "shadow"])[g.integers(0, 4, n)]
    chk = np.array(["pii", "blocklist", "spam", "rate"])[g.integers(0, 4, n)]
    frame = pl.DataFrame({
        "seq": seq,
        "event_type": kinds,
        "user_id": ids.gather(users),
        "room_id": pl.Series(match).cast(pl.String).str.pad_start(2, "0"),
        "off": micros,
        "act": act,
        "chk": chk,
        "grp": np.where(g.random(n) < 0.1, "holdout", "exposed"),
        "dec": np.where(g.random(n) < 0.4, "approve", "reject"),
        "mid": g.integers(1, seq0 + n + 1, n),
    })  # fmt: skip
    t = pl.col("event_type")
    payload = (
        pl.when(t == "community_message_sent").then(pl.lit('{"text":"what a goal","client_msg_id":"c","visibility":"public","masked":false,"reply_to":null,"role":"user"}'))
        .when(t == "reaction_added").then(pl.lit('{"emoji":"🔥"}'))
        .when(t == "poll_voted").then(pl.lit('{"poll_id":"p","option":1}'))
        .when(t == "community_message_moderated").then(pl.format('{{"action":"{}","score":0.9,"reasons":[{{"check":"{}","code":"x","score":0.9,"detail":""}}],"checks_ms":{{}}}}', "act", "chk"))
        .when(t == "community_exposure_assigned").then(pl.format('{{"group":"{}","unit":"user"}}', "grp"))
        .when(t == "community_message_reported").then(pl.lit('{"reason":"abuse","report_id":"r"}'))
        .when(t == "community_message_approved").then(pl.format('{{"decision":"{}","source":"hold"}}', "dec"))
        .otherwise(pl.lit("{}"))
    )  # fmt: skip
    room = pl.lit(f"match:{index:02d}") + pl.col("room_id")
    return frame.select(
        "seq",
        pl.col("seq").cast(pl.String).str.pad_start(32, "0").alias("event_id"),
        pl.lit("bench-epoch").alias("epoch"),
        pl.lit("node-1").alias("node_id"),
        pl.lit(1, pl.Int16).alias("schema_version"),
        "event_type",
        (pl.lit(base) + pl.duration(microseconds=pl.col("off"))).dt.cast_time_unit("us")
        .alias("occurred_at"),
        "user_id",
        room.alias("room_id"),
        room.alias("context_id"),
        pl.lit(None, pl.String).alias("actor_id"),
        ("m" + pl.col("mid").cast(pl.String)).alias("message_id"),
        pl.lit("ios").alias("device"),
        pl.lit("en").alias("language"),
        pl.lit(None, pl.String).alias("message_type"),
        pl.lit("5.2.0").alias("app_version"),
        pl.lit(None, pl.String).alias("session_id"),
        payload.alias("payload"),
    )  # fmt: skip


# -- the pandas baseline ------------------------------------------------------------------------


def churn_pandas(folder: Path, windows: list[tuple[date, date]], churn_days: int = 28,
                 retention_days: int = 7, pre_days: int = 28, weeks: int = 2) -> "object":  # noqa: UP037
    """Churn vs posting per segment (counts and rates) in pandas, as an analyst would write it."""
    import pandas as pd

    events = pd.read_parquet(folder / "warehouse" / "events",
                             columns=["user_id", "event_type", "occurred_at"])  # fmt: skip
    exposures = pd.read_parquet(folder / "warehouse" / "events",
                                columns=["user_id", "occurred_at", "payload"],
                                filters=[("event_type", "==", "community_exposure_assigned")])
    exposures["group"] = exposures["payload"].str.extract(r'"group":"(\w+)"', expand=False)
    users = pd.read_parquet(folder / "exports" / "users.parquet")
    activity = pd.read_parquet(folder / "exports" / "activity.parquet")
    activity = activity[activity["sessions"] > 0]
    activity["date"] = pd.to_datetime(activity["date"])
    out = []
    for d0, d1 in windows:
        t0, t1 = pd.Timestamp(d0, tz="UTC"), pd.Timestamp(d1, tz="UTC")
        period = activity[(activity["date"] >= pd.Timestamp(d0)) & (activity["date"] < pd.Timestamp(d1))]
        cohort = users[(users["signed_up_at"] < t1) & users["user_id"].isin(period["user_id"])][["user_id"]]
        last = exposures[exposures["occurred_at"] < t1].sort_values("occurred_at").groupby("user_id")["group"].last()
        cohort = cohort[~cohort["user_id"].isin(last[last == "holdout"].index)]
        ev = events[(events["occurred_at"] >= t0) & (events["occurred_at"] < t1)].copy()
        ev["week"] = (ev["occurred_at"] - t0).dt.days // 7
        posts = ev[ev["event_type"] == "community_message_sent"].groupby("user_id")["week"].nunique().rename("posted_weeks")
        reacted = ev[ev["event_type"].isin(["reaction_added", "poll_voted"])].groupby("user_id").size().rename("reacts")
        opened = ev[ev["event_type"] == "community_room_joined"].groupby("user_id").size().rename("opens")
        pre = activity[(activity["date"] >= pd.Timestamp(d0 - timedelta(days=pre_days))) & (activity["date"] < pd.Timestamp(d0))]
        pre = pre.groupby("user_id")["sessions"].sum().rename("pre_sessions")
        nxt = activity[activity["date"] >= pd.Timestamp(d1)].groupby("user_id")["date"].min().rename("next_active")
        df = cohort.set_index("user_id").join([posts, reacted, opened, pre, nxt])
        df[["posted_weeks", "reacts", "opens", "pre_sessions"]] = df[["posted_weeks", "reacts", "opens", "pre_sessions"]].fillna(0)
        df["churned"] = df["next_active"].isna() | (df["next_active"] >= pd.Timestamp(d1 + timedelta(days=churn_days)))
        df["retained"] = df["next_active"] < pd.Timestamp(d1 + timedelta(days=retention_days))
        df["segment"] = np.select(
            [df["posted_weeks"] >= weeks, df["posted_weeks"] > 0, df["reacts"] > 0, df["opens"] > 0],
            ["weekly_posters", "occasional_posters", "reactors_only", "lurkers"], "never_opened")
        df["stratum"] = ((df["pre_sessions"].rank(method="min") - 1) * 4 // len(df) + 1).clip(1, 4)
        seg = df.groupby("segment").agg(users=("churned", "size"), churned=("churned", "sum"),
                                        retained=("retained", "sum"))
        strata = df.groupby(["segment", "stratum"]).agg(n=("churned", "size"), c=("churned", "sum"))
        ref = strata.loc["never_opened"]
        adj = {}
        for s in seg.index:
            j = strata.loc[s].join(ref, rsuffix="0", how="inner")
            w = j["n"] / j["n"].sum()
            adj[s] = float((w * (j["c"] / j["n"] - j["c0"] / j["n0"])).sum())
        seg["churn_diff_adjusted"] = pd.Series(adj)
        seg["window"] = d0.isoformat()
        out.append(seg.reset_index())
    return pd.concat(out)


# -- steps, each run in its own process ---------------------------------------------------------


def _runner(work: Path, clock: datetime):
    from analytics.runner import Runner

    return Runner(work / "warehouse", work / "exports", clock=lambda: clock, progress=False)


def step(name: str, folder: Path) -> dict[str, object]:
    """Run one measured step in this process; returns seconds and peak RSS."""
    start = start_day()
    clock = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=DAYS + 1)
    work = folder.parent / f"work-{name}"
    info: dict[str, object] = {}
    if name in ("full", "churn_polars", "incremental"):
        shutil.rmtree(work, ignore_errors=True)
        (work / "warehouse" / "events").mkdir(parents=True)
        os.symlink(folder / "exports", work / "exports")
        days = sorted((folder / "warehouse" / "events").iterdir())
        keep = days[:-1] if name == "incremental" else days
        for d in keep:
            os.symlink(d, work / "warehouse" / "events" / d.name)
        if name == "incremental":
            _runner(work, clock - timedelta(days=1)).run(full=True)  # the 29 days before (untimed)
            os.symlink(days[-1], work / "warehouse" / "events" / days[-1].name)
        else:
            # Validating the product exports and tallying the rows windows read (for their
            # digests) happen once per new export file, not per refresh: measured on their
            # own, before the refresh.
            t0 = time.perf_counter()
            _runner(work, clock).prepare_exports()
            info["validate_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        jobs = ["churn_posting"] if name == "churn_polars" else None
        results = _runner(work, clock).run(jobs, full=name != "incremental")
        info["seconds"] = time.perf_counter() - t0
        info["jobs"] = {r.job: {"status": r.status, "windows": r.windows, "rows": r.rows,
                                "seconds": round(r.seconds, 3), "error": r.error}
                        for r in results}  # fmt: skip
        if name == "churn_polars":
            rep = pl.read_parquet(work / "warehouse" / "reports" / "churn_posting" / "*.parquet")
            info["check"] = rep.select("window", "segment", "users", "churned").sort("window", "segment").rows()
    elif name == "churn_pandas":
        windows = [(start, start + timedelta(days=14)),
                   (start + timedelta(days=14), start + timedelta(days=28))]
        t0 = time.perf_counter()
        rep = churn_pandas(folder, windows)
        info["seconds"] = time.perf_counter() - t0
        info["check"] = sorted((r.window, r.segment, int(r.users), int(r.churned))
                               for r in rep.itertuples())  # fmt: skip
    info["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = CACHE / f"e{args.events}-u{args.users}-{start_day()}"
    if args.step:
        print(json.dumps(step(args.step, folder), default=str))
        return 0
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE.parent / ".gitignore").write_text("*\n")
        t0 = time.perf_counter()
        generate(folder, args.events, args.users)
        (folder / "done").write_text("ok")
        print(f"generated {args.events:,} events, {args.users:,} users in "
              f"{time.perf_counter() - t0:.1f} s -> {folder}")  # fmt: skip
    steps = {}
    for name in ("full", "incremental", "churn_polars", "churn_pandas"):
        out = subprocess.run([sys.executable, __file__, "--events", str(args.events), "--users",
                              str(args.users), "--step", name],
                             capture_output=True, text=True, check=True)  # fmt: skip
        steps[name] = json.loads(out.stdout.strip().splitlines()[-1])
    same = [list(x) for x in steps["churn_polars"].pop("check")] == [
        list(x) for x in steps["churn_pandas"].pop("check")
    ]
    ratio = steps["churn_pandas"]["seconds"] / steps["churn_polars"]["seconds"]
    print(f"analytics benchmark: {args.events:,} events, {args.users:,} users, {os.cpu_count()} cores")
    print(f"{'step':<40} {'seconds':>8} {'peak RSS MiB':>13}")
    labels = {"full": "full refresh, every report", "incremental": "incremental, one new day",
              "churn_polars": "churn vs posting, Polars (this code)",
              "churn_pandas": "churn vs posting, pandas (baseline)"}  # fmt: skip
    for name, info in steps.items():
        print(f"{labels[name]:<40} {info['seconds']:>8.2f} {info['peak_rss_mib']:>13.0f}")
    print(f"{'(validating, tallying the exports, once)':<40} "
          f"{steps['full']['validate_seconds']:>8.2f}")
    print(f"pandas / Polars time on churn vs posting: {ratio:.1f}x; same segment counts: {same}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "events": args.events, "users": args.users, "cores": os.cpu_count(),
        "steps": steps, "pandas_over_polars": ratio, "same_counts": same,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
