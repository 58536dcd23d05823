"""Project settings for owners: who may change them, what a bad value does, members, and the queue's counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from annotation.models import Item, Membership, Project, Role
from annotation.queue import QueueEmpty, assignment_claim, assignment_submit
from tests.annotation.queue_data import annotators, project_with_items

pytestmark = pytest.mark.django_db

SETTINGS = {
    "action": "save",
    "name": "P",
    "guidelines": "Pick the **better** one.",
    "rationale": "optional",
    "overlap": "1",
    "lease_seconds": "900",
    "gold_ratio": "0",
    "blind": "on",
    "active": "on",
}


def _owner(client, project: Project, name: str = "owner") -> User:
    user = User.objects.create_user(name)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    client.force_login(user)
    return user


def _editable(project: Project) -> tuple:
    project.refresh_from_db()
    return (
        project.name,
        project.guidelines,
        project.overlap,
        project.lease_seconds,
        project.gold_ratio,
        project.config,
    )


def test_only_owners_and_staff_open_the_settings(client):
    project = project_with_items(1, slug="p")
    (annotator,) = annotators(project, 1)
    assert client.get("/annotate/p/settings/").status_code == 302  # anonymous: to the login page
    for role in (Role.ANNOTATOR, Role.REVIEWER):
        Membership.objects.filter(user=annotator).update(role=role)
        client.force_login(annotator)
        assert client.get("/annotate/p/settings/").status_code == 404
        assert client.post("/annotate/p/settings/", SETTINGS | {"overlap": "5"}).status_code == 404
    assert Project.objects.get().overlap == 3
    client.force_login(User.objects.create_user("staff", is_staff=True))
    assert client.get("/annotate/p/settings/").status_code == 200
    _owner(client, project)
    page = client.get("/annotate/p/settings/").content.decode()
    assert 'id="settings-form"' in page and annotator.username in page


def test_raising_the_overlap_reopens_finished_items_and_lowering_it_closes_them(client):
    project = project_with_items(2, slug="p", overlap=1)
    alice, bob = annotators(project, 2)
    for _ in range(2):
        lease = assignment_claim(project=project, annotator=alice)
        assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "left"})
    with pytest.raises(QueueEmpty):
        assignment_claim(project=project, annotator=bob)  # every item has its one annotation
    _owner(client, project)
    assert client.post("/annotate/p/settings/", SETTINGS | {"overlap": "2"}).status_code == 302
    project.refresh_from_db()
    assert project.overlap == 2 and Item.objects.filter(open=True).count() == 2
    lease = assignment_claim(project=project, annotator=bob)  # the items went back to the queue
    assert lease.item.done == 1
    assert client.post("/annotate/p/settings/", SETTINGS | {"overlap": "1"}).status_code == 302
    assert not Item.objects.filter(open=True).exists()


def test_bad_values_get_a_message_and_change_nothing(client):
    project = project_with_items(
        1, slug="p", task_type="likert", config={"attributes": ["helpfulness"], "scale": [0, 4]}
    )
    _owner(client, project)
    before = _editable(project)
    likert = SETTINGS | {"attributes": "helpfulness", "scale_low": "0", "scale_high": "4"}
    cases = [
        ({"overlap": "0"}, "greater than or equal to 1"),
        ({"gold_ratio": "1.5"}, "less than or equal to 1"),
        ({"lease_seconds": "5"}, "greater than or equal to 10"),
        ({"scale_low": "4", "scale_high": "1"}, "must be above the lowest"),
        ({"attributes": " , "}, "at least one attribute"),
        ({"scale_high": ""}, "both ends of the scale"),
    ]
    for change, message in cases:
        response = client.post("/annotate/p/settings/", likert | change)
        assert response.status_code == 400, change
        assert message in response.content.decode(), change
        assert _editable(project) == before
    ok = client.post(
        "/annotate/p/settings/",
        likert | {"attributes": "helpfulness, correctness, verbosity", "scale_low": "1", "scale_high": "7"},
    )
    assert ok.status_code == 302
    project.refresh_from_db()
    assert project.config == {
        "attributes": ["helpfulness", "correctness", "verbosity"],
        "scale": [1, 7],
        "show_suggestions": False,
    }


def test_principles_are_one_per_line(client):
    project = project_with_items(1, slug="p", task_type="principles", config={"principles": ["Is it honest?"]})
    _owner(client, project)
    form = SETTINGS | {"principles": "Is it honest?\n\n  Does it answer the question?  \n"}
    assert client.post("/annotate/p/settings/", form).status_code == 302
    project.refresh_from_db()
    assert project.config["principles"] == ["Is it honest?", "Does it answer the question?"]
    assert client.post("/annotate/p/settings/", form | {"principles": "  "}).status_code == 400


def test_members_are_added_by_username_and_a_project_keeps_an_owner(client):
    project = project_with_items(1, slug="p")
    owner = _owner(client, project)
    carol = User.objects.create_user("carol")
    missing = client.post("/annotate/p/settings/", {"action": "member", "username": "nobody", "role": "annotator"})
    assert missing.status_code == 400 and "no user named" in missing.content.decode()
    assert (
        client.post("/annotate/p/settings/", {"action": "member", "username": "carol", "role": "annotator"}).status_code
        == 302
    )
    assert Membership.objects.get(user=carol).role == Role.ANNOTATOR
    client.force_login(carol)
    assert client.get("/annotate/p/").status_code == 200  # carol can now work in the project
    client.force_login(owner)
    mine = Membership.objects.get(user=owner)
    refused = client.post("/annotate/p/settings/", {"action": "remove", "membership": mine.pk})
    assert refused.status_code == 400 and "at least one owner" in refused.content.decode()
    demoted = client.post("/annotate/p/settings/", {"action": "member", "username": "owner", "role": "annotator"})
    assert demoted.status_code == 400 and Membership.objects.get(user=owner).role == Role.OWNER
    client.post("/annotate/p/settings/", {"action": "member", "username": "carol", "role": "owner"})
    assert client.post("/annotate/p/settings/", {"action": "remove", "membership": mine.pk}).status_code == 302
    assert not Membership.objects.filter(user=owner).exists()
    assert client.get("/annotate/p/settings/").status_code == 404  # no longer a member


def test_a_paused_project_hands_out_no_new_tasks_but_lets_a_held_one_be_finished(client):
    project = project_with_items(3, slug="p", overlap=1)
    alice, bob = annotators(project, 2)
    held = assignment_claim(project=project, annotator=alice)
    _owner(client, project)
    paused = SETTINGS.copy()
    del paused["active"]  # an unticked box
    assert client.post("/annotate/p/settings/", paused).status_code == 302
    project.refresh_from_db()
    assert not project.active
    with pytest.raises(QueueEmpty, match="paused"):
        assignment_claim(project=project, annotator=bob)
    assert assignment_claim(project=project, annotator=alice).pk == held.pk
    client.force_login(bob)
    assert "This project is paused" in client.get("/annotate/p/").content.decode()


def test_owners_import_items_from_a_file_and_a_bad_file_adds_nothing(client):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    project = project_with_items(0, slug="p")
    _owner(client, project)
    good = "\n".join(
        json.dumps(
            {
                "id": f"q{i}",
                "prompt": f"Question {i}?",
                "candidates": [{"model": "m1", "text": "yes"}, {"model": "m2", "text": "no"}],
            }
        )
        for i in range(3)
    ).encode()
    bad = good + b'\n{"id": "q9", "prompt": "", "candidates": []}\n'

    def upload(name: str, body: bytes):
        return client.post(
            "/annotate/p/settings/", {"action": "upload", "file": SimpleUploadedFile(name, body)}, follow=True
        )

    refused = upload("items.jsonl", bad)
    assert refused.status_code == 400 and "line 4" in refused.content.decode() and not project.items.exists()
    assert upload("items.txt", good).status_code == 400 and not project.items.exists()
    added = upload("items.jsonl", good)
    assert "3 item(s) added" in added.content.decode() and project.items.count() == 3
    again = upload("items.jsonl", good)  # re-importing adds nothing twice
    assert "0 item(s) added, 3 already" in again.content.decode() and project.items.count() == 3


def test_a_likert_scale_stays_a_scale_and_a_bad_member_id_is_told_plainly(client):
    project = project_with_items(1, slug="lik", task_type="likert", config={"attributes": ["x"], "scale": [1, 5]})
    owner = User.objects.create_user("own")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    client.force_login(owner)
    base = {
        "action": "save",
        "name": "Lik",
        "rationale": "optional",
        "overlap": 1,
        "lease_seconds": 60,
        "gold_ratio": 0,
        "attributes": "x",
    }
    for low, high, message in (
        (-99999999999, 99999999999, "less than or equal to 100"),
        (1, 50, "A scale has at most 11 points."),
    ):
        page = client.post("/annotate/lik/settings/", {**base, "scale_low": low, "scale_high": high})
        assert page.status_code == 400 and message in page.content.decode()
    project.refresh_from_db()
    assert project.config["scale"] == [1, 5]
    page = client.post("/annotate/lik/settings/", {"action": "remove", "membership": "abc"})
    assert page.status_code == 400
    assert "The member to remove must be a whole number" in page.content.decode()
    assert "invalid literal" not in page.content.decode()
