"""Reading a rendered dashboard page back: its embedded data and its sentences."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

_DATA = re.compile(r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.S)
_DETAIL = re.compile(r'<script type="application/json" id="detail-([\w-]+)">(.*?)</script>', re.S)


def _json(text: str) -> Any:
    return json.loads(text.replace("<\\/", "</"))


def expand(block: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(block["fields"], row, strict=True)) for row in block["rows"]]


class Page:
    """One dashboard HTML file."""

    def __init__(self, path: Path) -> None:
        self.html = path.read_text()
        match = _DATA.search(self.html)
        assert match, f"{path} has no dashboard data"
        self.config = _json(match.group(1))
        self.details = {m.group(1): _json(m.group(2)) for m in _DETAIL.finditer(self.html)}

    def rows(self, dataset: str) -> list[dict[str, Any]]:
        return expand(self.config["datasets"][dataset])

    def detail(self, name: str, key: str) -> list[dict[str, Any]]:
        return expand(self.details[name][key])

    def chart(self, chart_id: str) -> dict[str, Any]:
        return next(c for c in self.config["charts"] if c["id"] == chart_id)

    def text(self, chart_id: str, state: str | None = None) -> str:
        """The sentence of a chart for ``state`` (``range|kind``), default: the first state."""
        state = state or f"{self.config['ranges'][0]['key']}|*"
        return self.chart(chart_id)["texts"][state]

    def finding(self, chart_id: str) -> str:
        """The sentence written into the HTML for the default state (what readers see first)."""
        m = re.search(rf'id="chart-{re.escape(chart_id)}">.*?<p class="finding"[^>]*>(.*?)</p>',
                      self.html, re.S)  # fmt: skip
        assert m, f"no finding for chart {chart_id}"
        return html.unescape(m.group(1))


def plain(value: Any) -> Any:
    """A Parquet value as the page stores it (ISO dates, ``Z`` times)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def number(text: str) -> float:
    """``4,378`` / ``−1.5`` / ``43%`` as a float."""
    return float(text.replace(",", "").replace("\u2212", "-").rstrip("%"))
