"""A property-based run over /api/openapi.json (issue 13): schemathesis generates requests for
every operation from the file alone — valid ones and ones that break it — and sends them with a
valid initData to the web app on real PostgreSQL and Redis. No answer may be a server error,
and every answer must match the file (status, content type, schema, headers).

The server runs on this test's event loop (Tortoise's connections belong to it); the
generated requests are sent from a worker thread, so the loop stays free to answer them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from bot.app import Services
from services.i18n import Catalog
from tests.payouts.helpers import TRON, funded_trader, ready_address
from tests.support.api_app import auth, build_app
from webapp.api.spec import openapi

EXAMPLES_PER_OPERATION = 30
# What the generated requests are held to. Not positive_data_acceptance: a body can be valid
# for the file and still be refused on its merits (an amount above the balance is a 422).
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance]


def _fuzz(base_url: str, headers: dict[str, str]) -> list[str]:
    """Every operation, EXAMPLES_PER_OPERATION cases each; the failures found, in words."""
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi())))
    failures: list[str] = []
    for result in schema.get_all_operations():
        _fuzz_one(result.ok(), base_url, headers, failures)
    return failures


def _fuzz_one(operation: Any, base_url: str, headers: dict[str, str],
              failures: list[str]) -> None:
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as error:  # schemathesis groups what failed; keep its words
            failures.append(f"{operation.label}: {case.method} {case.formatted_path} "
                            f"{case.query or ''} → {response.status_code}: {error}")

    test: Callable[[], None] = given(case=operation.as_strategy())(settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )(run))
    test()


async def test_no_generated_request_breaks_the_api_or_its_description(
    db: str, redis: Any, redis_prefix: str, services: Services, i18n: Catalog
) -> None:
    user_id, _ = await funded_trader(Decimal(900))
    await ready_address(services.withdrawals, user_id, "USDT-TRC20", TRON)
    app = build_app(services, i18n, redis, redis_prefix)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base_url = str(server.make_url("")).rstrip("/")
        failures = await asyncio.to_thread(_fuzz, base_url, auth(user_id))
    finally:
        await server.close()
    assert not failures, "\n\n".join(failures[:10])
