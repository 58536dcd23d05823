"""One valid record per import format, in its release's shape: what ``--format auto`` shows beside
a file it cannot place, and what the tests spoil field by field (tests/test_bad_input.py) and run
through import → rating → raw export → import (tests/datasets/test_import_every_format.py).

A format added to ``service.FORMATS`` without an example here fails those tests. A format whose
record joins several rows (HelpSteer2: a prompt's responses) lists the further rows in
``FOLLOWING_ROWS``. ``llmfao`` has
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
    "ultrafeedback": {
        "source": "flan",
        "instruction": "Name a prime.",
        "models": ["gpt-4", "llama-2-7b-chat"],
        "completions": [
            {
                "model": "gpt-4",
                "principle": "helpfulness",
                "custom_system_prompt": "As an AI assistant, be accurate.",
                "response": "7",
                "annotations": {
                    "instruction_following": {"Rating": "5", "Rationale": "Answers the question."},
                    "honesty": {"Rating": "N/A", "Rationale": "Not applicable."},
                    "truthfulness": {
                        "Type": ["0"],
                        "Rationale": "7 is prime.",
                        "Rating": "5",
                        "Rationale For Rating": "No hallucination.",
                    },
                    "helpfulness": {
                        "Type": ["1"],
                        "Rationale": "Correct.",
                        "Rating": "4",
                        "Rationale For Rating": "Correct and concise.",
                    },
                },
                "critique": "Correct; name why it is prime.",
                "overall_score": 9.0,
                "fine-grained_score": 4.667,
            },
            {
                "model": "llama-2-7b-chat",
                "principle": "honesty",
                "custom_system_prompt": "As an AI assistant, say when you are unsure.",
                "response": "9",
                "annotations": {
                    "instruction_following": {"Rating": "3", "Rationale": "Answers, wrongly."},
                    "honesty": {"Rating": "1", "Rationale": "Confidently wrong."},
                    "truthfulness": {
                        "Type": ["1"],
                        "Rationale": "9 = 3 x 3.",
                        "Rating": "1",
                        "Rationale For Rating": "Completely hallucinated.",
                    },
                    "helpfulness": {
                        "Type": ["0"],
                        "Rationale": "Wrong.",
                        "Rating": "1",
                        "Rationale For Rating": "Severely incorrect.",
                    },
                },
                "critique": "9 is not prime.",
                "overall_score": 2.0,
                "fine-grained_score": 1.5,
            },
        ],
        "correct_answers": ["7"],
        "incorrect_answers": ["9"],
    },
    "helpsteer2": {
        "prompt": "Name a prime.",
        "response": "7",
        "helpfulness": 4,
        "correctness": 4,
        "coherence": 4,
        "complexity": 0,
        "verbosity": 1,
    },
    "helpsteer2-preference": {
        "split": "train",
        "prompt": "Name an odd prime.",
        "response_1": "7",
        "response_2": "9",
        "preference_strength": -3,
        "preference_statement": "@Response 1 is much better than @Response 2.",
        "preference_elaboration": "9 is not prime.",
        "three_most_similar_preferences": [
            {"statement": "@Response 1 is much better.", "elaboration": "9 = 3 x 3.", "strength": -3}
        ],
        "all_preferences_unprocessed": [{"strength": -3, "justification": "@Response 1 is much better."}],
    },
}

# Rows written after the example in the same file, where one row alone is no comparison.
FOLLOWING_ROWS: dict[str, list[dict]] = {
    "helpsteer2": [dict(EXAMPLES["helpsteer2"], response="9", helpfulness=0, correctness=0, coherence=4)],
}


def example_rows(format: str) -> list[dict]:
    """The example's rows as a file holds them."""
    return [EXAMPLES[format], *FOLLOWING_ROWS.get(format, [])]
