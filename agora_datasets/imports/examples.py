"""One valid record per import format, in its release's shape: what ``--format auto`` shows beside
a file it cannot place, and what the tests spoil field by field (tests/test_bad_input.py) and run
through import → rating → raw export → import (tests/datasets/test_import_every_format.py).

A format added to ``service.FORMATS`` without an example here fails those tests. ``llmfao`` has
none: it reads its comparisons CSV together with the files beside it (shared/data/llmfao).
"""

from __future__ import annotations

from agora_datasets.exports.raw import FORMAT_VERSION

NEEDS_ITS_FOLDER = {"llmfao": "reads pairs-crowd.jsonl, models.jsonl and results.jsonl beside the CSV"}

_CONVERSATION_A = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"}]
_CONVERSATION_B = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "9"}]

_MT_BENCH_Q1 = "Compose a travel blog post about Hawaii."
_MT_BENCH_Q2 = "Rewrite it. Start every sentence with the letter A."

EXAMPLES: dict[str, dict] = {
    "arena": {
        "model_a": "alpha",
        "model_b": "beta",
        "winner": "model_a",
        "judge": "arena_user_1",
        "turn": 1,
        "language": "English",
        "tstamp": 1700000000.5,
        "category": "coding",
        "strength": -2,
        "scores": {"model_a": {"overall": 6}, "model_b": {"overall": 3}},
        "rationale": "clearer",
        "conversation_a": _CONVERSATION_A,
        "conversation_b": _CONVERSATION_B,
        "display_order": [0, 1],
        "time_spent_ms": 1200,
    },
    "arena-hard": {
        "question_id": "328c149ed45a41c0b9d6f14659e63599",
        "model_a": "gpt-4-0314",
        "model_b": "claude-3-opus-20240229",
        "winner": "model_b",
    },
    "lmarena": {
        "question_id": "58210e39b3fd4441a2bd4a518bb44c2d",
        "model_a": "chatglm-6b",
        "model_b": "koala-13b",
        "winner": "model_b",
        "judge": "arena_user_973",
        "conversation_a": _CONVERSATION_A,
        "conversation_b": _CONVERSATION_B,
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": 1682351591.1322,
        "openai_moderation": {"categories": {"harassment": False}, "flagged": False},
        "toxic_chat_tag": {"roberta-large": {"flagged": False, "probability": 0.0084}},
    },
    "lmarena-kaggle": {
        "id": 30192,
        "model_a": "gpt-4-1106-preview",
        "model_b": "gpt-4-0613",
        "prompt": '["Name a prime."]',
        "response_a": '["7"]',
        "response_b": '["9"]',
        "winner_model_a": 1,
        "winner_model_b": 0,
        "winner_tie": 0,
    },
    "hh-rlhf": {
        "chosen": "\n\nHuman: Name a prime.\n\nAssistant: 7",
        "rejected": "\n\nHuman: Name a prime.\n\nAssistant: 9",
    },
    "nectar": {
        "prompt": "\n\nHuman: Name a prime.\n\nAssistant:",
        "answers": [
            {"answer": "7", "model": "gpt-4", "rank": 1.0},
            {"answer": "9", "model": "llama-2-7b-chat", "rank": 2.0},
            {"answer": "11", "model": "gpt-3.5-turbo", "rank": 3.0},
        ],
        "turns": 1,
        "num_responses": 3,
        "source": ["sharegpt"],
        "good_natured": True,
    },
    "trl-preference": {
        "prompt": [{"role": "user", "content": "Name a prime."}],
        "chosen": [{"role": "assistant", "content": "7"}],
        "rejected": [{"role": "assistant", "content": "9"}],
        "chosen_model": "alpha",
        "rejected_model": "beta",
        "margin": 2.0,
    },
    "trl-kto": {
        "prompt": [{"role": "user", "content": "Name a prime."}],
        "completion": [{"role": "assistant", "content": "7"}],
        "label": True,
    },
    "agora": {
        "agora_raw": FORMAT_VERSION,
        "comparison": {
            "key": "example:1",
            "context": [{"role": "user", "content": "Name a prime."}],
            "source": "import",
            "created_at": "2026-01-02T03:04:05+00:00",
            "category": "math",
            "language": "en",
            "metadata": {},
        },
        "candidates": [
            {"position": 0, "model": "alpha", "text": "7", "metadata": {}},
            {"position": 1, "model": "beta", "text": "9", "metadata": {}},
        ],
        "judgment": {
            "source": "import",
            "judge_kind": "external",
            "judge": "ann-1",
            "created_at": "2026-01-02T03:04:06+00:00",
            "outcome": "a",
            "strength": -1,
            "rationale": "7 is prime",
            "scores": [{"position": 0, "attribute": "overall", "value": 6.0}],
        },
    },
    "mt-bench": {
        "question_id": 81,
        "model_a": "gpt-4",
        "model_b": "claude-v1",
        "winner": "model_a",
        "judge": "expert_0",
        "conversation_a": [
            {"content": _MT_BENCH_Q1, "role": "user"},
            {"content": "Aloha! Hawaii was a dream.", "role": "assistant"},
            {"content": _MT_BENCH_Q2, "role": "user"},
            {"content": "A trip to Hawaii: amazing.", "role": "assistant"},
        ],
        "conversation_b": [
            {"content": _MT_BENCH_Q1, "role": "user"},
            {"content": "Here is a blog post about Hawaii.", "role": "assistant"},
            {"content": _MT_BENCH_Q2, "role": "user"},
            {"content": "Absolutely, here it is again.", "role": "assistant"},
        ],
        "turn": 2,
    },
    "mt-bench-judge": {
        "question_id": 111,
        "model_1": "alpaca-13b",
        "model_2": "gpt-4",
        "g1_winner": "model_2",
        "g2_winner": "model_2",
        "judge": ["gpt-4", "pair-math-v1"],
        "g1_user_prompt": "[User Question]\nWhat is the area?\n\n[The Start of Reference Answer]\nArea is 3\n"
        "[The End of Reference Answer]\n\n[The Start of Assistant A's Answer]\n2\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\n3\n[The End of Assistant B's Answer]",
        "g1_judgment": "Assistant B matches the reference. [[B]]",
        "g2_user_prompt": "[User Question]\nWhat is the area?\n\n[The Start of Reference Answer]\nArea is 3\n"
        "[The End of Reference Answer]\n\n[The Start of Assistant A's Answer]\n3\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\n2\n[The End of Assistant B's Answer]",
        "g2_judgment": "Assistant A matches the reference. [[A]]",
        "turn": 1,
        "tstamp": 1687221910.0,
    },
    "copilot-arena": {
        "prefix": "function getRandomNumber(min,max) {\n  return Math.floor(Math.random()*",
        "suffix": ")\n}\n",
        "model_a": "gpt-4o-2024-08-06",
        "model_b": "gemini-1.5-flash-002",
        "acceptedIndex": 0.0,
        "completion_a": "(max-min+1)+min;",
        "completion_b": "(max-min+1)+min)",
    },
}
