"""``sideline --help`` speaks to the person running it, and lists every command group."""

from __future__ import annotations

import pytest

from service.cli import build_parser


def test_top_level_help_describes_the_product_and_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "sideline COMMAND --help" in out
    assert "register(" not in out and "module" not in out  # no developer notes
    for command in ("serve", "token", "config", "demo", "moderate", "sinks", "erase", "jobs",
                    "events", "dashboards"):  # fmt: skip
        assert command in out.split("positional arguments:")[1]
