"""A tiny GPT-2 with its own tokenizer, built on the spot: a real local model that needs no download.

Everything the transformers backend touches is real: a byte-level BPE tokenizer with a chat
template, ``save_pretrained`` files, ``AutoModelForCausalLM`` loading and ``generate`` with a
streamer. The model is trained for a second on a few sentences, because random weights emit
stray bytes with no spaces: the streamer would hold them back until the end (it flushes at
word boundaries) and a page would get one blob of mojibake. Trained, greedy decoding recites the
sentences in a loop, in words: several deltas, readable text, and it never stops on its own,
so a generation runs to ``max_tokens``.
"""

from __future__ import annotations

from pathlib import Path

EOS = "<|endoftext|>"
PAD = "<|pad|>"
# Role-prefixed lines, ending in the cue for the answer: the shape of most chat templates.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
SENTENCES = [
    "Argue for and against the use of kubernetes in the style of a haiku.",
    "Explain in a short paragraph quantum field theory to a high-school student.",
    "The quick brown fox jumps over the lazy dog.",
    "user: hello there\nassistant: hello, how can I help you today?",
    "Containers set us free, yet complexity is the fee.",
]
# Room for thousands of tokens: a cancellation test needs a generation that would otherwise run for seconds.
MAX_POSITIONS = 8192
# Fixed start weights: the same model, so the same greedy text, on every run.
SEED = 0
TRAINING_STEPS = 150
WINDOW = 64


def build_tiny_model(
    path: Path | str, *, layers: int = 1, width: int = 32, heads: int = 2, lr: float = 3e-2, device: str = "cpu"
) -> Path:
    """Write a GPT-2 (by default tiny: 1 layer, 32 dimensions) and its tokenizer to PATH; return PATH.

    Larger shapes (benchmarks/local_model.py) want a smaller learning rate; DEVICE is where it trains.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _build_tokenizer()
    tokenizer.save_pretrained(path)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=MAX_POSITIONS,
        n_layer=layers,
        n_head=heads,
        n_embd=width,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # fork_rng: seeding must not change the random state of the test that builds the model.
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = GPT2LMHeadModel(config).to(device)
        _train(model, tokenizer, lr)
    model.to("cpu").save_pretrained(path)
    return path


def _train(model, tokenizer, lr: float) -> None:
    """Fit the model to the sentences read in a loop (no end-of-text token, so it never learns to stop)."""
    import torch

    ids = tokenizer("\n".join(SENTENCES) + "\n", add_special_tokens=False)["input_ids"]
    looped = torch.tensor(ids * (WINDOW // len(ids) + 2))
    batch = torch.stack([looped[start : start + WINDOW] for start in range(0, len(ids), 4)]).to(model.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(TRAINING_STEPS):
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def _build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=[EOS, PAD],
        # Every byte is in the vocabulary, so any text encodes (no unknown token needed).
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(SENTENCES, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
