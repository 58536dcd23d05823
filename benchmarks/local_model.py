"""The transformers backend under load: concurrent streamed answers from one model in one process.

For each model shape the script builds a GPT-2 with the test suite's tokenizer (trained for a few
seconds so greedy decoding speaks in words; no download), loads it through the backend's
``load_model`` (the GPU when there is one) and measures, in the same run:

* **direct**: ``model.generate`` called once with no streamer, one prompt (tokens/s);
* **direct batch**: one ``generate`` over C copies of the prompt, what a batching server
  (vLLM, TGI) gets out of the same weights;
* **backend**: C answers streamed at once through ``TransformersBackend.stream``, as C battles
  on one worker would (the backend batches them): time to first text, gaps between deltas,
  tokens/s per stream and in all, whether every stream said what plain ``generate`` says
  (greedy, one prompt), and how many segments ran with how many rows.

    python benchmarks/local_model.py                       # CPU here: tiny and small, 1/4/16 streams
    python benchmarks/local_model.py --shapes tiny,small,medium,large --streams 1,8,32,64

Prints a table and writes var/bench/local_model-<started>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import ms_stats, result_write, table  # noqa: E402

# name: (layers, width, heads, learning rate)
SHAPES = {
    "tiny": (1, 32, 2, 3e-2),  # the test suite's model
    "small": (4, 256, 4, 3e-3),
    "medium": (12, 768, 12, 1e-3),  # GPT-2 small's body (its vocabulary is the tiny tokenizer's)
    "large": (24, 1024, 16, 5e-4),  # GPT-2 medium's body
}
MESSAGES = [{"role": "user", "content": "hello there"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="tiny,small", help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--streams", default="1,4,16", help="concurrent streams, comma-separated")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per answer")
    args = parser.parse_args()

    import torch

    from tests.fakes.tiny_model import build_tiny_model
    from workers.backends.local import batcher_for, load_model

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    started = time.strftime("%Y%m%d-%H%M%S")
    print(f"device: {device}; torch {torch.__version__}; {args.tokens} new tokens per answer")
    summary = {"benchmark": "local_model", "started": started, "device": device, "tokens": args.tokens, "rows": []}
    rows = summary["rows"]
    with tempfile.TemporaryDirectory() as scratch:
        for shape in args.shapes.split(","):
            layers, width, heads, lr = SHAPES[shape]
            path = Path(scratch) / shape
            t0 = time.perf_counter()
            train_on = "cuda" if torch.cuda.is_available() else "cpu"
            build_tiny_model(path, layers=layers, width=width, heads=heads, lr=lr, device=train_on)
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            tokenizer, model = load_model(path)
            loaded = time.perf_counter() - t0
            params = sum(p.numel() for p in model.parameters())
            print(
                f"\n{shape}: {params / 1e6:.1f}M parameters on {model.device}; "
                f"built in {built:.1f} s, loaded in {loaded:.2f} s"
            )
            asyncio.run(_streams(path, 1, args.tokens))  # warm-up: kernels, caches, the first-call costs
            reference = _reference(tokenizer, model, args.tokens)
            batcher_for(path).batch_sizes.clear()
            for count in [int(c) for c in args.streams.split(",")]:
                row = {"shape": shape, "params_m": round(params / 1e6, 1), "streams": count}
                row.update(_direct(tokenizer, model, count, args.tokens))
                row.update(asyncio.run(_streams(path, count, args.tokens)))
                # Greedy: every stream must say what plain generate() says, segments and padding or not.
                row["same_text"] = row.pop("texts") == {reference}
                row["segments"] = dict(sorted(batcher_for(path).batch_sizes.items()))
                batcher_for(path).batch_sizes.clear()
                if torch.cuda.is_available():
                    row["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
                rows.append(row)
                print(table(COLUMNS, [row], left=("shape",)))
    print()
    print(table(COLUMNS, rows, left=("shape",)))
    result_write(summary)


_COLUMN_KEYS = [
    ("shape", "shape"),
    ("params_m", "M params"),
    ("streams", "streams"),
    ("direct_tok_s", "direct tok/s"),
    ("batch_tok_s", "batch tok/s"),
    ("backend_tok_s", "backend tok/s"),
    ("per_stream_tok_s_p50", "per stream tok/s p50"),
    ("ttft_p50_ms", "TTFT p50 ms"),
    ("ttft_p99_ms", "TTFT p99 ms"),
    ("gap_p50_ms", "gap p50 ms"),
    ("gap_p99_ms", "gap p99 ms"),
    ("same_text", "as generate()"),
    ("segments", "segments by rows"),
]
COLUMNS = [(heading, lambda row, key=key: row.get(key, "")) for key, heading in _COLUMN_KEYS]


def _direct(tokenizer, model, count: int, tokens: int) -> dict:
    """Tokens/s of plain generate(): one prompt, then COUNT copies in one batch."""
    import torch

    from workers.backends.local import build_prompt

    prompt = build_prompt(tokenizer, MESSAGES)
    tokenizer.padding_side = "left"
    out = {}
    for key, batch in (("direct_tok_s", 1), ("batch_tok_s", count)):
        encoded = tokenizer([prompt] * batch, return_tensors="pt", add_special_tokens=False, padding=True)
        inputs = {name: encoded[name].to(model.device) for name in ("input_ids", "attention_mask")}
        _sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        _sync()
        produced = (output.shape[-1] - inputs["input_ids"].shape[-1]) * batch
        out[key] = round(produced / (time.perf_counter() - t0))
    return out


def _reference(tokenizer, model, tokens: int) -> str:
    """What plain generate() answers, greedy, with no streamer or batch."""
    import torch

    from workers.backends.local import build_prompt

    encoded = tokenizer(build_prompt(tokenizer, MESSAGES), return_tensors="pt", add_special_tokens=False)
    inputs = {name: encoded[name].to(model.device) for name in ("input_ids", "attention_mask")}
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


async def _streams(path: Path, count: int, tokens: int) -> dict:
    """COUNT answers streamed at once through the backend; their timings."""
    from workers.backends.base import Finished, ModelSpec
    from workers.backends.local import TransformersBackend

    spec = ModelSpec(name="bench", backend="transformers", model_id=str(path), params={"max_tokens": tokens})

    async def one() -> tuple[float, list[float], int, float, str]:
        t0 = time.perf_counter()
        first, last, gaps, produced, text = None, None, [], 0, ""
        async for item in TransformersBackend(spec).stream(MESSAGES):
            now = time.perf_counter()
            if isinstance(item, Finished):
                produced = item.output_tokens or 0
                continue
            text += item
            if first is None:
                first = now - t0
            else:
                gaps.append(now - last)
            last = now
        return first or 0.0, gaps, produced, time.perf_counter() - t0, text

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)))
    wall = time.perf_counter() - t0
    ttft = ms_stats([r[0] for r in results])
    gaps = ms_stats([gap for r in results for gap in r[1]])
    return {
        "backend_tok_s": round(sum(r[2] for r in results) / wall),
        "per_stream_tok_s_p50": round(sorted(r[2] / r[3] for r in results)[len(results) // 2]),
        "ttft_p50_ms": ttft["p50"],
        "ttft_p99_ms": ttft["p99"],
        "gap_p50_ms": gaps["p50"],
        "gap_p99_ms": gaps["p99"],
        "deltas": sum(len(r[1]) + 1 for r in results),
        "texts": {r[4] for r in results},
    }


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
