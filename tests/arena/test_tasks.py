"""Task names outlive the modules: tasks already in the broker and the beat schedule send them by name."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

from arena import tasks
from tests.conftest import ROOT

# What a worker does at start: Django set up, then Celery's autodiscovery imports each app's tasks module.
WORKER_START = (
    "import django; django.setup(); from config.celery import app; "
    "app.loader.import_default_modules(); print(*sorted(app.tasks))"
)


def test_the_answer_tasks_keep_the_names_they_had_in_workers():
    assert tasks.generate_answer.name == "workers.generate_answer"
    assert tasks.settle_answer.name == "workers.settle_answer"
    assert tasks.reap_stale_answers.name == "workers.reap_stale_answers"


def test_ai_pre_annotation_keeps_the_name_it_had_in_annotation():
    assert tasks.pre_annotate.name == "annotation.pre_annotate"


def test_a_starting_worker_finds_every_task_that_the_beat_schedule_and_the_arena_send():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    found = subprocess.run(
        [sys.executable, "-c", WORKER_START], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    names = {"workers.generate_answer", "workers.settle_answer", "workers.ping", "annotation.pre_annotate"}
    names |= {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names <= set(found)
