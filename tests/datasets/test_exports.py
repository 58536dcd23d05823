"""export_dataset: the training formats on LLMFAO, counted by hand; filters, splits, privacy, reproducibility."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from agora_datasets.exports.privacy import pseudonym
from agora_datasets.exports.selection import split_of
from agora_datasets.exports.writers import sha256_of
from annotation.models import Assignment, AssignmentState, Comparison, Judgment, Score, Source
from tests.annotation.queue_data import project_with_items
from tests.datasets.test_import import LLMFAO, run_import

pytestmark = pytest.mark.django_db
MODEL = "Weaver 12k"


@pytest.fixture(scope="module", autouse=True)
def llmfao(django_db_setup, django_db_blocker):
    """The LLMFAO crowd votes, imported once for the module (each test's own rows are rolled back)."""
    with django_db_blocker.unblock():
        run_import(LLMFAO / "crowd-comparisons.csv", "llmfao")
        yield
        Comparison.objects.all().delete()


def export(tmp_path: Path, fmt: str, *args: str, name: str = "out.jsonl") -> Path:
    path = tmp_path / name
    call_command("export_dataset", "--format", fmt, "--output", str(path), *args, stdout=io.StringIO())
    return path


def lines(path: Path) -> list[dict]:
    # Split on newlines only: str.splitlines would also split inside texts holding U+2028 or U+0085, which
    # JSON (and so JSONL) leaves unescaped.
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line]


def failure(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("export_dataset", *args, stdout=io.StringIO(), stderr=io.StringIO())
    return str(caught.value)


def queue_judgment(project, item, user, *, outcome="a", seconds=30.0, **fields) -> Judgment:
    now = timezone.now()
    judgment = Judgment.objects.create(
        comparison=item.comparison,
        source=Source.QUEUE,
        judge_kind="user",
        judge=f"user:{user.pk}",
        user=user,
        outcome=outcome,
        time_spent_ms=int(seconds * 1000),
        created_at=now,
        metadata={"project": project.slug, "item": item.pk, "gold": item.is_gold},
        **fields,
    )
    Assignment.objects.create(
        item=item,
        annotator=user,
        state=AssignmentState.DONE,
        display_order=[0, 1],
        leased_at=now,
        expires_at=now + timedelta(minutes=15),
        finished_at=now,
        judgment=judgment,
    )
    return judgment


def users(n: int, prefix: str = "ann") -> list:
    User = get_user_model()
    return [User.objects.create(username=f"{prefix}{i}", email=f"{prefix}{i}@example.org") for i in range(n)]


# --- LLMFAO, counted by hand ------------------------------------------------------------------------------


def test_trl_preference_drops_ties_and_orders_chosen_by_the_outcome(tmp_path):
    rows = lines(export(tmp_path, "trl-preference", "--margin"))
    decided = Judgment.objects.exclude(outcome="tie")
    assert len(rows) == decided.count() == 2911 + 2549
    assert list(rows[0]) == [
        "prompt",
        "chosen",
        "rejected",
        "margin",
        "chosen_model",
        "rejected_model",
        "comparison",
        "judge",
    ]
    first = rows[0]
    assert first["prompt"][-1]["role"] == "user" and len(first["chosen"]) == len(first["rejected"]) == 1
    assert first["chosen"][0]["role"] == "assistant" and first["margin"] == 0.0  # LLMFAO has no strengths
    # Every row's chosen answer is the one its judgment preferred.
    judgment = decided.filter(comparison__key=first["comparison"]).order_by("judge").first()
    winner = judgment.comparison.candidates.get(position=0 if judgment.outcome == "a" else 1)
    assert first["chosen"][0]["content"] == winner.text and first["chosen_model"] == winner.model
    assert len({r["judge"] for r in rows}) == decided.order_by().values("judge").distinct().count()
    assert not any(r["judge"].startswith("llmfao:") for r in rows)


def test_model_filter_keeps_comparisons_with_the_model_on_either_side(tmp_path):
    rows = lines(export(tmp_path, "trl-preference", "--model", MODEL))
    expected = Judgment.objects.exclude(outcome="tie").filter(comparison__candidates__model=MODEL).distinct()
    assert len(rows) == expected.count() > 0
    assert all(MODEL in (r["chosen_model"], r["rejected_model"]) for r in rows)


def majority_by_hand() -> tuple[int, int]:
    """(comparisons with a strict non-tie majority, with a strict majority at all)."""
    votes = defaultdict(Counter)
    for key, outcome in Judgment.objects.values_list("comparison__key", "outcome"):
        votes[key][outcome] += 1
    decided = strict = 0
    for counter in votes.values():
        top = counter.most_common()
        if len(top) > 1 and top[0][1] == top[1][1]:
            continue
        strict += 1
        decided += top[0][0] != "tie"
    return decided, strict


def test_majority_and_agreement_match_counts_by_hand(tmp_path):
    decided, strict = majority_by_hand()
    rows = lines(export(tmp_path, "trl-preference", "--aggregate", "majority"))
    assert len(rows) == decided and all(r["judge"] is None for r in rows)
    assert len(lines(export(tmp_path, "rankings", "--aggregate", "majority", name="r.jsonl"))) == decided

    shares = defaultdict(Counter)
    for key, outcome in Judgment.objects.values_list("comparison__key", "outcome"):
        shares[key][outcome] += 1
    agreed = {k for k, c in shares.items() if max(c.values()) / sum(c.values()) >= 0.75}
    rows = lines(export(tmp_path, "trl-preference", "--min-agreement", "0.75", name="a.jsonl"))
    assert {r["comparison"] for r in rows} <= agreed
    assert len(rows) == Judgment.objects.filter(comparison__key__in=agreed).exclude(outcome="tie").count()


def test_kto_labels_winners_and_losers(tmp_path):
    rows = lines(export(tmp_path, "trl-kto"))
    assert len(rows) == 2 * Judgment.objects.exclude(outcome="tie").count()
    assert Counter(r["label"] for r in rows) == {True: len(rows) // 2, False: len(rows) // 2}
    assert list(rows[0]) == ["prompt", "completion", "label", "model", "comparison", "judge"]


def test_split_by_prompt_never_shares_a_prompt(tmp_path):
    export(tmp_path, "trl-preference", "--test-share", "0.3", "--salt", "s")
    train, test = lines(tmp_path / "out-train.jsonl"), lines(tmp_path / "out-test.jsonl")
    prompts = {s: {r["prompt"][-1]["content"] for r in rows} for s, rows in (("train", train), ("test", test))}
    assert prompts["train"] and prompts["test"] and not prompts["train"] & prompts["test"]
    assert len(train) + len(test) == Judgment.objects.exclude(outcome="tie").count()
    assert all(split_of(p, 0.3) == "test" for p in prompts["test"])
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["rows"] == {"train": len(train), "test": len(test)}
    assert sum(manifest["counts"]["judgments_by_source"]["train"].values()) > len(train)  # ties count as read
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        name: sha256_of(tmp_path / name) for name in ("out-train.jsonl", "out-test.jsonl")
    }
    assert "salt" not in json.dumps(manifest["filters"]) and '"s"' not in json.dumps(manifest)
    assert manifest["code_version"]["package"] and manifest["code_version"]["git"]
    assert not list(tmp_path.glob("*.partial"))

    dedup = lines(export(tmp_path, "raw", "--dedup-prompts", name="d.jsonl"))
    first = {}
    for key, prompt in Comparison.objects.order_by("key").values_list("key", "prompt"):
        first.setdefault(prompt, key)
    assert {r["comparison"]["key"] for r in dedup} == set(first.values()) and len(first) == 13


def test_same_filters_give_the_same_bytes_and_the_salt_only_renames_judges(tmp_path):
    args = ("--model", MODEL, "--margin", "--salt", "pepper")
    for file_format in ("jsonl", "parquet"):
        first = export(tmp_path, "trl-preference", *args, "--file-format", file_format, name=f"1.{file_format}")
        second = export(tmp_path, "trl-preference", *args, "--file-format", file_format, name=f"2.{file_format}")
        assert first.read_bytes() == second.read_bytes()
    one = lines(tmp_path / "1.jsonl")
    other = lines(export(tmp_path, "trl-preference", "--model", MODEL, "--margin", "--salt", "salt", name="3.jsonl"))
    assert len(one) == len(other)
    assert [r["judge"] for r in one] != [r["judge"] for r in other]
    assert one[0]["judge"] == pseudonym(
        Judgment.objects.filter(comparison__key=one[0]["comparison"])
        .exclude(outcome="tie")
        .order_by("judge")
        .first()
        .judge,
        "pepper",
    )
    # Same pseudonym for one judge throughout an export: as many pseudonyms as judges.
    assert len({r["judge"] for r in one}) == len({r["judge"] for r in other})
    assert pq.read_table(tmp_path / "1.parquet").num_rows == len(one)


def test_trl_files_load_with_datasets(tmp_path):
    import datasets

    jsonl = export(tmp_path, "trl-preference", "--model", MODEL, "--margin")
    parquet = export(tmp_path, "trl-kto", "--model", MODEL, "--file-format", "parquet", name="kto.parquet")
    cache = str(tmp_path / "cache")
    preference = datasets.load_dataset("json", data_files=str(jsonl), split="train", cache_dir=cache)
    kto = datasets.load_dataset("parquet", data_files=str(parquet), split="train", cache_dir=cache)
    assert preference.num_rows == len(lines(jsonl)) and kto.num_rows == 2 * preference.num_rows
    assert preference[0]["chosen"][0]["role"] == "assistant" and isinstance(kto[0]["label"], bool)
    assert set(kto.column_names) >= {"prompt", "completion", "label"}


# --- queue data: ties, gold, privacy, ratings, rankings -----------------------------------------------------


def test_ties_policy(tmp_path):
    project = project_with_items(2, slug="ties")
    a, b = users(2)
    item = project.items.order_by("id").first()
    queue_judgment(project, item, a, outcome="tie", both_bad=True, strength=0)
    queue_judgment(project, item, b, outcome="tie")
    scope = ("--project", "ties")
    for ties in ("drop", "both-bad-pair"):
        assert lines(export(tmp_path, "trl-preference", *scope, "--ties", ties)) == []
        assert lines(export(tmp_path, "reward-pairs", *scope, "--ties", ties)) == []
    assert lines(export(tmp_path, "trl-kto", *scope)) == []
    rows = lines(export(tmp_path, "trl-kto", *scope, "--ties", "both-bad-pair"))
    assert [(r["model"], r["label"]) for r in rows] == [("model-0", False), ("model-1", False)]
    assert lines(export(tmp_path, "rankings", *scope)) == []  # a full tie ranks nothing


def test_gold_items_failing_annotators_and_fast_answers_are_left_out(tmp_path):
    project = project_with_items(3, slug="gold", gold=3)
    good, bad, quick = users(3)
    regular = list(project.items.filter(is_gold=False).order_by("id"))
    for item in project.items.filter(is_gold=True):  # gold answer: "a"
        queue_judgment(project, item, good, outcome="a")
        queue_judgment(project, item, bad, outcome="b")
    for item in regular:
        queue_judgment(project, item, good)
        queue_judgment(project, item, bad)
    queue_judgment(project, regular[0], quick, seconds=0.5)
    scope = ("--project", "gold", "--salt", "x")
    judges = lambda rows: Counter(r["judge"] for r in rows)  # noqa: E731
    name = {u: pseudonym(f"user:{u.pk}", "x") for u in (good, bad, quick)}
    assert judges(lines(export(tmp_path, "trl-preference", *scope))) == {name[good]: 3, name[bad]: 3, name[quick]: 1}
    assert len(lines(export(tmp_path, "raw", *scope))) == 13  # raw keeps gold judgments unless told
    assert len(lines(export(tmp_path, "raw", *scope, "--gold", "exclude"))) == 7
    rows = lines(export(tmp_path, "trl-preference", *scope, "--min-gold-accuracy", "0.6", "--min-seconds", "2"))
    assert judges(rows) == {name[good]: 3}


def test_an_annotators_email_never_appears_and_release_drops_private_fields(tmp_path):
    project = project_with_items(1, slug="private", config={"private_fields": ["rationale"]})
    (user,) = users(1, prefix="secretive")
    item = project.items.get()
    queue_judgment(project, item, user, rationale="my private reasoning", strength=-2)
    scope = ("--project", "private")
    for fmt in ("raw", "trl-preference", "trl-kto", "reward-pairs", "rankings"):
        args = scope + (() if fmt == "raw" else ("--rationales",))
        text = export(tmp_path, fmt, *args).read_text()
        assert user.email not in text and "@example.org" not in text
        if fmt != "raw":
            assert f"user:{user.pk}" not in text and "my private reasoning" in text
        released = export(tmp_path, fmt, *args, "--release", name="release.jsonl").read_text()
        assert "my private reasoning" not in released and f"user:{user.pk}" not in released
        assert len(lines(tmp_path / "release.jsonl")) == len(lines(tmp_path / "out.jsonl")) > 0
    assert lines(export(tmp_path, "trl-preference", *scope, "--margin"))[0]["margin"] == 2.0


def test_ratings_are_means_per_candidate_and_attribute(tmp_path):
    project = project_with_items(1, slug="likert", task_type="likert")
    a, b = users(2)
    item = project.items.get()
    for user, values in ((a, (4, 2)), (b, (5, None))):
        judgment = queue_judgment(project, item, user, outcome=None)
        Score.objects.create(judgment=judgment, position=0, attribute="helpfulness", value=values[0])
        if values[1] is not None:
            Score.objects.create(judgment=judgment, position=1, attribute="helpfulness", value=values[1])
        Score.objects.create(judgment=judgment, position=0, attribute="verbosity", value=1)
    rows = lines(export(tmp_path, "ratings", "--project", "likert"))
    assert rows == [
        {
            "prompt": "question 0",
            "response": "answer 0 to question 0",
            "model": "model-0",
            "comparison": "likert:0",
            "position": 0,
            "helpfulness": 4.5,
            "helpfulness_count": 2,
            "verbosity": 1.0,
            "verbosity_count": 2,
        },
        {
            "prompt": "question 0",
            "response": "answer 1 to question 0",
            "model": "model-1",
            "comparison": "likert:0",
            "position": 1,
            "helpfulness": 2.0,
            "helpfulness_count": 1,
            "verbosity": None,
            "verbosity_count": 0,
        },
    ]
    table = pq.read_table(
        export(tmp_path, "ratings", "--project", "likert", "--file-format", "parquet", name="r.parquet")
    )
    assert table.to_pylist() == rows


def test_rankings_from_listwise_judgments(tmp_path):
    project = project_with_items(1, slug="rank", candidates=3, task_type="ranking")
    a, b, c = users(3)
    item = project.items.get()
    for user, ranking in ((a, [[1], [0, 2]]), (b, [[1], [0, 2]]), (c, [[2], [1], [0]])):
        queue_judgment(project, item, user, outcome=None, ranking=ranking)
    scope = ("--project", "rank")
    rows = lines(export(tmp_path, "rankings", *scope))
    assert sorted(r["ranking"] for r in rows) == [[[1], [0, 2]], [[1], [0, 2]], [[2], [1], [0]]]
    assert rows[0]["models"] == ["model-0", "model-1", "model-2"] and len(rows[0]["candidates"]) == 3
    assert [r["ranking"] for r in lines(export(tmp_path, "rankings", *scope, "--aggregate", "majority"))] == [
        [[1], [0, 2]]
    ]
    # Mean places: 0 → (2.5 + 2.5 + 3) / 3, 1 → (1 + 1 + 2) / 3, 2 → (2.5 + 2.5 + 1) / 3.
    assert [r["ranking"] for r in lines(export(tmp_path, "rankings", *scope, "--aggregate", "mean"))] == [
        [[1], [2], [0]]
    ]


def test_output_folder_gets_a_manifest_json(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    call_command(
        "export_dataset",
        "--format",
        "reward-pairs",
        "--model",
        MODEL,
        "--output",
        str(folder),
        "--file-format",
        "parquet",
        stdout=io.StringIO(),
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"][0]["path"] == "reward-pairs.parquet"
    assert manifest["files"][0]["sha256"] == sha256_of(folder / "reward-pairs.parquet")
    assert manifest["counts"]["rows"]["all"] == pq.read_table(folder / "reward-pairs.parquet").num_rows > 0
    row = pq.read_table(folder / "reward-pairs.parquet").slice(0, 1).to_pylist()[0]
    assert row["chosen"][-1]["role"] == "assistant" and row["chosen"][:-1] == row["rejected"][:-1]


def test_bad_options_are_clear_errors(tmp_path):
    out = str(tmp_path / "x.jsonl")
    assert "jsonl only" in failure("--format", "raw", "--file-format", "parquet", "--output", out)
    assert "aggregate mean" in failure("--format", "ratings", "--aggregate", "majority", "--output", out)
    assert "test share" in failure("--format", "trl-kto", "--test-share", "1.5", "--output", out)
    assert "since 'yesterday'" in failure("--format", "trl-kto", "--since", "yesterday", "--output", out)
    assert "before" in failure("--format", "trl-kto", "--since", "2025-02-01", "--until", "2025-01-01", "--output", out)
    assert "agreement" in failure("--format", "trl-kto", "--min-agreement", "0", "--output", out)
    assert "no project" in failure("--format", "trl-kto", "--project", "nope", "--output", out)
    assert "no such folder" in failure("--format", "trl-kto", "--output", str(tmp_path / "missing" / "x.jsonl"))
    assert "rationales do not apply" in failure("--format", "ratings", "--rationales", "--output", out)
    assert "standard output" in failure("--format", "trl-kto", "--file-format", "parquet", "--output", "-")
    assert not list(tmp_path.iterdir())


def test_source_and_date_filters_and_standard_output(tmp_path, capsys):
    assert lines(export(tmp_path, "trl-kto", "--source", "arena")) == []
    latest = Judgment.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    after = (latest + timedelta(seconds=1)).isoformat()
    assert lines(export(tmp_path, "trl-kto", "--since", after)) == []
    category = Comparison.objects.order_by("key").values_list("category", flat=True).first()
    rows = lines(export(tmp_path, "trl-preference", "--until", after, "--category", category, "--language", "en"))
    assert len(rows) == Judgment.objects.exclude(outcome="tie").filter(comparison__category=category).count() > 0
    assert lines(export(tmp_path, "trl-preference", "--language", "fr")) == []
    path = export(tmp_path, "raw", "--model", MODEL)
    capsys.readouterr()
    call_command("export_dataset", "--format", "raw", "--model", MODEL, "--output", "-")
    assert capsys.readouterr().out == path.read_text(encoding="utf-8")


AWKWARD = 'Say "hi" \\ then\n\ttab\x01\x1f — ünïcode ✓ 😀 \u2028 </script><img src=x onerror=alert(1)>'


def test_texts_reach_jsonl_parquet_and_standard_output_unchanged(tmp_path, capsys):
    """JSONL takes the answers as JSON literals made by PostgreSQL; they must decode to the stored text,
    exactly as Parquet (which takes them as text) and standard output have them."""
    project = project_with_items(1, slug="awk", candidates=3)
    item = project.items.get()
    item.comparison.candidates.filter(position=0).update(text=AWKWARD)
    item.comparison.candidates.filter(position=2).update(text=AWKWARD[::-1])
    queue_judgment(project, item, users(1, "awk")[0], outcome="a")
    scope = ("--project", "awk")
    row = lines(export(tmp_path, "trl-preference", *scope))[0]
    assert row["chosen"][0]["content"] == AWKWARD and row["rejected"][0]["content"] == "answer 1 to question 0"
    parquet = export(tmp_path, "trl-preference", *scope, "--file-format", "parquet", name="out.parquet")
    assert pq.read_table(parquet).to_pylist()[0]["chosen"][0]["content"] == AWKWARD
    # A third candidate arrives another way (beside the pair); the rankings format lists all three.
    ranking = Judgment.objects.get(comparison=item.comparison)
    ranking.ranking = [[2], [0], [1]]
    ranking.save(update_fields=["ranking"])
    ranked = lines(export(tmp_path, "rankings", *scope, name="r.jsonl"))[0]
    assert ranked["candidates"] == [AWKWARD, "answer 1 to question 0", AWKWARD[::-1]]
    path = export(tmp_path, "trl-preference", *scope, "--salt", "s", name="again.jsonl")
    capsys.readouterr()
    call_command("export_dataset", "--format", "trl-preference", *scope, "--salt", "s", "--output", "-")
    assert capsys.readouterr().out.encode() == path.read_bytes()


def test_a_failed_write_in_the_writer_thread_is_raised_not_lost(tmp_path):
    from agora_datasets.exports.writers import JsonlWriter

    writer = JsonlWriter(tmp_path / "x.jsonl.partial", None)
    writer.handle.close()  # the disk goes away under the writer's thread
    writer.write({"text": "x" * JsonlWriter.BLOCK_BYTES})  # a full block: handed to the thread, which fails
    with pytest.raises(ValueError, match="closed file"):
        for _ in range(20):  # the thread's error reaches the next block handed over at the latest
            writer.write({"text": "x" * JsonlWriter.BLOCK_BYTES})
        writer.close()


def test_a_parquet_row_outside_the_schema_fails_the_file(tmp_path):
    import pyarrow as pa

    from agora_datasets.exports.writers import ParquetWriter

    writer = ParquetWriter(tmp_path / "x.parquet.partial", pa.schema([("text", pa.string())]), batch_size=2)
    writer.write({"text": "fine"})
    writer.write({"text": "fine", "extra": 1})  # a format whose rows and schema disagree
    with pytest.raises(pa.ArrowInvalid, match=r"does not fit the Parquet columns \['text'\]: .*unexpected field"):
        writer.close()
