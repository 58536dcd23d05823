"""The rating methods' registry and the typed result: the same JSON, key for key and digit for digit, as
``rate()`` gave before the methods moved into classes (tests/ratings/rate_before.py, kept verbatim)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ratings.boards import TIE_MODELS, Board
from ratings.engine import methods
from ratings.engine.leaderboard import rate
from ratings.engine.methods import METHODS, Method, Options, Prompts
from ratings.engine.result import Parameters, RatingResult, Row
from ratings.engine.votes import RatingError, Votes, votes_from_records
from ratings.management.commands.fit_ratings import Command
from tests.ratings import rate_before
from tests.ratings.data import planted

BETA = np.array([0.3, 0.05, 0.1, -0.05])


def _styled(n: int = 4000, models: int = 7, seed: int = 41) -> Votes:
    """Planted votes with 15 % ties, style counts, and the per-vote extras the loader adds."""
    votes, _, _ = planted(n, models, seed=seed, beta=BETA)
    extra = dict(votes.extra)
    extra["length"] = extra["style_a"][:, 0] - extra["style_b"][:, 0]
    return replace(votes, extra=extra)


def _judged(votes: Votes, judges: int = 5, seed: int = 43) -> Votes:
    rng = np.random.default_rng(seed)
    return replace(votes, judge=rng.integers(0, judges, len(votes)), judges=tuple(f"j{i}" for i in range(judges)))


def _prompts(votes: Votes, distinct: int = 6, seed: int = 47) -> Prompts:
    rng = np.random.default_rng(seed)
    texts = [f"prompt {i} " + "word " * (100 * i) for i in range(distinct)]  # some longer than EXAMPLE_CHARS
    return Prompts(texts, rng.normal(size=(distinct, 8)), rng.integers(0, distinct, len(votes)))


def _both(votes: Votes, **options) -> tuple[RatingResult, dict, list[float], list[float]]:
    new_progress: list[float] = []
    old_progress: list[float] = []
    new = rate(votes, progress=new_progress.append, **options)
    old = rate_before.rate(votes, progress=old_progress.append, **options)
    return new, old, new_progress, old_progress


def _assert_same(votes: Votes, **options) -> RatingResult:
    new, old, new_progress, old_progress = _both(votes, **options)
    assert isinstance(new, RatingResult)
    as_dict = new.to_dict()
    assert list(as_dict) == list(old), "the same keys in the same order"
    assert json.dumps(as_dict, allow_nan=False) == json.dumps(old, allow_nan=False)
    assert json.dumps(as_dict, indent=2, allow_nan=False) == json.dumps(old, indent=2, allow_nan=False)
    assert as_dict == old
    assert new_progress == old_progress, "the same progress reports"
    # A stored run read back is the same typed result.
    assert RatingResult.from_dict(json.loads(json.dumps(old))) == new
    return new


STRENGTHS = [
    {"ci": "bootstrap", "bootstrap": 12},
    {"ci": "bootstrap", "bootstrap": 0},
    {"ci": "sandwich"},
    {"ci": "none"},
    {"ci": "bootstrap", "bootstrap": 12, "anchor": ("m003", 1114.0), "level": 0.9, "seed": 5},
    {"ci": "sandwich", "anchor": ("m002", 1200)},
]


@pytest.mark.parametrize("options", STRENGTHS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("method", ["bt", "rao-kupper", "davidson"])
def test_strength_methods_give_the_old_json(method, options):
    result = _assert_same(_styled(), method=method, **options)
    assert result.matrices is not None and result.matrices.predicted is not None


@pytest.mark.parametrize("options", STRENGTHS[:4] + [{"ci": "sandwich", "anchor": ("m001", 900.0)}], ids=str)
def test_style_control_gives_the_old_json(options):
    result = _assert_same(_styled(), use_style=True, style_reg=0.5, style_reweight=True, **options)
    assert set(result.style_coefficients) == {"tokens", "headers", "lists", "bold"}
    assert (result.style_intervals is None) == (options["ci"] == "none" or options.get("bootstrap") == 0)


@pytest.mark.parametrize(
    "options", [{}, {"elo_k": 16.0, "anchor": ("m004", 1000.0)}, {"use_style": True, "ci": "sandwich"}], ids=str
)
def test_elo_gives_the_old_json(options):
    result = _assert_same(_styled(), method="elo", **options)
    assert result.matrices.predicted is None and result.to_dict()["parameters"]["k"] == options.get("elo_k", 4.0)


@pytest.mark.parametrize("options", [{"baseline": "m000"}, {"baseline": "m002", "length": "planted"}], ids=str)
def test_win_rate_gives_the_old_json(options):
    votes = _styled()
    if options.get("length"):
        options = options | {"length": votes.extra["length"]}
    result = _assert_same(votes, method="winrate", **options)
    assert result.win_rates and result.matrices is None


@pytest.mark.parametrize(
    ("mode", "groups"),
    [("auto", 2), ("global", 0), ("annotator", 2), ("auto", 0), ("context", 2), ("context", 0)],
)
def test_mixture_gives_the_old_json(mode, groups):
    votes = _styled(1500, 5, seed=53)
    if mode in ("annotator", "auto"):
        votes = _judged(votes)
    prompts = _prompts(votes) if mode == "context" else None
    result = _assert_same(votes, method="mixture", mixture_mode=mode, groups=groups, prompts=prompts)
    assert result.mixture is not None and (result.mixture.group_prompts is not None) == (mode == "context")
    assert result.to_dict()["parameters"]["mixture_mode"] == mode


CASES = {
    "always wins": [("champ", "x", "a")] * 5 + [("x", "y", "a"), ("y", "x", "a"), ("champ", "y", "tie")],
    "disconnected": [("x", "y", "a"), ("y", "x", "tie"), ("p", "q", "b"), ("q", "p", "a")],
    "one pair, one way": [("x", "y", "a"), ("x", "y", "tie")],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", ["bt", "elo", "rao-kupper", "davidson", "mixture", "winrate"])
def test_odd_vote_sets_give_the_old_json_and_warnings(case, method):
    votes = votes_from_records(CASES[case])
    _assert_same(votes, method=method, bootstrap=6, groups=1, baseline="x")


@pytest.mark.parametrize("method", ["bt", "elo", "mixture", "winrate"])
def test_a_single_model_gives_the_old_json(method):
    votes = Votes(
        models=("x", "y"), a=np.array([0]), b=np.array([1]), y=np.array([1.0]), tie=np.array([False]), w=np.array([0.0])
    )
    _assert_same(votes, method=method, bootstrap=5, groups=1, baseline="x")


@pytest.mark.parametrize(
    "call",
    [
        {"method": "magic"},
        {"ci": "jackknife"},
        {"mixture_mode": "nearest"},
        {"bootstrap": -1},
        {"anchor": ("nobody", 1000.0)},
        {"method": "winrate"},
        {"method": "winrate", "baseline": "nobody"},
        {"method": "mixture", "mixture_mode": "context"},
        {"method": "rao-kupper", "votes": [("x", "y", "a"), ("y", "x", "a")]},
        {"method": "magic", "ci": "jackknife", "votes": []},
        {"ci": "jackknife", "votes": []},
        {"bootstrap": -1, "votes": []},
    ],
    ids=str,
)
def test_refusals_say_the_same(call):
    call = dict(call)
    records = call.pop("votes", [("x", "y", "a"), ("y", "x", "tie")])
    votes = votes_from_records(records)
    with pytest.raises(RatingError) as old:
        rate_before.rate(votes, **call)
    with pytest.raises(RatingError) as new:
        rate(votes, **call)
    assert str(new.value) == str(old.value)


def test_the_registry_is_keyed_by_the_names_boards_and_the_command_use():
    assert tuple(METHODS) == ("bt", "elo", "rao-kupper", "davidson", "mixture", "winrate")
    assert tuple(METHODS) == rate_before.METHODS
    for key, method in METHODS.items():
        assert isinstance(method, Method) and method.name == key
    assert type(METHODS["bt"]).__name__ == "BradleyTerry"
    assert {type(m).__name__ for m in METHODS.values()} == {
        "BradleyTerry",
        "Elo",
        "RaoKupper",
        "Davidson",
        "Mixture",
        "WinRate",
    }
    # Only the strength methods report intervals.
    assert {k for k, m in METHODS.items() if m.intervals} == {"bt", "rao-kupper", "davidson"}
    # Every method a board can name is registered, and the command offers exactly the registry.
    assert Board().method in METHODS and set(TIE_MODELS.values()) <= set(METHODS)
    parser = Command().create_parser("manage.py", "fit_ratings")
    choices = next(a.choices for a in parser._actions if a.dest == "method")
    assert list(choices) == list(METHODS)


def test_rate_dispatches_through_the_registry(monkeypatch):
    votes = votes_from_records([("x", "y", "a"), ("y", "x", "tie")])
    seen = []

    class Constant(Method):
        name = "constant"

        def fit(self, votes, options, report):
            seen.append(options)
            report(0.5)
            return self._result(votes, options, warnings=[], models=[Row("x", 1.0, None, None, None, 2)])

    monkeypatch.setitem(METHODS, "constant", Constant())
    progress: list[float] = []
    result = rate(votes, method="constant", progress=progress.append, seed=7)
    assert seen == [Options(seed=7)] and progress == [0.5, 1.0]
    assert result.method == "constant" and result.parameters.ci == "none" and result.judgments == 2
    assert result.to_dict()["models"] == [
        {"model": "x", "rating": 1.0, "lower": None, "upper": None, "rank_ub": None, "battles": 2}
    ]
    with pytest.raises(TypeError):
        rate(votes, method="constant", not_an_option=1)


def test_style_control_is_bradley_terry_with_its_switch():
    votes = _styled(2000, 5)
    assert isinstance(METHODS["bt"], methods.BradleyTerry)
    styled = rate(votes, use_style=True, ci="none")
    assert styled.method == "bt" and styled.style_coefficients and styled.parameters.style
    assert rate(votes, ci="none").style_coefficients is None


def test_the_json_form_leaves_out_what_a_method_does_not_give_and_reads_back():
    votes = _styled(2000, 5)
    plain = rate(votes, bootstrap=5).to_dict()
    assert list(plain) == ["method", "parameters", "judgments", "warnings", "models", "matrices"]
    assert list(plain["parameters"]) == [
        "ci",
        "bootstrap",
        "level",
        "style",
        "style_reg",
        "style_reweight",
        "baseline",
        "anchor",
        "scale",
        "seed",
    ]
    stored = plain | {"bias": {"position": [], "length": [], "ties": []}}
    again = RatingResult.from_dict(stored)
    assert again.bias == stored["bias"] and again.to_dict() == stored
    assert Parameters.from_dict(plain["parameters"]).scale.alpha == pytest.approx(400 / np.log(10))


def test_a_stored_result_missing_keys_reads_back_with_defaults():
    # As a hand-made run (tests/e2e) stores it: rows without ranks, matrices without counts, no parameters.
    stored = {
        "models": [
            {"model": "m1", "rating": 1010.0, "lower": 1000.0, "upper": 1020.0, "battles": 10},
            {"model": "m2", "rating": 990.0, "lower": 980.0, "upper": 1000.0, "battles": 10},
        ],
        "matrices": {"models": ["m1", "m2"], "observed": [[None, 0.8], [0.2, None]]},
    }
    result = RatingResult.from_dict(stored)
    assert result.models[0].rank_ub is None and result.warnings == [] and result.parameters == Parameters()
    assert result.matrices.predicted is None and result.mixture is None
    groups = RatingResult.from_dict({"models": [], "group_rankings": [[{"model": "m1", "rating": 1000.0}]]})
    assert groups.mixture.groups == 1 and groups.mixture.group_weights == []
