"""Property-based fuzzing of every operation in the OpenAPI schema, as every role.

Bounded for CI (LOCARD_FUZZ_EXAMPLES, default 6 per operation and role); a longer run:
`LOCARD_FUZZ_EXAMPLES=500 scripts/test.sh tests/fuzz`. Properties: never a 5xx, and
every documented response matches its schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from app.main import create_app
from app.settings import Settings
from tests.support.live_server import LiveVault, live_vault, make_settings

EXAMPLES = int(os.environ.get("LOCARD_FUZZ_EXAMPLES", "6"))
ROLES = ("collector", "legal", "auditor", "admin", None)


@pytest.fixture(scope="module")
def fuzz_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    with live_vault(make_settings(data / "vault", f"sqlite:///{data / 'locard.db'}")) as live:
        with live.client("collector") as c:
            cid = c.post("/v1/cases", json={"title": "fuzz", "severity": "P3"}).json()["case"]["id"]
            c.post(f"/v1/cases/{cid}/artifacts", params={"file_name": "x.bin"}, content=b"x" * 64)
        yield live


# The app's own schema, produced without starting it: the same document /openapi.json serves.
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_schema_conformance(
    case: schemathesis.Case, fuzz_vault: LiveVault
) -> None:
    # Each generated request is sent as every role (and anonymously): authorisation
    # paths are where handlers most often meet input they did not expect.
    for role in ROLES:
        headers = {"Authorization": f"Bearer {fuzz_vault.tokens[role]}"} if role else {}
        response = case.call(base_url=fuzz_vault.url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
