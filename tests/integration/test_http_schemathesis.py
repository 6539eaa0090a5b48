"""Every operation of the OpenAPI document, fuzzed by Schemathesis against a real ``sideline
serve`` process: no answer is a server error, and every answer's status, content type and body
are ones its operation documents.

Cases are derandomized (the same ones every run) and few per operation, so the run is short;
each operation is tried with generated values throughout and, when it has a ``{room_id}``, in
the room the caller moderates, where requests get past authorisation to the handlers' answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8
"""Cases per operation, mode (valid / invalid data) and room (generated / the caller's)."""
ROOM = "match:1"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("schemathesis")
    proc = ServerProcess(data).start()  # moderation on: its policies are operations too
    try:
        yield proc
    finally:
        proc.stop()
        proc.kill()


def _run(operation: Any, strategy: Any, headers: dict[str, str], ran: Counter[tuple[str, int]]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def one(case: Any) -> None:
        response = case.call(headers=headers, timeout=10)
        case.validate_response(response, checks=CHECKS, headers=headers)
        ran[operation.label, response.status_code] += 1

    one()


def test_every_operation_answers_as_documented(node):
    schema = schemathesis.openapi.from_url(f"{node.url}/schema/openapi.json")
    token = node.token("mod", ROOM, role="moderator")
    headers = {"Authorization": f"Bearer {token}", "X-Admin-Key": node.admin_key()}
    ran: Counter[tuple[str, int]] = Counter()
    """Cases by operation and the status they were answered with."""
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        rooms: list[str | None] = [None]
        if any(p.name == "room_id" and p.location == "path" for p in operation.path_parameters):
            rooms.append(ROOM)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for room in rooms:
                fixed = {"room_id": room} if room else None  # a new dict: Schemathesis encodes it in place
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                try:
                    _run(operation, strategy, headers, ran)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing of it can be made invalid
                # Schemathesis reports failed checks as a BaseExceptionGroup; every operation is
                # tried and every failure shown
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.label} ({mode.value}, room {room}): {exc}")
    assert failures == [], "\n\n".join(failures)
    assert len(operations) >= 40
    assert {label for label, _ in ran} == {op.label for op in operations}, "an operation ran no case"
    assert sum(ran.values()) >= len(operations) * EXAMPLES * 2
    # answers past the refusals too, whose bodies are checked against their own schemas
    assert len({label for label, status in ran if status < 300}) >= 20, sorted(ran)
