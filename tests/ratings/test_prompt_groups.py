"""The prompt-routed mixture in the app: the offline sentence encoder, the cache, the command and the page."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from django.core.management import CommandError
from django.test import override_settings

from annotation.models import Comparison
from ratings import embeddings
from ratings.boards import Board, board_from_query
from ratings.models import PromptEmbedding, RatingRun, RunState
from tests.datasets.test_import import LLMFAO, run_import
from tests.ratings.test_leaderboard_page import EVIL, _battles, _fitted
from tests.ratings.test_refresh import fit

pytestmark = pytest.mark.django_db


def test_the_encoder_loads_from_the_installed_files_without_the_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty hub cache: nothing to fall back on
    tokenizer, model = embeddings.load_encoder(device="cpu")
    assert model.config.hidden_size == embeddings.DIMENSIONS and tokenizer("hi")["input_ids"]


def test_paraphrases_are_close_and_unrelated_prompts_far():
    texts = [
        "How do I bake bread at home?",
        "What is a simple recipe for homemade bread?",
        "Explain the proof that there are infinitely many prime numbers.",
        "How do I bake bread at home?",
    ]
    x = embeddings.prompt_embeddings(texts)
    assert x.shape == (4, 384) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    similar, unrelated = float(x[0] @ x[1]), float(x[0] @ x[2])
    assert similar > 0.6 and unrelated < 0.3, (similar, unrelated)
    assert np.array_equal(x[0], x[3])
    again = embeddings.prompt_embeddings(texts[::-1])[::-1]
    assert np.allclose(again, x, atol=1e-6), "a text's vector does not depend on its batch"
    assert embeddings.prompt_embeddings([]).shape == (0, 384)


def test_the_cache_stores_each_prompt_once_and_reuses_it(monkeypatch):
    first = embeddings.cached_prompt_embeddings(["one prompt", "another prompt", "one prompt"])
    assert PromptEmbedding.objects.count() == 2
    monkeypatch.setattr(embeddings, "prompt_embeddings", lambda texts: pytest.fail(f"re-embedded {texts}"))
    second = embeddings.cached_prompt_embeddings(["another prompt", "one prompt"])
    assert np.array_equal(second, first[[1, 0]])


def test_the_board_names_the_mode_and_the_page_picks_it():
    assert Board(method="mixture", mixture_mode="context").key == "mixture|mode=context"
    assert Board(method="mixture").key == "mixture"
    assert board_from_query({"view": "prompt-groups"}) == Board(method="mixture", mixture_mode="context")
    assert board_from_query({"view": "groups"}) == Board(method="mixture")


def test_a_prompt_routed_fit_of_llmfao_runs_through_the_command():
    run_import(LLMFAO / "crowd-comparisons.csv", "llmfao")
    prompts = set(Comparison.objects.values_list("prompt", flat=True))
    assert len(prompts) == 13
    result, printed = fit("--method", "mixture", "--mixture-mode", "context", "--groups", "2")
    assert result["mode"] == "context" and result["groups"] == 2 and result["judgments"] == 8931
    assert result["parameters"]["mixture_mode"] == "context"
    assert len(result["group_rankings"]) == 2 and all(len(r) == 59 for r in result["group_rankings"])
    assert sum(result["group_weights"]) == pytest.approx(1.0)
    routed = result["group_prompts"]
    assert len(routed) == 2 and sum(g["prompts"] for g in routed) == 13 and sum(g["votes"] for g in routed) == 8931
    for group in routed:
        assert group["examples"] and all(e["prompt"] in prompts and 0 <= e["weight"] <= 1 for e in group["examples"])
    assert "group 1: the main group of" in printed
    run = RatingRun.objects.get(pk=result["run"])
    assert run.board == "mixture|groups=2|mode=context" and "embed_s" in run.timings
    assert PromptEmbedding.objects.count() == 13
    with pytest.raises(CommandError, match="goes with --method mixture"):
        fit("--mixture-mode", "context")
    with override_settings(AGORA_MIXTURE_MAX_PROMPTS=5), pytest.raises(CommandError, match="has 13, more than"):
        fit("--method", "mixture", "--mixture-mode", "context", "--groups", "2")


def test_the_page_shows_groups_by_prompt_with_prompts_escaped(client):
    _battles(["alpha", "beta", "gamma"], n=60)
    # Two kinds of prompt, one of them hostile: the page must show it as text.
    for c in Comparison.objects.all():
        c.prompt = EVIL if c.id % 2 else "Write a short poem about the sea."
        c.save(update_fields=["prompt"])
    run = _fitted(Board(method="mixture", mixture_mode="context"))
    assert run.state == RunState.DONE, run.error
    assert run.result["groups"] in (1, 2) and run.result["group_prompts"]
    page = client.get("/leaderboard/?view=prompt-groups").content.decode()
    assert "routed from its embedding" in page and "Group 1" in page and "routing weight" in page
    assert 'value="prompt-groups" selected' in page
    assert "a short poem about the sea" in page
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
