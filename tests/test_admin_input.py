"""The admin refuses what the database cannot hold, with a message: JSON fields and action selections."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from annotation.models import Project
from arena.models import ArenaModel

pytestmark = pytest.mark.django_db

MODEL = {"name": "m", "backend": "openai", "weight": "1", "max_concurrency": "1", "timeout_s": "5", "active": "on"}


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-123"))
    return client


@pytest.mark.parametrize("params", ['{"k": "\\u0000"}', '["\\ud800"]', '{"a": 1e999}', '{"\\u0000": 1}'])
def test_json_the_database_cannot_hold_is_refused_at_the_form(staff_client, params):
    page = staff_client.post("/admin/arena/arenamodel/add/", {**MODEL, "params": params})
    assert page.status_code == 200 and "This JSON cannot be stored" in page.content.decode()
    assert not ArenaModel.objects.exists()


def test_an_emptied_json_field_saves_its_default_not_null(staff_client):
    assert staff_client.post("/admin/arena/arenamodel/add/", {**MODEL, "params": ""}).status_code == 302
    assert ArenaModel.objects.get().params == {}


@pytest.mark.parametrize("selected", ["abc", "a\x00b", "99999999999999999999", ""])
def test_an_action_on_rows_that_cannot_exist_is_refused_with_a_message(staff_client, selected):
    Project.objects.create(name="P", slug="p")
    page = staff_client.post(
        "/admin/annotation/project/",
        {"action": "delete_selected", "index": "0", "_selected_action": [selected]},
        follow=True,
    )
    assert page.status_code == 200 and "Those rows cannot be selected" in page.content.decode()
    assert Project.objects.count() == 1
