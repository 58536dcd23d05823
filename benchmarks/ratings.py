"""The rating engine beside arena-rank (LMArena's reference) and choix: fit, bootstrap, style control, memory.

    .venv/bin/python benchmarks/ratings.py [--sizes 100000,1000000] [--models 50,150] [--skip-slow]

Votes are synthetic (``tests/ratings/data.planted``: a known Bradley–Terry model with 15 % ties and
style effects), one set per (votes, models), written to a temporary file. Every library then runs
in a fresh interpreter of its own (multiprocessing, "spawn"), one per library and task, so imports,
JIT compilation and memory are its own:

- Agora: ``pair_counts`` (prepare), ``bradley_terry.fit``, ``intervals.bootstrap_bt`` (100 rounds);
  style control: ``style.votes_style`` (prepare), ``style.fit``, ``style.bootstrap``; and the whole
  ``leaderboard.rate`` for each, as the leaderboard runs it;
- arena-rank: ``PairDataset.from_pandas`` (prepare), ``BradleyTerry.fit``,
  ``compute_ratings_and_cis(ci_method="bootstrap", num_bootstrap=100)`` (a process pool, one
  worker per core); style: ``ContextualPairDataset.from_pandas``, ``ContextualBradleyTerry.fit``
  and its bootstrap. Its pool starts its workers with "spawn", the default in a spawned
  interpreter (forked after JAX has run, the workers deadlocked here, as JAX warns they may). Its
  input is the pandas frame LMArena's notebooks use (names, a winner column, the raw style
  differences), built before the clock starts. JAX work is waited for (``block_until_ready``), and
  each fit is timed whole, JIT compilation included, as in arena-rank's own use;
- choix: ``ilsr_pairwise_dense`` on the win matrix (ties as half wins, exactly Agora's
  likelihood) and, unless ``--skip-slow``, ``ilsr_pairwise`` on (winner, loser) pairs. Those
  pairs cannot carry a half win, so a tie is given as one win each way and every decisive vote
  twice: the log-likelihood is then exactly twice the half-win one, with the same maximum.
  (Ties as one win each way with decisive votes given once would weigh ties double and move the
  ratings.) ``opt_pairwise`` is left out: it loops over the pairs in Python in every objective,
  gradient and Hessian evaluation. choix has no bootstrap and no style control: "—".

Style control runs at Agora's defaults on both sides (no L2 on β, no pair reweighting;
``--style-reg 1 --style-reweight`` gives arena-rank's). Differences: after centring both to mean
0, the largest |Δθ| over models in rating points (400/ln 10 · Δθ), and the largest |Δβ|.

Memory: per step, the peak resident set (VmHWM) of the process that runs it, reset to the current
RSS just before the step (``/proc/self/clear_refs``), so ``peak`` is the true peak RSS during the
step (interpreter, libraries and the input included) and ``+MiB`` what the step added on top of
what was resident when it started. arena-rank's bootstrap runs in pool workers; ``workers`` is the
largest worker's peak RSS (getrusage RUSAGE_CHILDREN): the pool holds about one such per core on
top of ``peak``.

Slow references: arena-rank's bootstrap runs up to ``--arena-rank-bootstrap-max-votes`` votes
(default 1,000,000; ~90 s at 1M votes/100 models on 2 cores, minutes at 150), its style bootstrap
up to ``--arena-rank-style-bootstrap-max-votes`` (default 100,000: each round is a full L-BFGS fit
over every vote); ``--skip-slow`` leaves out both and choix's list-based ILSR. A step that runs past
``--timeout`` seconds is stopped and reported as such. Results: a table on stdout and
``var/bench/ratings-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import loadavg, result_write, table  # noqa: E402

ALPHA = 400 / np.log(10)  # rating points per unit of θ
BETA = np.array([0.35, 0.05, 0.1, -0.05])  # planted style effects (tokens, headers, lists, bold)
RAW = ["raw_tokens", "raw_headers", "raw_lists", "raw_bold"]
LIBRARIES = ("agora", "arena-rank", "choix")
TASKS = ("bt", "style")

REFERENCES = """\
reference figures quoted for this machine (2 cores), not measured by this script:
  arena-rank, 1M votes / 100 models: ~4 s to prepare, ~1.3 s to fit, ~90 s for a 100-round bootstrap
  FastChat's method: ~5.7 s for the bootstrap, ~5 min for style control with a 100-round bootstrap
  Agora's targets: BT + 100-round bootstrap >= 100x faster than arena-rank and under 1 s;
                   style control with CIs >= 20x faster than FastChat's (<= 15 s)"""


# --- in the child process --------------------------------------------------------------------


def _mib(kib: float) -> float:
    return round(kib / 1024.0, 1)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class Stepper:
    """Times one step at a time, with its peak RSS, and tells the parent as it goes."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def __call__(self, name: str, fn):
        self.conn.send(("start", name))
        before = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := the current RSS
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        self.conn.send(
            (
                "step",
                {
                    "step": name,
                    "seconds": round(seconds, 4),
                    "peak_mib": _mib(_status_kib("VmHWM")),
                    "added_mib": _mib(_status_kib("VmHWM") - before),
                    "workers_mib": _mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) or None,
                },
            )
        )
        return value


def _load(path: str):
    from ratings.engine.votes import Votes

    data = np.load(path)
    n_models = int(data["n_models"])
    return Votes(
        models=tuple(f"m{i:03d}" for i in range(n_models)),
        a=data["a"],
        b=data["b"],
        y=data["y"],
        tie=data["tie"],
        w=np.ones(len(data["a"])),
        extra={"style_a": data["style_a"], "style_b": data["style_b"]},
    )


def _frame(votes, style: bool):
    """The votes as arena-rank reads them: model names, a winner column, the raw style differences."""
    import pandas as pd

    names = np.asarray(votes.models, dtype=object)
    columns = {
        "model_a": names[votes.a],
        "model_b": names[votes.b],
        "winner": np.select([votes.tie, votes.y == 1.0], ["tie", "model_a"], "model_b"),
    }
    if style:
        sa, sb = votes.extra["style_a"].astype(float), votes.extra["style_b"].astype(float)
        columns |= dict(zip(RAW, ((sa - sb) / (sa + sb + 1.0)).T, strict=True))
    return pd.DataFrame(columns)


def _in_our_order(votes, competitors: list[str], values) -> np.ndarray:
    out = np.empty(votes.n_models)
    out[[votes.models.index(name) for name in competitors]] = np.asarray(values)
    return out


def agora_bt(step: Stepper, votes, opts: dict) -> dict:
    from ratings.engine import bradley_terry, intervals
    from ratings.engine.leaderboard import rate
    from ratings.engine.votes import pair_counts

    def prepare():
        pc = pair_counts(votes)
        return pc, pc.wins()

    pc, wins = step("BT prepare", prepare)
    fitted = step("BT fit", lambda: bradley_terry.fit(wins, models=votes.models))
    step("BT boot", lambda: intervals.bootstrap_bt(pc, fitted.theta, rounds=opts["rounds"], prior=fitted.prior))
    step("rate(): BT + boot", lambda: rate(votes, bootstrap=opts["rounds"]))
    return {"BT fit": {"theta": fitted.theta}}


def agora_style(step: Stepper, votes, opts: dict) -> dict:
    from ratings.engine import style
    from ratings.engine.leaderboard import rate

    reg, reweight = opts["style_reg"], opts["style_reweight"]
    x = step("style prepare", lambda: style.votes_style(votes))
    fitted = step("style fit", lambda: style.fit(votes, x, reg=reg, reweight=reweight))
    step("style boot", lambda: style.bootstrap(votes, x, fitted, rounds=opts["rounds"], reg=reg, reweight=reweight))
    step(
        "rate(): style + boot",
        lambda: rate(votes, bootstrap=opts["rounds"], use_style=True, style_reg=reg, style_reweight=reweight),
    )
    return {"style fit": {"theta": fitted.theta, "beta": fitted.beta}}


def _ready(*arrays):
    import jax

    jax.block_until_ready(arrays)
    return arrays


def arena_rank_bt(step: Stepper, votes, opts: dict) -> dict:
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    frame = _frame(votes, style=False)

    def prepare():
        dataset = PairDataset.from_pandas(frame)
        _ready(dataset.pairs, dataset.outcomes, dataset.counts, dataset.opt_weights)
        return dataset

    dataset = step("BT prepare", prepare)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    step("BT fit", lambda: _ready(model.fit(dataset).params["ratings"]))
    if opts["arena_boot"]:
        step(
            "BT boot",
            lambda: _ready(
                model.compute_ratings_and_cis(dataset, ci_method="bootstrap", num_bootstrap=opts["rounds"])[
                    "rating_lower"
                ]
            ),
        )
    return {"BT fit": {"theta": _in_our_order(votes, dataset.competitors, model.params["ratings"])}}


def arena_rank_style(step: Stepper, votes, opts: dict) -> dict:
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    frame = _frame(votes, style=True)

    def prepare():
        dataset = ContextualPairDataset.from_pandas(frame, feature_cols=RAW, reweighted=opts["style_reweight"])
        _ready(dataset.pairs, dataset.outcomes, dataset.features, dataset.weights)
        return dataset

    dataset = step("style prepare", prepare)
    model = ContextualBradleyTerry(n_competitors=len(dataset.competitors), n_features=len(RAW), reg=opts["style_reg"])
    step("style fit", lambda: _ready(*model.fit(dataset).params.values()))
    if opts["arena_style_boot"]:
        step(
            "style boot",
            lambda: _ready(
                model.compute_ratings_and_cis(dataset, ci_method="bootstrap", num_bootstrap=opts["rounds"])[
                    "rating_lower"
                ]
            ),
        )
    return {
        "style fit": {
            "theta": _in_our_order(votes, dataset.competitors, model.params["ratings"]),
            "beta": np.asarray(model.params["coeffs"]),
        }
    }


def _winner_loser(votes) -> list[list[int]]:
    """(winner, loser) pairs with the half-win likelihood doubled: decisive votes twice, a tie once each way."""
    decisive = ~votes.tie
    winner = np.where(votes.y == 1.0, votes.a, votes.b)[decisive]
    loser = np.where(votes.y == 1.0, votes.b, votes.a)[decisive]
    tied_a, tied_b = votes.a[votes.tie], votes.b[votes.tie]
    return np.stack(
        [np.concatenate([winner, winner, tied_a, tied_b]), np.concatenate([loser, loser, tied_b, tied_a])], axis=1
    ).tolist()


def choix_bt(step: Stepper, votes, opts: dict) -> dict:
    import choix

    n = votes.n_models

    def dense():
        return (
            np.bincount(votes.a * n + votes.b, weights=votes.y, minlength=n * n)
            + np.bincount(votes.b * n + votes.a, weights=1.0 - votes.y, minlength=n * n)
        ).reshape(n, n)

    wins = step("BT prepare (dense)", dense)
    estimates = {
        "BT fit (ilsr_pairwise_dense)": {
            "theta": step("BT fit (ilsr_pairwise_dense)", lambda: choix.ilsr_pairwise_dense(wins))
        }
    }
    if not opts["skip_slow"]:
        pairs = step("BT prepare (pairs)", lambda: _winner_loser(votes))
        estimates["BT fit (ilsr_pairwise)"] = {
            "theta": step("BT fit (ilsr_pairwise)", lambda: choix.ilsr_pairwise(n, pairs))
        }
    return estimates


TASK_FUNCTIONS = {
    ("agora", "bt"): agora_bt,
    ("agora", "style"): agora_style,
    ("arena-rank", "bt"): arena_rank_bt,
    ("arena-rank", "style"): arena_rank_style,
    ("choix", "bt"): choix_bt,
}


def child(conn, library: str, task: str, path: str, opts: dict) -> None:
    os.setpgid(0, 0)  # its own process group, so a stopped step takes arena-rank's pool workers with it
    try:
        votes = _load(path)
        estimates = TASK_FUNCTIONS[library, task](Stepper(conn), votes, opts)
        conn.send(("done", {k: {f: np.asarray(v).tolist() for f, v in e.items()} for k, e in estimates.items()}))
    except Exception:  # noqa: BLE001 - reported to the parent, which goes on with the other libraries
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


# --- in the parent ---------------------------------------------------------------------------


def run_task(library: str, task: str, path: str, opts: dict, timeout: float) -> tuple[list[dict], dict, str | None]:
    """Runs one task in a fresh interpreter; (its steps, its estimates, an error or None)."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child, args=(theirs, library, task, path, opts))
    process.start()
    theirs.close()
    steps: list[dict] = []
    current, deadline = None, time.monotonic() + timeout
    finished = False
    try:
        while True:
            if not ours.poll(max(0.0, deadline - time.monotonic())):
                os.killpg(process.pid, signal.SIGKILL)
                steps.append({"step": current, "seconds": None, "stopped_after_s": timeout})
                return steps, {}, f"{current}: stopped after {timeout:.0f} s"
            try:
                kind, payload = ours.recv()
            except EOFError:
                return steps, {}, f"{current}: the process ended (exit code {process.exitcode})"
            if kind == "start":
                current, deadline = payload, time.monotonic() + timeout
            elif kind == "step":
                steps.append(payload)
            elif kind == "done":
                finished = True
                return steps, payload, None
            else:
                return steps, {}, payload
    finally:
        process.join(10 if finished else 1)
        if process.is_alive():
            os.killpg(process.pid, signal.SIGKILL)
            process.join()


def max_differences(ours: dict, theirs: dict) -> dict:
    """Largest |Δθ| in rating points (both centred) and largest |Δβ|."""
    a, b = np.asarray(ours["theta"]), np.asarray(theirs["theta"])
    out = {"max_dtheta_points": float(np.abs((a - a.mean()) - (b - b.mean())).max() * ALPHA)}
    if "beta" in ours and "beta" in theirs:
        out["max_dbeta"] = float(np.abs(np.asarray(ours["beta"]) - np.asarray(theirs["beta"])).max())
    return out


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2g}" if abs(value) < 10**-digits and value else f"{value:.{digits}f}"
    return str(value)


COLUMNS = [
    ("votes", lambda r: f"{r['votes']:,}"),
    ("models", lambda r: r["models"]),
    ("library", lambda r: r["library"]),
    ("step", lambda r: r["step"]),
    ("seconds", lambda r: _fmt(r.get("seconds")) if r.get("seconds") is not None else r.get("note", "—")),
    ("peak MiB", lambda r: _fmt(r.get("peak_mib"), 0)),
    ("+MiB", lambda r: _fmt(r.get("added_mib"), 0)),
    ("workers MiB", lambda r: _fmt(r.get("workers_mib"), 0)),
    ("max |Δθ| pts", lambda r: _fmt(r.get("max_dtheta_points"), 4)),
    ("max |Δβ|", lambda r: _fmt(r.get("max_dbeta"), 5)),
]


def _seconds(rows: list[dict], library: str, *steps: str) -> float | None:
    found = {r["step"]: r.get("seconds") for r in rows if r["library"] == library}
    values = [found.get(s) for s in steps]
    return None if any(v is None for v in values) else sum(values)


def summary(n_votes: int, n_models: int, rounds: int, rows: list[dict]) -> list[str]:
    lines = [f"{n_votes:,} votes, {n_models} models:"]
    ours = _seconds(rows, "agora", "BT prepare", "BT fit", "BT boot")
    theirs = _seconds(rows, "arena-rank", "BT prepare", "BT fit", "BT boot")
    whole = _seconds(rows, "agora", "rate(): BT + boot")
    line = f"  BT + {rounds}-round bootstrap: Agora {_fmt(ours)} s (rate(): {_fmt(whole)} s)"
    if ours is not None and theirs is not None:
        speedup = theirs / ours
        met = "met" if speedup >= 100 and ours < 1 else "NOT met"
        line += f", arena-rank {theirs:.1f} s: {speedup:.0f}x (target >= 100x and < 1 s: {met})"
    else:
        line += f", arena-rank not run (target < 1 s: {'met' if ours is not None and ours < 1 else 'NOT met'})"
    lines.append(line)
    ours = _seconds(rows, "agora", "style prepare", "style fit", "style boot")
    whole = _seconds(rows, "agora", "rate(): style + boot")
    theirs = _seconds(rows, "arena-rank", "style prepare", "style fit", "style boot")
    line = f"  style control + {rounds}-round bootstrap: Agora {_fmt(ours)} s (rate(): {_fmt(whole)} s)"
    if ours is not None:
        met = "met" if ours <= 15 else "NOT met"
        line += f", {300 / ours:.0f}x FastChat's quoted ~5 min (target >= 20x, <= 15 s: {met})"
    if theirs is not None and ours is not None:
        line += f"; arena-rank {theirs:.1f} s: {theirs / ours:.0f}x"
    lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of votes")
    parser.add_argument("--models", default="50,150", help="comma-separated numbers of models")
    parser.add_argument("--rounds", type=int, default=100, help="bootstrap rounds")
    parser.add_argument("--libraries", default=",".join(LIBRARIES), help="comma-separated, of " + ", ".join(LIBRARIES))
    parser.add_argument(
        "--skip-slow", action="store_true", help="leave out arena-rank's bootstraps and choix's list-based ILSR"
    )
    parser.add_argument(
        "--arena-rank-bootstrap-max-votes",
        type=int,
        default=1_000_000,
        help="run arena-rank's BT bootstrap only up to this many votes",
    )
    parser.add_argument(
        "--arena-rank-style-bootstrap-max-votes",
        type=int,
        default=100_000,
        help="run arena-rank's style-control bootstrap only up to this many votes",
    )
    parser.add_argument("--style-reg", type=float, default=0.0, help="L2 on the style coefficients (arena-rank: 1)")
    parser.add_argument("--style-reweight", action="store_true", help="arena-rank's inverse pair-count weights")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one step may run before it is stopped")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    model_counts = [int(m) for m in args.models.split(",")]
    libraries = [name for name in args.libraries.split(",") if name]
    if unknown := set(libraries) - set(LIBRARIES):
        parser.error(f"unknown libraries: {', '.join(sorted(unknown))}")

    from tests.ratings.data import planted

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    load_before = loadavg()
    rows: list[dict] = []
    errors: list[str] = []
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agora-bench-ratings-") as tmp:
        for n_votes in sizes:
            for n_models in model_counts:
                votes, _, _ = planted(n_votes, n_models, seed=args.seed, beta=BETA)
                path = str(Path(tmp) / f"votes-{n_votes}-{n_models}.npz")
                np.savez(
                    path,
                    a=votes.a,
                    b=votes.b,
                    y=votes.y,
                    tie=votes.tie,
                    n_models=n_models,
                    style_a=votes.extra["style_a"],
                    style_b=votes.extra["style_b"],
                )
                opts = {
                    "rounds": args.rounds,
                    "skip_slow": args.skip_slow,
                    "style_reg": args.style_reg,
                    "style_reweight": args.style_reweight,
                    "arena_boot": not args.skip_slow and n_votes <= args.arena_rank_bootstrap_max_votes,
                    "arena_style_boot": not args.skip_slow and n_votes <= args.arena_rank_style_bootstrap_max_votes,
                }
                combo: list[dict] = []
                reference: dict[str, dict] = {}
                for library in libraries:
                    for task in TASKS:
                        if (library, task) not in TASK_FUNCTIONS:
                            combo.append({"library": library, "step": f"{task} (none)", "note": "—"})
                            continue
                        print(
                            f"{n_votes:,} votes, {n_models} models: {library} {task} (load {loadavg()}) …",
                            file=sys.stderr,
                            flush=True,
                        )
                        steps, estimates, error = run_task(library, task, path, opts, args.timeout)
                        if error:
                            errors.append(f"{n_votes:,}/{n_models} {library} {task}: {error}")
                        for step in steps:
                            if step.get("seconds") is None:
                                step["note"] = f"> {step['stopped_after_s']:.0f} (stopped)"
                            combo.append({"library": library, **step})
                        for name, estimate in estimates.items():
                            if library == "agora":
                                reference[name] = estimate
                                continue
                            kind = "BT fit" if name.startswith("BT") else "style fit"
                            if kind in reference:
                                row = next(r for r in combo if r["library"] == library and r["step"] == name)
                                row.update(max_differences(reference[kind], estimate))
                        if library == "arena-rank" and task == "bt" and not opts["arena_boot"]:
                            combo.append({"library": library, "step": "BT boot", "note": "not run"})
                        if library == "arena-rank" and task == "style" and not opts["arena_style_boot"]:
                            combo.append({"library": library, "step": "style boot", "note": "not run"})
                        if library == "choix" and task == "bt" and args.skip_slow:
                            combo.append({"library": library, "step": "BT fit (ilsr_pairwise)", "note": "not run"})
                for row in combo:
                    row.update(votes=n_votes, models=n_models)
                rows += combo
                notes += summary(n_votes, n_models, args.rounds, combo)

    print()
    print(
        f"rating engines, {os.cpu_count()} cores; {args.rounds} bootstrap rounds; "
        f"style reg {args.style_reg}, reweight {args.style_reweight}; load before {load_before}, after {loadavg()}; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    print(
        "one fresh interpreter per library and task; peak = peak RSS during the step (VmHWM reset before it), "
        "+MiB = peak minus RSS at its start; Δ vs Agora after centring, θ in rating points"
    )
    print(table(COLUMNS, rows, left=("library", "step")))
    print()
    print("\n".join(notes))
    print(
        "  arena-rank's bootstrap ran up to "
        f"{args.arena_rank_bootstrap_max_votes:,} votes, its style bootstrap up to "
        f"{args.arena_rank_style_bootstrap_max_votes:,}" + (" (both skipped: --skip-slow)" if args.skip_slow else "")
    )
    print(REFERENCES)
    for error in errors:
        print(f"  error: {error.splitlines()[-1] if error else error}")
    result = {
        "benchmark": "ratings",
        "started": stamp,
        "params": vars(args),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": loadavg(),
        "rows": rows,
        "summary": notes,
        "errors": errors,
    }
    result_write(result)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
