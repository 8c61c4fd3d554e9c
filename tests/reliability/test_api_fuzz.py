"""schemathesis against the running service's own /openapi.json: every operation, valid and invalid
requests, every response checked against the document (status, content type, headers, body schema).

A real `demo-app serve` process (granian, the production server) on 127.0.0.1, once per store engine.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from provider.acceptance import DemoService
from tests.reliability.conftest import Tally

# Per operation and generation mode. The default engine gets the full run (over 1000 cases); the others,
# whose code above the store is the same, a shorter one.
EXAMPLES_PER_OPERATION = {"lsm": 70, "memory": 25, "sqlite": 25}
MINIMUM_CASES = {"lsm": 1000, "memory": 300, "sqlite": 300}
# Generated Idempotency-Keys repeat across generated bodies: reusing a key with another body is refused
# with 422, as the IETF Idempotency-Key draft says (documented in the schema). Every other operation keeps
# schemathesis's default: valid data must be accepted.
CONFIG = schemathesis.Config.from_dict(
    {
        "operations": [
            {
                "include-name": "POST /api/items",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                    }
                },
            }
        ]
    }
)


def _fuzz_operation(
    operation: schemathesis.APIOperation, mode: GenerationMode, url: str, examples: int
) -> int:
    calls: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        calls.append(1)
        response = case.call(base_url=url, timeout=15)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
        case.validate_response(response)

    try:
        check()
    except Unsatisfiable:
        # Nothing about the operation can be invalid (no parameters, or a body that takes any JSON).
        if mode is GenerationMode.POSITIVE:
            raise
    return len(calls)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["lsm", "memory", "sqlite"])
def test_every_operation_conforms_and_never_answers_5xx(
    engine: str, start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service("--store", engine)
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", config=CONFIG)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the service's own OpenAPI document is broken: {result}"
        operations.append(result.ok())
    assert len(operations) >= 13, [op.label for op in operations]
    per_operation: dict[str, int] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            per_operation[f"{operation.label} {mode.value}"] = _fuzz_operation(
                operation, mode, service.url, EXAMPLES_PER_OPERATION[engine]
            )
    tally.cases = sum(per_operation.values())
    tally.notes.update(engine=engine, operations=len(operations), per_operation=per_operation)
    assert service.process is not None and service.process.poll() is None, "the service died"
    with service.api() as api:
        assert api.get("/health").status_code == 200
    assert tally.cases >= MINIMUM_CASES[engine], per_operation
