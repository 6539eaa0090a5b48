"""`retention_days` above `churn_days` is refused, naming the key.

Worked by hand with churn_days = 7, retention_days = 14 and the cohort period 2026-01-05 ..
2026-01-19: a user of the period who comes back on 01-29 (day 10 after it) has no activity in
01-19 .. 01-25, so is churned, and has activity before 02-02, so is retained; the segment's
churn rate and retention rate are both 1.0. And the cohort window is ready, and final, once the
activity export reaches 01-25 (the churn horizon): computed then, the user is not retained, and
the final window is never recomputed when the export later shows the 01-29 visit. With
retention_days <= churn_days, "retained" is a subset of "not churned" and the churn horizon
covers it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.settings import AnalyticsSettings, check_settings
from service.cli import main


def test_retention_longer_than_churn_is_refused() -> None:
    assert check_settings(AnalyticsSettings(churn_days=7, retention_days=14)) == [
        "Expected at most churn_days (7), got 14 - at `$.analytics.retention_days`"
    ]
    assert check_settings(AnalyticsSettings(churn_days=7, retention_days=7)) == []
    assert check_settings(AnalyticsSettings()) == []  # 7 <= 28


def test_the_cli_refuses_it_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIDELINE_ANALYTICS__RETENTION_DAYS", "35")
    with pytest.raises(SystemExit) as info:
        main(["jobs", "run", "--all", "--no-progress", "--data-dir", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Expected at most churn_days (28), got 35 - at `$.analytics.retention_days`" in err
    assert not (tmp_path / "warehouse" / "reports").exists()
