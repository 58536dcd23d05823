"""The whole API, fuzzed from its own OpenAPI schema (schemathesis): no response is a 500, every response
fits the schema (status, content type, body), and what the schema refuses the server refuses.

Bounded so that it stays a few seconds per operation (AGORA_API_FUZZ_EXAMPLES, default 25 per
operation, the same ones on every run): a staff read-write token (the caller who may reach every
operation) sends schemathesis' generated requests, positive and negative, through Django's WSGI handler on
the test database, in the world of tests/surface.py."""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import api


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx, value):
    # The pushes' second body type: the array the schema describes, one JSON value per line.
    values = value if isinstance(value, list) else [value]
    return "".join(json.dumps(v) + "\n" for v in values).encode()


schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
# The same examples on every run (CI must not pass or fail by chance); raise the count to explore further.
EXAMPLES = int(os.environ.get("AGORA_API_FUZZ_EXAMPLES", "25"))
schema.app = WSGIHandler()


@pytest.fixture(autouse=True)
def _connections_kept():
    # As Django's test client does: the handler would close the test's connection (inside its transaction)
    # at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(token_for):
    return token_for("staff", scope="write")


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
def test_no_operation_answers_outside_its_schema(case, world, staff_token):
    # Not "every schema-valid request is accepted": the schema holds each field's type and range, and the
    # services then refuse what only the data can tell (an unknown export format, a Likert project without
    # attributes, a slug already taken) with a 4xx problem; the other checks hold for those answers too.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token}"}, excluded_checks=[positive_data_acceptance]
    )
