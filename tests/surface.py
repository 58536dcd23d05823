"""The app's surface as a person reaches it: every URL of the URLconf, made concrete for a small world,
and the forms its pages render, read from the HTML itself. The bad-input and authorization tests walk
it, so a new URL or form field is covered without editing them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from agora_datasets.models import ExportJob
from annotation.models import Candidate, Comparison, Membership, Project, Role, Source, TaskType
from arena.models import Answer, AnswerState, ArenaModel, Battle, BattleState
from tests.annotation.queue_data import project_with_items

# Likert and principle projects need their configuration; the others ask about the pair as it is.
TASK_CONFIG = {
    TaskType.LIKERT: {"attributes": ["helpfulness", "correctness"], "scale": [1, 5]},
    TaskType.PRINCIPLES: {"principles": ["Is it polite?", "Is it true?"]},
}
PERSONAS = ("anonymous", "annotator", "owner", "other_owner", "staff")


@dataclass
class World:
    users: dict[str, User]
    projects: dict[str, Project]  # by task type
    other_project: Project
    battle: Battle  # the annotator's, ready for a vote
    export_job: ExportJob

    def login(self, client, persona: str) -> None:
        client.logout()
        if persona != "anonymous":
            client.force_login(self.users[persona])


def world_create() -> World:
    users = {
        "annotator": User.objects.create_user("annotator", password="pw-annotator-1"),
        "owner": User.objects.create_user("owner", password="pw-owner-1"),
        "other_owner": User.objects.create_user("other_owner", password="pw-other-1"),
        "staff": User.objects.create_superuser("staff", password="pw-staff-1"),
    }
    projects = {}
    for task_type in TaskType.values:
        candidates = 3 if task_type == TaskType.RANKING else 2
        project = project_with_items(
            6,
            slug=task_type,
            overlap=2,
            task_type=task_type,
            candidates=candidates,
            config=TASK_CONFIG.get(task_type, {}),
        )
        Membership.objects.create(project=project, user=users["annotator"], role=Role.ANNOTATOR)
        Membership.objects.create(project=project, user=users["owner"], role=Role.OWNER)
        projects[task_type] = project
    other = project_with_items(2, slug="elsewhere")
    Membership.objects.create(project=other, user=users["other_owner"], role=Role.OWNER)
    job = ExportJob.objects.create(
        project=projects[TaskType.PAIRWISE], created_by=users["owner"], parameters={"format": "raw"}
    )
    return World(
        users=users,
        projects=projects,
        other_project=other,
        battle=battle_ready(f"user:{users['annotator'].pk}", users["annotator"]),
        export_job=job,
    )


def battle_ready(judge: str, user: User | None = None) -> Battle:
    """A battle whose two answers are complete, so its vote form is on the page."""
    models = [
        ArenaModel.objects.get_or_create(
            name=name, defaults={"backend": "openai", "endpoint": "http://127.0.0.1:9/v1", "model_id": name}
        )[0]
        for name in ("surface-model-1", "surface-model-2")
    ]
    now = timezone.now()
    battle = Battle.objects.create(
        voter=judge, user=user, model_a=models[0], model_b=models[1], state=BattleState.READY, ready_at=now
    )
    Answer.objects.bulk_create(
        Answer(
            battle=battle,
            turn=0,
            side=side,
            model=models[side],
            prompt="Say hello.",
            text=f"Hello {side}.",
            state=AnswerState.DONE,
            deadline=now,
        )
        for side in (0, 1)
    )
    return battle


def comparison_for_export() -> None:
    """One judged comparison, so exports and the leaderboard have something to show."""
    c = Comparison.objects.create(
        key="surface:1",
        context=[{"role": "user", "content": "q"}],
        prompt="q",
        category="coding",
        source=Source.IMPORT,
        created_at=timezone.now(),
    )
    Candidate.objects.bulk_create(Candidate(comparison=c, position=p, model=f"m{p}", text="t") for p in (0, 1))


# --- the URLconf --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name
    pattern: str


def routes() -> list[Route]:
    """Every named URL of the app (the admin is Django's own and is covered as one row)."""
    found: list[Route] = []

    def walk(patterns, namespace: str, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    found.append(Route("admin:*", prefix + str(entry.pattern)))
                    continue
                if entry.namespace == "api-v1":
                    # The JSON API: tests/api/test_access.py checks each operation; one row here.
                    found.append(Route("api-v1:*", prefix + str(entry.pattern) + "projects"))
                    continue
                walk(entry.url_patterns, entry.namespace or namespace, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace else str(entry.name)
                found.append(Route(name, prefix + str(entry.pattern)))

    walk(get_resolver().url_patterns, "", "/")
    return found


def concrete(route: Route, world: World, project: Project | None = None) -> str:
    """The route's path with its parameters filled from the world."""
    project = project or world.projects[TaskType.PAIRWISE]
    values = {
        "slug": project.slug,
        "public_id": world.battle.public_id,
        "job_id": str(world.export_job.pk),
        "name": "manifest.json",
        "assignment_id": str(assignment_for(project, world).pk),
        "token_id": "1",
    }
    path = route.pattern
    if route.name in ("admin:*", "api-v1:*"):
        return path
    for key, value in values.items():
        if f"<{key}>" in path or re.search(rf"<\w+:{key}>", path):
            path = re.sub(rf"<(\w+:)?{key}>", value, path)
    assert "<" not in path, f"no value for a parameter of {route.pattern}"
    return path


def assignment_for(project: Project, world: World):
    """The annotator's live lease in the project (claimed as the task page would)."""
    from annotation.models import Assignment, AssignmentState
    from annotation.queue import QueueEmpty, assignment_claim

    lease = Assignment.objects.filter(
        item__project=project, annotator=world.users["annotator"], state=AssignmentState.LEASED
    ).first()
    if lease is None:
        try:
            lease = assignment_claim(project=project, annotator=world.users["annotator"])
        except QueueEmpty:  # all answered: the last one still names a task of theirs
            lease = Assignment.objects.filter(item__project=project, annotator=world.users["annotator"]).last()
    return lease


# --- forms, as the HTML has them ----------------------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # text, textarea, hidden, radio, checkbox, select, file, number, button, …
    values: list[str] = field(default_factory=list)  # the values a person could choose or sees filled in
    maxlength: int | None = None

    @property
    def good(self) -> str:
        """What a person would most likely send: the value filled in or the first real choice."""
        return next((v for v in self.values if v.strip() and not v.startswith("-")), "ok")


@dataclass
class Form:
    method: str
    action: str
    multipart: bool
    fields: dict[str, FormField]


class _FormParser(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: FormField | None = None
        self.textarea: FormField | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            method = "post" if ("hx-post" in a or a.get("method", "get").lower() == "post") else "get"
            action = a.get("hx-post") or a.get("hx-get") or a.get("action") or self.page_path
            self.current = Form(
                method=method, action=html.unescape(action), multipart="multipart" in a.get("enctype", ""), fields={}
            )
            return
        if tag == "option" and self.select is not None:
            self.select.values.append(a.get("value", ""))
            return
        if self.current is None or not a.get("name"):
            return
        name = a["name"]
        if tag in ("input", "button", "textarea", "select"):
            kind = a.get("type", "text") if tag == "input" else tag
            if tag == "button" and "value" not in a:
                return
            entry = self.current.fields.setdefault(name, FormField(name, kind))
            if "value" in a and (kind not in ("checkbox", "radio") or "checked" in a or tag == "button"):
                entry.values.append(a["value"])
            elif kind in ("checkbox", "radio") and "value" in a:
                entry.values.append(a["value"])
            if tag == "textarea":
                self.textarea = entry
            if a.get("maxlength", "").isdigit():
                entry.maxlength = int(a["maxlength"])
            if tag == "select":
                self.select = entry

    def handle_data(self, data):
        if self.textarea is not None and data.strip():
            self.textarea.values.append(data.strip("\n"))

    def handle_endtag(self, tag):
        if tag == "textarea":
            self.textarea = None
        if tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None
        if tag == "select":
            self.select = None


def forms_on(page: str, page_path: str) -> list[Form]:
    parser = _FormParser(page_path)
    parser.feed(page)
    return [f for f in parser.forms if f.fields or f.method == "post"]


def visible_text(page: str) -> str:
    """The words a person reads in a response: tags, scripts and styles removed."""
    page = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", page)
    return " ".join(html.unescape(re.sub(r"(?s)<[^>]+>", " ", page)).split())


# An element that carries a refusal: the app's error paragraphs, Django's form error lists, alerts.
_REFUSAL = re.compile(r'(?is)<(\w+)\b[^>]*(?:class="[^"]*\berror(?:list)?\b[^"]*"|role="alert")[^>]*>(.*?)</\1>')


def refusal_text(page: str) -> str:
    """What the page says was wrong, from its error elements; empty when it says nothing."""
    return " ".join(filter(None, (visible_text(m.group(2)) for m in _REFUSAL.finditer(page))))
