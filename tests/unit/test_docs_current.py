from pathlib import Path

from service.commands.config import reference

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current():
    assert (ROOT / "docs/configuration.md").read_text() == reference(), (
        "docs/configuration.md is stale: run `sideline config --reference > docs/configuration.md`"
    )
