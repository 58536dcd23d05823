"""Who may use what: every URL of the URLconf × every persona, with the answer each must get.

The rows are written by hand (they are the policy); the URLs are read from the URLconf, so a new URL
without a row fails the test until someone says who may use it. A request carries no valid input
(an empty form), so a 400 means "allowed in, and told what is missing", and authorization is seen to
come before validation: someone who may not use a URL learns nothing from its checks.
"""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from agora_datasets.models import ExportState
from tests.surface import PERSONAS, concrete, routes

pytestmark = pytest.mark.django_db

LOGIN = "login"  # a redirect to a login page
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
ANON, ANN, OWNER, OTHER, STAFF = PERSONAS


def row(method: str, anonymous, annotator, owner, other_owner, staff) -> dict:
    return {"method": method, ANON: anonymous, ANN: annotator, OWNER: owner, OTHER: other_owner, STAFF: staff}


EVERYONE = row("get", 200, 200, 200, 200, 200)
# Owners of the project (and staff) only; its annotators and other projects' owners get 404, as if
# the project did not exist.
OWNERS = row("get", LOGIN, 404, 200, 404, 200)

EXPECTED = {
    "home": EVERYONE,
    "healthz": EVERYONE,
    "login": EVERYONE,
    "logout": row("post", 302, 302, 302, 302, 302),
    # The battle is the annotator's own (started while logged in): nobody else can see it or act on it.
    "arena:index": EVERYONE,
    "arena:sampling": EVERYONE,
    "arena:battle": row("get", 404, 200, 404, 404, 404),
    "arena:turn": row("post", 404, 400, 404, 404, 404),
    "arena:vote": row("post", 404, 400, 404, 404, 404),
    "annotation:index": row("get", LOGIN, 200, 200, 200, 200),
    # Members work in a project (staff everywhere); the lease is the annotator's, so only they submit it.
    "annotation:task": row("get", LOGIN, 200, 200, 404, 200),
    "annotation:submit": row("post", LOGIN, 400, 404, 404, 404),
    "annotation:skip": row("post", LOGIN, 400, 404, 404, 404),
    "annotation:dashboard": OWNERS,
    "annotation:settings": OWNERS,
    "annotation:export": OWNERS,
    "annotation:exports": OWNERS,
    "annotation:export_download": OWNERS,
    "ratings:leaderboard": EVERYONE,
    # Staff only; everyone else is sent to the admin's login and no fit is queued.
    "ratings:refit": row("post", LOGIN, LOGIN, LOGIN, LOGIN, 302),
    "admin:*": row("get", LOGIN, LOGIN, LOGIN, LOGIN, 200),
    # Everyone logged in manages their own tokens; a revoke of someone else's token changes nothing.
    "api:tokens": row("get", LOGIN, 200, 200, 200, 200),
    "api:revoke": row("post", LOGIN, 302, 302, 302, 302),
    # The JSON API answers 401 without a token or session (tests/api/test_access.py: each operation).
    "api-v1:*": row("get", 401, 200, 200, 200, 200),
    # A moved admin page: everyone is sent on, and the admin then decides.
    "admin_exportjob_moved": row("get", 301, 301, 301, 301, 301),
}


def test_every_url_has_a_row():
    missing = sorted({r.name for r in routes()} - set(EXPECTED))
    assert not missing, f"say who may use these URLs in EXPECTED: {missing}"


def _finished_export(world, folder) -> None:
    job = world.export_job
    job.state, job.manifest = ExportState.DONE, {"files": []}
    job.save()
    (folder / str(job.pk)).mkdir(parents=True)
    (folder / str(job.pk) / "manifest.json").write_text("{}")


def test_each_persona_gets_the_expected_answer_from_every_url(tmp_path, world, persona_client):
    with override_settings(AGORA_EXPORT_DIR=tmp_path):
        _finished_export(world, tmp_path)
        wrong = []
        for route in routes():
            expected = EXPECTED[route.name]
            path = concrete(route, world)
            for persona in PERSONAS:
                client = persona_client(persona)  # a fresh one each time: the logout row logs it out
                response = getattr(client, expected["method"])(path)
                got = response.status_code
                if got == 302 and response["Location"].startswith(LOGIN_PAGES):
                    got = LOGIN
                if got != expected[persona]:
                    wrong.append(
                        f"{persona:12} {expected['method'].upper():4} {path}: {got}, expected {expected[persona]}"
                    )
        assert not wrong, "\n".join(wrong)
