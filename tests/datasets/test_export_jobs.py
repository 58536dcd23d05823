"""Background exports: who may ask for and download what, and a real Celery worker running one."""

from __future__ import annotations

import json
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection

from agora_datasets.exports.jobs import export_job_run
from agora_datasets.models import ExportJob, ExportState
from annotation.models import Assignment, Membership, Role
from annotation.queue import assignment_claim, assignment_submit
from tests.annotation.queue_data import annotators, project_with_items
from tests.conftest import running_worker


def _project_with_votes(slug: str = "exp"):
    project = project_with_items(4, overlap=2, slug=slug, rationale="optional")
    people = annotators(project, 2, prefix=f"{slug}-ann")
    for user in people:
        user.email = f"{user.username}@example.org"
        user.save()
        for _ in range(4):
            lease = assignment_claim(project=project, annotator=user)
            assignment_submit(assignment_id=lease.pk, annotator=user, data={"choice": "left", "rationale": "because"})
    owner = User.objects.create_user(f"{slug}-owner")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project, people, owner


def _download(client, job, name):
    response = client.get(f"/annotate/exports/{job.pk}/{name}")
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response.status_code, body


@pytest.mark.django_db
def test_owners_export_their_project_and_nobody_else_gets_the_files(client, login, django_capture_on_commit_callbacks):
    project, people, owner = _project_with_votes()
    other_project, _, other_owner = _project_with_votes("other")
    login(owner)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/annotate/exp/exports/",
            {"format": "trl-preference", "file_format": "jsonl", "ties": "drop", "rationales": "on"},
        )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.project == project and job.state == ExportState.QUEUED
    job = export_job_run(job.pk)
    assert job.state == ExportState.DONE and job.progress == 1.0 and job.rows == 8
    name = job.manifest["files"][0]["path"]
    status, body = _download(client, job, name)
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and len(rows) == 8 and rows[0]["rationale"] == "because"
    assert "@example.org" not in body.decode() and all("exp-ann" not in r["judge"] for r in rows)
    assert _download(client, job, "manifest.json")[0] == 200
    assert _download(client, job, "../../../etc/passwd")[0] == 404
    page = client.get("/annotate/exp/exports/").content.decode()
    assert name in page
    # Another project's owner, an annotator, and a stranger get nothing.
    for user in (other_owner, people[0], User.objects.create_user("stranger")):
        login(user)
        assert _download(client, job, name)[0] == 404
        assert client.get("/annotate/exp/exports/").status_code == 404
    client.logout()
    assert client.get(f"/annotate/exports/{job.pk}/{name}").status_code == 302
    del other_project


@pytest.mark.django_db
def test_staff_export_everything_from_the_admin_and_bad_requests_say_why(
    client, login, django_capture_on_commit_callbacks
):
    _project_with_votes()
    staff = User.objects.create_user("boss", is_staff=True, is_superuser=True)
    login(staff)
    assert client.get("/admin/datasets/exportjob/add/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        bad = client.post("/admin/datasets/exportjob/add/", {"format": "raw", "file_format": "parquet", "ties": "drop"})
        assert bad.status_code == 200 and "jsonl only" in bad.content.decode()
        good = client.post(
            "/admin/datasets/exportjob/add/",
            {"format": "trl-kto", "file_format": "parquet", "ties": "drop", "test_share": "0.5"},
        )
    assert good.status_code == 302
    job = export_job_run(ExportJob.objects.get().pk)
    assert job.state == ExportState.DONE and job.project is None
    assert {f["split"] for f in job.manifest["files"]} == {"train", "test"}
    assert sum(f["rows"] for f in job.manifest["files"]) == 16  # kto: the winner true, the loser false
    listing = client.get("/admin/datasets/exportjob/").content.decode()
    assert "train.parquet" in listing
    owner_only = User.objects.create_user("not-staff")
    login(owner_only)
    assert client.get("/admin/datasets/exportjob/add/").status_code == 302  # to the admin login


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_an_export_job():
    from agora_datasets.exports.jobs import export_job_create

    project, _, owner = _project_with_votes()
    with running_worker(connection.settings_dict["NAME"]):
        job = export_job_create(user=owner, params={"format": "reward-pairs", "project": project.slug})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state in (ExportState.DONE, ExportState.FAILED):
                break
            time.sleep(0.2)
    assert job.state == ExportState.DONE, job.error
    assert job.rows == 8 and job.manifest["format"] == "reward-pairs"
    assert Assignment.objects.filter(state="done").count() == 8
