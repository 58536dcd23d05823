"""The trl-preference and trl-kto exports train TRL's DPO and KTO trainers as they are: one step on a tiny model.

The LLMFAO crowd votes are exported with ``export_dataset``, the file is read back with ``datasets``
(JSONL and Parquet) and handed to the trainer with every column Agora writes, Agora's metadata
(``margin``, ``chosen_model``, ``rejected_model``, ``model``, ``comparison``, ``judge``) included:
no renaming, no reformatting, only a few rows kept (``select``) so that a step runs in a second on a CPU.
The model and its tokenizer (chat template, pad token) are built on the spot: nothing is downloaded.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.datasets.test_exports import export, llmfao  # noqa: F401 (llmfao: the imported votes, autouse)
from tests.fakes.tiny_model import build_tiny_model

pytestmark = pytest.mark.django_db
ROWS = 8
PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected", "margin", "chosen_model", "rejected_model", "comparison", "judge"]
KTO_COLUMNS = ["prompt", "completion", "label", "model", "comparison", "judge"]
# What one step needs from the trainer: tiny batches, short sequences, the CPU, no logging service.
COMMON = {
    "max_steps": 1,
    "per_device_train_batch_size": 2,
    "max_length": 64,
    "learning_rate": 1e-3,
    "report_to": [],
    "use_cpu": True,
    "save_strategy": "no",
    "logging_steps": 1,
    "dataloader_num_workers": 0,
    "seed": 0,
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


def exported(tmp_path: Path, fmt: str, file_format: str, *args: str):
    """The export file as ``datasets`` reads it, its first ROWS rows."""
    from datasets import load_dataset

    path = export(tmp_path, fmt, "--file-format", file_format, *args, name=f"{fmt}.{file_format}")
    builder = "json" if file_format == "jsonl" else "parquet"
    dataset = load_dataset(builder, data_files=str(path), cache_dir=str(tmp_path / "hf-cache"))["train"]
    return dataset.select(range(ROWS))


def train_one_step(tmp_path: Path, tiny_model: Path, trainer_class, config_class, dataset) -> None:
    """One step of TRL's trainer on DATASET as given; check it ran, scored both sides and moved the weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert tokenizer.chat_template and tokenizer.pad_token is not None
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    columns = dataset.column_names
    trainer = trainer_class(
        model=model,
        args=config_class(output_dir=str(tmp_path / "run"), **COMMON),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    # TRL tokenizes beside Agora's columns and leaves them be.
    assert trainer.train_dataset.column_names[: len(columns)] == columns
    before = [p.detach().clone() for p in model.parameters()]
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert math.isfinite(result.training_loss)
    [logged] = [entry for entry in trainer.state.log_history if "loss" in entry]
    # Both sides of the step were scored: tokens of a chosen (desirable) and a rejected (undesirable) completion.
    assert math.isfinite(logged["logps/chosen"]) and math.isfinite(logged["logps/rejected"])
    assert any(not (b == p).all() for b, p in zip(before, model.parameters(), strict=True)), "the step moved no weight"


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_trl_preference_trains_one_dpo_step(tmp_path, tiny_model, file_format):
    from trl import DPOConfig, DPOTrainer

    dataset = exported(tmp_path, "trl-preference", file_format, "--margin")
    assert dataset.column_names == PREFERENCE_COLUMNS
    train_one_step(tmp_path, tiny_model, DPOTrainer, DPOConfig, dataset)


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_trl_kto_trains_one_kto_step(tmp_path, tiny_model, file_format):
    from trl import KTOConfig, KTOTrainer

    dataset = exported(tmp_path, "trl-kto", file_format)
    assert dataset.column_names == KTO_COLUMNS
    # A verdict gives the winner's row then the loser's: the first rows hold both labels.
    assert set(dataset["label"]) == {True, False}
    train_one_step(tmp_path, tiny_model, KTOTrainer, KTOConfig, dataset)
