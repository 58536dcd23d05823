"""Generated bad input against every form and query parameter the app has: no answer is a 5xx, and every
refusal says why.

The targets are found, not listed: every URL of the URLconf (tests/surface.py) is fetched by each persona,
and each form its pages render (action, method, fields, the values a person could pick) becomes a target,
as does each page's query string with the parameter names the views read. Hypothesis then sends what a
person or an attacker could: NUL and control characters, unpaired surrogates (as the invalid UTF-8 a
browser cannot send but a script can), RTL overrides, 1 MB strings, huge, negative and non-numeric
numbers, repeated and missing parameters, wrong methods, missing and foreign CSRF tokens. Each example
runs in a savepoint rolled back afterwards, so one accepted submission does not change what the next sees.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.models import Project
from tests.surface import PERSONAS, FormField, concrete, forms_on, refusal_text, routes, world_create

pytestmark = pytest.mark.django_db(transaction=False)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("AGORA_BAD_INPUT_EXAMPLES", "12"))
MEGABYTE = "x" * 1_000_000

BAD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m",
    "\r\n\t",
    "\u202eevil\u202c",
    "\u200b",
    "\ufeff",
    "\ud800",
    "a\udfffb",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "../../etc/passwd",
    "\U0001f600" * 3,
    MEGABYTE,
    # JSON texts, for the fields that hold JSON: escapes that decode to what jsonb cannot hold.
    '{"k": "\\u0000"}',
    '["\\ud800"]',
    '{"\\u0000": 1}',
    '{"scale": [1e999, 2]}',
    "[" * 5000,
]
BAD_NUMBERS = [
    "-1",
    "0",
    "-0",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "99999999999",
    "-99999999999",
    "1" * 400,
    "1e309",
    "NaN",
    "inf",
    "-inf",
    "1.5",
    "0x10",
    "+-5",
    "abc",
    "١٢٣",
    "+5",
    " 7 ",
]
# Query parameters the views read, found in their source; a page without a form still gets them.
QUERY_NAMES = sorted(
    {
        m
        for path in ROOT.glob("*/views.py")
        for m in re.findall(r"(?:request\.GET|query)\.get\(\"(\w+)\"", path.read_text())
    }
    | {m for path in ROOT.glob("*/boards.py") for m in re.findall(r"query\.get\(\"(\w+)\"", path.read_text())}
)


@dataclass
class Target:
    persona: str
    method: str
    path: str
    fields: dict[str, FormField]
    multipart: bool = False

    @property
    def label(self) -> str:
        return f"{self.persona} {self.method.upper()} {self.path} [{', '.join(sorted(self.fields))}]"


def targets_find(world) -> list[Target]:
    """Each distinct form (by action and fields) as the first persona who sees it, and each page's query.
    The admin (Django's own pages) is fuzzed on the app's models only."""
    found: dict[tuple, Target] = {}
    projects = list(world.projects.values())
    pages: list[tuple[str, Project | None]] = []
    for route in routes():
        if route.name == "logout":
            continue
        if route.name == "admin:*":
            pages.extend((path, None) for path in admin_pages(world))
            continue
        scoped = "<slug:slug>" in route.pattern
        pages.extend((concrete(route, world, project), project) for project in (projects if scoped else [None]))
    for path, project in pages:
        if project is None or project is projects[0]:
            found[("query", path)] = Target("anonymous", "get", path, {n: FormField(n, "text") for n in QUERY_NAMES})
        for persona in ("annotator", "owner", "staff", "anonymous"):
            client = Client()
            world.login(client, persona)
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            for form in forms_on(response.content.decode(), path):
                action = urlsplit(form.action).path
                key = (form.method, action, frozenset(form.fields))
                if key not in found:
                    found[key] = Target(persona, form.method, action, form.fields, form.multipart)
    return list(found.values())


def admin_pages(world) -> list[str]:
    """The admin's pages for the app's own models, found from its index: each list (with its search and
    filters) and each add form. Django's own forms there run the app's models' checks."""
    client = Client()
    world.login(client, "staff")
    index = client.get("/admin/").content.decode()
    lists = sorted(set(re.findall(r'href="(/admin/(?:annotation|arena|ratings)/\w+/)"', index)))
    adds = sorted(set(re.findall(r'href="(/admin/(?:annotation|arena|ratings)/\w+/add/)"', index)))
    return ["/admin/"] + lists + adds


def _value(field: FormField):
    good = st.sampled_from(field.values) if field.values else st.just("ok")
    bad = st.one_of(
        st.sampled_from(BAD_TEXT + BAD_NUMBERS),
        st.text(alphabet=st.characters(categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp")), min_size=1, max_size=8),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.text(max_size=30),
    )
    return st.one_of(good, bad)


# Where a bad value goes in an item record (the upload form's file), and what it can be: each example
# spoils one or two places and keeps the rest valid, so the check of each place is reached.
ITEM_PLACES = (
    "id",
    "prompt",
    "messages",
    "candidates",
    "model",
    "text",
    "category",
    "language",
    "gold",
    "gold_tolerance",
)
JSON_BAD = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "\ud800", "", " ", "x" * 1_000_001, "{not json", "[]"]),
    st.sampled_from([None, True, [], {}, ["\x00"], {"k": "\x00"}, {"\x00": 1}, [{"role": "user"}]]),
    st.sampled_from([-1, 2**31, 2**63, -(2**70), 1e308, float("inf"), float("nan")]),
    st.text(max_size=12),
)


def _item_record() -> dict:
    return {"prompt": "What is 2+2?", "candidates": [{"model": "m1", "text": "4"}, {"model": "m2", "text": "5"}]}


@st.composite
def _item_file(draw) -> tuple[str, bytes]:
    record = _item_record()
    first = record["candidates"][0]  # "model" and "text" spoil the first candidate, wherever it ends up
    for place in draw(st.lists(st.sampled_from(ITEM_PLACES), min_size=1, max_size=2, unique=True)):
        value = draw(JSON_BAD)
        if place in ("model", "text"):
            first[place] = value
        else:
            record[place] = value
    kind = draw(st.sampled_from(["jsonl", "jsonl", "json", "csv", "bytes"]))
    if kind == "bytes":
        return "items.jsonl", draw(st.binary(max_size=64))
    if kind == "csv":
        cells = [record.get("prompt"), first["text"], "5", first["model"]]
        line = ",".join('"' + str(c).replace('"', '""') + '"' for c in cells)
        return "items.csv", f"prompt,response_a,response_b,model_a\n{line}\n".encode("utf-8", "surrogatepass")
    text = json.dumps([record] if kind == "json" else record, ensure_ascii=draw(st.booleans()))
    return f"items.{'json' if kind == 'json' else 'jsonl'}", text.encode("utf-8", "surrogatepass")


@st.composite
def _request(draw, target: Target):
    """A submission as the page would send it, with one or two fields spoiled (bad, missing or repeated);
    sometimes the wrong method or a missing or foreign CSRF token."""
    names = [n for n in target.fields if n != "csrfmiddlewaretoken"]
    spoiled = set(draw(st.lists(st.sampled_from(names), max_size=2, unique=True))) if names else set()
    params: list[tuple[str, str]] = []
    for name in names:
        field = target.fields[name]
        if name not in spoiled:
            params.append((name, draw(st.sampled_from(field.values) if field.values else st.text(max_size=20))))
            continue
        mode = draw(st.sampled_from(["bad", "bad", "bad", "missing", "repeated"]))
        if mode != "missing":
            params.extend((name, draw(_value(field))) for _ in range(2 if mode == "repeated" else 1))
    methods = [target.method] * 8 + ["put", "delete", "patch", "post" if target.method == "get" else "get"]
    method = draw(st.sampled_from(methods))
    csrf = draw(st.sampled_from(["valid"] * 8 + ["missing", "foreign"]))
    upload = draw(_item_file()) if target.multipart else None
    return method, params, csrf, upload


def _encoded(params: list[tuple[str, str]]) -> str:
    # Values are sent as bytes, so an unpaired surrogate arrives as the invalid UTF-8 a script could send.
    return "&".join(
        f"{quote_from_bytes(k.encode())}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}" for k, v in params
    )


def _send(client: Client, target: Target, method: str, params, csrf: str, upload):
    headers = {}
    if csrf == "valid":
        headers["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    elif csrf == "foreign":
        headers["HTTP_X_CSRFTOKEN"] = "f" * 32
    if method == "get":
        return client.get(f"{target.path}?{_encoded(params)}", **headers)
    if upload is not None and method == "post":
        name, content = upload
        from django.core.files.uploadedfile import SimpleUploadedFile

        data: dict = {}
        for key, value in params:
            data.setdefault(key, []).append(value.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        data["file"] = SimpleUploadedFile(name, content)
        return client.post(target.path, data, **headers)
    return getattr(client, method)(
        target.path, _encoded(params), content_type="application/x-www-form-urlencoded", **headers
    )


def _refusal_says_why(response) -> bool:
    if not 400 <= response.status_code < 500:
        return True
    if response.get("Content-Type") == "application/problem+json":  # the JSON API (api/errors.py)
        return bool(json.loads(response.content).get("detail"))
    return bool(refusal_text(response.content.decode("utf-8", "replace")))


def _probe(target: Target, client: Client, statuses: Counter) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(request=_request(target))
    def probe(request):
        method, params, csrf, upload = request
        with transaction.atomic():
            response = _send(client, target, method, params, csrf, upload)
            transaction.set_rollback(True)
        statuses[response.status_code] += 1
        shown = f"{method.upper()} {params!r:.300} (CSRF {csrf})" + (f" with {upload!r:.300}" if upload else "")
        assert response.status_code < 500, f"{response.status_code} for {shown}"
        assert _refusal_says_why(response), f"a bare {response.status_code} for {shown}"

    probe()


# One of each kind of bad value, sent to every field in turn (the others as the page fills them), so each
# field's check is reached; the generated requests above explore the combinations.
_MISSING_FIELD, _REPEATED_FIELD = object(), object()
SWEEP = [
    "a\x00b",
    "\ud800",
    "\x1b\u202eevil",
    MEGABYTE,
    "99999999999999999999",
    "-2147483649",
    "abc",
    "",
    '{"k": "\\u0000"}',
    '["\\ud800"]',
    '{"a": 1e999}',
    _MISSING_FIELD,
    _REPEATED_FIELD,
]


# Fields the sweep leaves to the generated requests: the admin's inline formsets (their management form and
# the rows' fields repeat one model's fields, swept on its own add page) and submit buttons.
NOT_SWEPT = re.compile(r"-\d+-|__prefix__|-(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$|^_(save|continue|addanother)$")


def _sweep(target: Target, client: Client, statuses: Counter) -> list[str]:
    failures = []
    names = [n for n in target.fields if n != "csrfmiddlewaretoken"]
    swept = [n for n in names if not NOT_SWEPT.search(n)]
    good = {n: target.fields[n].good for n in names}
    upload = ("items.jsonl", json.dumps(_item_record()).encode()) if target.multipart else None
    for name in swept:
        for bad in SWEEP:
            params = [(n, v) for n, v in good.items() if n != name]
            if bad is _REPEATED_FIELD:
                params += [(name, good[name]), (name, SWEEP[0])]
            elif bad is not _MISSING_FIELD:
                params.append((name, bad))
            with transaction.atomic():
                response = _send(client, target, target.method, params, "valid", upload)
                transaction.set_rollback(True)
            statuses[response.status_code] += 1
            if response.status_code >= 500 or not _refusal_says_why(response):
                failures.append(f"{target.label}: {response.status_code} with {name}={bad!r:.80}")
    return failures


# A fixed number of requests (about 9,000): a few minutes on two idle cores, several times that beside
# other work; the limit only catches a hang.
@pytest.mark.timeout(1800)
def test_no_generated_input_reaches_a_server_error_and_every_refusal_says_why():
    world = world_create()
    targets = targets_find(world)
    # Every task type's submit and the owners' forms were found on the pages themselves.
    submits = {t.path.split("/")[2] for t in targets if t.method == "post" and t.path.endswith("/submit/")}
    assert submits == set(world.projects)
    assert any(t.multipart for t in targets)
    assert set(PERSONAS) >= {t.persona for t in targets}

    statuses: Counter = Counter()
    failures: list[str] = []
    swept: set = set()
    for target in targets:
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        world.login(client, target.persona)
        client.get(target.path if target.method == "get" else "/")  # the CSRF cookie, as a browser has it

        # The same form on every project's page (exports, settings of one task type) is swept once.
        page = re.sub(r"^/annotate/[\w-]+/", "/annotate/<slug>/", target.path)
        shape = (target.method, page, frozenset(target.fields))
        if shape not in swept:
            swept.add(shape)
            failures.extend(_sweep(target, client, statuses))
        try:
            _probe(target, client, statuses)
        except AssertionError as failure:
            failures.append(f"{target.label}: {failure}")
    print(f"\nbad input: {sum(statuses.values())} requests to {len(targets)} targets; statuses {dict(statuses)}")
    assert not failures, "\n".join(failures)
    assert sum(n for s, n in statuses.items() if s >= 500) == 0


# --- import files ---------------------------------------------------------------------------------


def _agora_record() -> dict:
    """A real raw export line of one judgment with a score: the fields are the export's own."""
    from django.utils import timezone

    from agora_datasets.exports.raw import raw_lines
    from annotation.models import Candidate, Comparison, Judgment, Score, Source

    c = Comparison.objects.create(
        key="fuzz:1",
        context=[{"role": "user", "content": "hi"}],
        prompt="hi",
        category="chat",
        language="en",
        source=Source.IMPORT,
        created_at=timezone.now(),
    )
    for position in (0, 1):
        Candidate.objects.create(
            comparison=c,
            position=position,
            model=f"m{position}",
            text="t",
            output_tokens=3,
            latency_ms=40,
            finish_reason="stop",
            metadata={"k": "v"},
        )
    j = Judgment.objects.create(
        comparison=c,
        source=Source.IMPORT,
        judge_kind="external",
        judge="w",
        outcome="a",
        strength=-1,
        display_order=[1, 0],
        rationale="r",
        time_spent_ms=5,
        principles={"p": True},
        metadata={"m": 1},
        created_at=timezone.now(),
    )
    Score.objects.create(judgment=j, position=0, attribute="overall", value=4)
    line = json.loads(next(iter(raw_lines())))
    Judgment.objects.all().delete()
    Comparison.objects.all().delete()
    return line


def _places(record, prefix: tuple = ()) -> list[tuple]:
    """Every place in a record a value sits at, nested ones included: where a bad value can go."""
    places = []
    items = record.items() if isinstance(record, dict) else enumerate(record) if isinstance(record, list) else []
    for key, value in items:
        places.append(prefix + (key,))
        places.extend(_places(value, prefix + (key,)))
    return places


def _spoiled(record: dict, place: tuple, value) -> dict:
    record = json.loads(json.dumps(record))
    holder = record
    for key in place[:-1]:
        holder = holder[key]
    if value is _MISSING:
        holder.pop(place[-1]) if isinstance(holder, dict) else holder.pop(place[-1])
    else:
        holder[place[-1]] = value
    return record


_MISSING = object()


def _import_formats() -> list[str]:
    from agora_datasets.imports.examples import NEEDS_ITS_FOLDER
    from agora_datasets.imports.service import FORMATS

    return sorted(set(FORMATS) - set(NEEDS_ITS_FOLDER))


# Every format in the registry, from its example record (imports/examples.py): a new format is
# swept without editing this test (tests/datasets/test_import_every_format.py requires the example).
@pytest.mark.parametrize("format", _import_formats())
def test_no_generated_record_breaks_an_import_and_every_refusal_names_its_line(format, tmp_path):
    from agora_datasets.imports.examples import EXAMPLES as RECORDS
    from agora_datasets.imports.service import ImportRejected, judgments_import
    from annotation.models import Judgment

    valid = _agora_record() if format == "agora" else RECORDS[format]
    places = _places(valid)
    outcomes: Counter = Counter()

    @settings(
        max_examples=EXAMPLES * 25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(place=st.sampled_from(places), value=st.one_of(JSON_BAD, st.just(_MISSING)), line=st.integers(1, 3))
    def probe(place, value, line):
        records = [valid] * 3
        records[line - 1] = _spoiled(valid, place, value)
        path = tmp_path / "records.jsonl"
        path.write_bytes(
            b"\n".join(json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass") for r in records) + b"\n"
        )
        with transaction.atomic():
            try:
                report = judgments_import(path=path, format=format)
            except ImportRejected as rejected:
                outcomes["refused"] += 1
                # Each refusal names a line of the file and says why; nothing was written.
                assert rejected.report.errors and all(n >= 0 and reason for n, reason in rejected.report.errors)
                assert not Judgment.objects.exists()
            else:
                outcomes["imported"] += 1
                assert report.judgments_added + report.judgments_present >= 1
            transaction.set_rollback(True)

    probe()
    print(f"\n{format} import: {sum(outcomes.values())} generated files over {len(places)} places; {dict(outcomes)}")
    # Some spoiled values are still valid (an optional field dropped, a label changed): the
    # probe must have refused files, and imported whatever was still valid without a 500.
    assert outcomes["refused"]
