"""The annotator pages through the Django client: who may use them, and what a submit stores."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from annotation.models import Assignment, Judgment, Membership, Role, Score, Source
from tests.annotation.queue_data import annotators, project_with_items

pytestmark = pytest.mark.django_db


def test_only_members_see_a_project(client, login):
    project = project_with_items(2, slug="secret")
    (member,) = annotators(project, 1)
    outsider = User.objects.create_user("outsider")
    assert client.get("/annotate/secret/").status_code == 302  # anonymous: to the login page
    login(outsider)
    assert client.get("/annotate/secret/").status_code == 404
    assert "Secret" not in client.get("/annotate/").content.decode()
    login(member)
    page = client.get("/annotate/secret/").content.decode()
    assert "Which response is better?" in page and "question" in page
    assert "Secret" in client.get("/annotate/").content.decode()


def test_one_annotator_cannot_submit_or_skip_anothers_task(client, login):
    project = project_with_items(2, slug="p")
    alice, bob = annotators(project, 2)
    login(alice)
    client.get("/annotate/p/")
    lease = Assignment.objects.get(annotator=alice)
    login(bob)
    assert client.post(f"/annotate/p/tasks/{lease.pk}/submit/", {"choice": "left"}).status_code == 404
    assert client.post(f"/annotate/p/tasks/{lease.pk}/skip/", {"reason": "x"}).status_code == 404
    assert not Judgment.objects.exists()


def test_a_task_is_submitted_only_through_its_own_projects_url(client, login):
    first, second = project_with_items(2, slug="first"), project_with_items(2, slug="second")
    (alice,) = annotators(first, 1)
    Membership.objects.create(project=second, user=alice, role=Role.ANNOTATOR)
    login(alice)
    client.get("/annotate/second/")
    lease = Assignment.objects.get(annotator=alice)
    assert client.post(f"/annotate/first/tasks/{lease.pk}/submit/", {"choice": "left"}).status_code == 404
    assert not Judgment.objects.exists()
    assert client.post(f"/annotate/second/tasks/{lease.pk}/submit/", {"choice": "left"}).status_code == 302
    assert Judgment.objects.get().metadata["project"] == "second"


def test_a_submit_stores_a_judgment_in_data_terms_and_serves_the_next_task(client, login):
    project = project_with_items(3, slug="p", rationale="required")
    (alice,) = annotators(project, 1)
    login(alice)
    client.get("/annotate/p/")
    lease = Assignment.objects.get(annotator=alice)
    missing = client.post(f"/annotate/p/tasks/{lease.pk}/submit/", {"choice": "left"}, HTTP_HX_REQUEST="true")
    assert missing.status_code == 400 and "rationale" in missing.content.decode()
    response = client.post(
        f"/annotate/p/tasks/{lease.pk}/submit/",
        {"choice": "left", "rationale": "<b>clearer</b>", "time_spent_ms": "4200"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and 'id="task"' in response.content.decode()
    judgment = Judgment.objects.get()
    assert judgment.source == Source.QUEUE and judgment.judge == f"user:{alice.pk}"
    assert judgment.outcome == ("a" if lease.display_order[0] == 0 else "b")
    assert judgment.display_order == lease.display_order and judgment.time_spent_ms == 4200
    assert judgment.rationale == "<b>clearer</b>"
    assert Assignment.objects.filter(annotator=alice, state="leased").count() == 1  # the next one


def test_likert_scores_land_on_the_right_candidates(client, login):
    project = project_with_items(
        1,
        slug="l",
        task_type="likert",
        rationale="off",
        config={"attributes": ["helpfulness", "verbosity"], "scale": [0, 4]},
    )
    (alice,) = annotators(project, 1)
    login(alice)
    client.get("/annotate/l/")
    lease = Assignment.objects.get(annotator=alice)
    data = {"score-0-helpfulness": "4", "score-0-verbosity": "1", "score-1-helpfulness": "0", "score-1-verbosity": "3"}
    assert client.post(f"/annotate/l/tasks/{lease.pk}/submit/", data).status_code == 302
    scores = {(s.position, s.attribute): s.value for s in Score.objects.all()}
    first = lease.display_order[0]
    assert scores[(first, "helpfulness")] == 4 and scores[(1 - first, "verbosity")] == 3
    assert client.post(f"/annotate/l/tasks/{lease.pk}/submit/", {**data, "score-0-helpfulness": "9"}).status_code == 400


def test_a_reviewer_role_and_staff_may_open_the_page(client, login):
    project = project_with_items(1, slug="p")
    reviewer = User.objects.create_user("rev")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    login(reviewer)
    assert client.get("/annotate/p/").status_code == 200
    staff = User.objects.create_user("staff", is_staff=True)
    login(staff)
    assert client.get("/annotate/p/").status_code == 200


def test_earlier_annotations_show_only_when_the_project_is_not_blind(client, login):
    for blind in (True, False):
        slug = "blind" if blind else "open"
        project = project_with_items(1, slug=slug, overlap=2, blind=blind, rationale="optional")
        alice, bob = annotators(project, 2, prefix=f"{slug}-")
        login(alice)
        client.get(f"/annotate/{slug}/")
        lease = Assignment.objects.get(annotator=alice)
        client.post(f"/annotate/{slug}/tasks/{lease.pk}/submit/", {"choice": "left", "rationale": "alice-was-here"})
        login(bob)
        page = client.get(f"/annotate/{slug}/").content.decode()
        assert ("alice-was-here" in page) is (not blind)
        assert alice.username not in page, "never who said it"


def test_only_owners_and_staff_export_a_project_and_no_email_leaks(client, login):
    project = project_with_items(2, slug="exp", overlap=1)
    (alice,) = annotators(project, 1)
    alice.email = "alice@example.org"
    alice.save()
    login(alice)
    client.get("/annotate/exp/")
    lease = Assignment.objects.get(annotator=alice)
    client.post(f"/annotate/exp/tasks/{lease.pk}/submit/", {"choice": "left"})
    assert client.get("/annotate/exp/export/").status_code == 404  # an annotator
    other = project_with_items(1, slug="other", overlap=1)
    owner_elsewhere = User.objects.create_user("owner2")
    Membership.objects.create(project=other, user=owner_elsewhere, role=Role.OWNER)
    login(owner_elsewhere)
    assert client.get("/annotate/exp/export/").status_code == 404  # another project's owner
    owner = User.objects.create_user("owner")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    login(owner)
    response = client.get("/annotate/exp/export/")
    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and body.count("\n") == 1
    assert "alice@example.org" not in body and "alice" not in body and f"user:{alice.pk}" in body
    login(User.objects.create_user("staffer", is_staff=True))
    assert client.get("/annotate/exp/export/").status_code == 200


def test_the_export_streams_a_chunk_at_a_time_under_asgi(client, login):
    """Served by the ASGI handler, the export is an asynchronous stream pulled a chunk at a time (Django
    would read a synchronous one whole into memory first) and holds the same lines as under WSGI."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    project = project_with_items(3, slug="aexp", overlap=1)
    (ann,) = annotators(project, 1)
    login(ann)
    for _ in range(3):
        client.get("/annotate/aexp/")
        lease = Assignment.objects.get(annotator=ann, state="leased")
        client.post(f"/annotate/aexp/tasks/{lease.pk}/submit/", {"choice": "left"})
    owner = User.objects.create_user("aowner")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    login(owner)
    expected = b"".join(client.get("/annotate/aexp/export/").streaming_content)

    async def read() -> tuple[bool, bytes]:
        asgi = AsyncClient()
        await asgi.aforce_login(owner)
        response = await asgi.get("/annotate/aexp/export/")
        return response.is_async, b"".join([chunk async for chunk in response.streaming_content])

    is_async, body = async_to_sync(read)()
    assert is_async and body == expected and body.count(b"\n") == 3
