"""Holdout: a deterministic share of users never sees the community layer; exposure is logged."""

from __future__ import annotations

import duckdb
from litestar.testing import TestClient

from service.app import build_community, create_app
from service.identity import mint_token
from service.settings import ensure_dev_secrets, load_settings


def test_holdout_assignment_is_deterministic_and_logged_once(tmp_path):
    s = load_settings(environ={
        "SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false",
        "SIDELINE_HOLDOUT__SHARE": "0.3",
    })  # fmt: skip
    ensure_dev_secrets(s)
    community = build_community(s)
    groups = {}
    with TestClient(create_app(s, community=community)) as c:
        for i in range(200):
            h = {"Authorization": f"Bearer {mint_token(s.auth.hs256_secret, user_id=f'u{i}', context_id='match:1')}"}
            first = c.post("/v1/rooms/match:1/join", headers=h)
            second = c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "a", "text": "hi"})
            groups[f"u{i}"] = "holdout" if first.status_code == 403 else "exposed"
            if groups[f"u{i}"] == "holdout":
                assert first.json()["error"]["code"] == "holdout" and second.status_code == 403
            else:
                assert second.status_code == 201
            assert community.holdout_group(f"u{i}", "match:1") == groups[f"u{i}"]
    held = sum(g == "holdout" for g in groups.values())
    assert 40 <= held <= 80  # ~30% of 200
    con = duckdb.connect(str(s.log_path), read_only=True)
    rows = con.execute(
        "SELECT user_id, json_extract_string(payload, '$.group') FROM events "
        "WHERE event_type = 'community_exposure_assigned'"
    ).fetchall()
    con.close()
    assert sorted(rows) == sorted(groups.items())  # one exposure event per user, with its group
