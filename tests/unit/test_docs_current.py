from pathlib import Path

from service.commands.config import reference

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current():
    assert (ROOT / "docs/configuration.md").read_text() == reference(), (
        "docs/configuration.md is stale: run `sideline config --reference > docs/configuration.md`"
    )


def test_the_close_code_table_is_the_error_model_and_every_code_is_used():
    """docs/protocol.md lists every ErrorCode with its close code, and nothing else; every
    code is raised somewhere in the service (a documented code no one sends misleads clients)."""
    import re

    from service.errors import ErrorCode

    table = re.findall(r"^\| \**(\d{4})\** \| `([a-z_]+)` \|", (ROOT / "docs/protocol.md").read_text(), re.M)
    assert sorted(table) == sorted((str(c.close_code), c.name.lower()) for c in ErrorCode)
    source = "\n".join(p.read_text() for p in (ROOT / "service").rglob("*.py") if p != ROOT / "service/errors.py")
    source += "\n".join(p.read_text() for p in (ROOT / "dashboards").rglob("*.py"))
    unused = [c.name for c in ErrorCode if f"ErrorCode.{c.name}" not in source]
    assert unused == []
