"""A fit's result, typed: ``rate()`` returns it, the stored run keeps its JSON form, the page reads it back.

``to_dict()`` is the JSON form: the dict that ``RatingRun.result`` stores and ``fit_ratings --output``
writes, its keys in the order they have always had; a key another method gives and this one does not is
left out (``matrices`` for the mixture, ``tie_parameter`` for Bradley–Terry, …). ``from_dict()`` reads
a stored one back; what a stored one lacks (one written by hand, or by an older version) takes its
default: no warnings, no interval, no rank, the default parameters. The values are JSON-ready as they
are built: a bound that is not finite is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ratings.engine.bradley_terry import DEFAULT_SCALE, Scale


def _plain(value: Any) -> Any:
    """A value as JSON holds it: records as dicts, tuples as lists."""
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, Scale):
        return {"init": value.init, "scale": value.scale, "base": value.base}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Record:
    """A dataclass whose JSON form is its fields in their order; a field in ``OPTIONAL`` is left out when None."""

    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None or f.name not in self.OPTIONAL:
                out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row(_Record):
    """One model's line of the board: its rating, the interval (None without one) and its votes."""

    model: str
    rating: float
    lower: float | None = None
    upper: float | None = None
    rank_ub: int | None = None  # 1 + the models whose lower bound is above this one's upper bound
    battles: int = 0


@dataclass(frozen=True)
class Matrices(_Record):
    """Win rates among the top models (row beats column): observed, and predicted by the fitted θ."""

    OPTIONAL = frozenset({"predicted"})

    models: list[str]
    observed: list[list[float | None]]  # None where the two never met
    counts: list[list[float]] = field(default_factory=list)
    predicted: list[list[float]] | None = None  # None for Elo, which has no θ


@dataclass(frozen=True)
class WinRateRow(_Record):
    """A model against the baseline (winrate.WinRate, with a standard error that is not finite as None)."""

    model: str
    n: int
    win_rate: float  # percent
    standard_error: float | None
    lc_win_rate: float | None
    lc_standard_error: float | None


@dataclass(frozen=True)
class Ranked(_Record):
    """A model and its rating within one preference group."""

    model: str
    rating: float


@dataclass(frozen=True)
class RoutedPrompt(_Record):
    prompt: str  # cut to leaderboard.EXAMPLE_CHARS
    weight: float  # the group's routing weight for this prompt
    votes: int


@dataclass(frozen=True)
class RoutedGroup(_Record):
    """The prompt-routed mixture's group: the prompts it weighs most, their votes, and examples."""

    prompts: int
    votes: int
    examples: list[RoutedPrompt]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutedGroup:
        return cls(data["prompts"], data["votes"], [RoutedPrompt.from_dict(e) for e in data["examples"]])


@dataclass(frozen=True)
class MixtureGroups:
    """The mixture's latent preference groups. In the JSON form these keys sit at the top level."""

    mode: str  # annotator, global or context (auto resolved)
    groups: int  # K
    heldout_loglik: dict[str, float]  # K → held-out log-likelihood; empty when K was given
    group_weights: list[float]
    group_rankings: list[list[Ranked]]
    group_prompts: list[RoutedGroup] | None = None  # the prompt-routed mixture only


@dataclass(frozen=True, kw_only=True)
class Parameters(_Record):
    """What the fit was asked: the JSON form's ``parameters``."""

    OPTIONAL = frozenset({"k", "groups", "mixture_mode"})

    ci: str = "bootstrap"  # "none" for the methods without intervals
    bootstrap: int = 100
    level: float = 0.95
    style: bool = False
    style_reg: float = 0.0
    style_reweight: bool = False
    baseline: str | None = None
    anchor: tuple[str, float] | None = None
    scale: Scale = DEFAULT_SCALE
    seed: int = 0
    k: float | None = None  # Elo's K
    groups: int | None = None  # the mixture's K as asked (0: chosen by held-out likelihood)
    mixture_mode: str | None = None  # the mixture's mode as asked (auto unresolved)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameters:
        anchor, scale = data.get("anchor"), data.get("scale")
        return super().from_dict(
            dict(
                data,
                scale=DEFAULT_SCALE if scale is None else Scale(**scale),
                anchor=None if anchor is None else tuple(anchor),
            )
        )


@dataclass(frozen=True, kw_only=True)
class RatingResult:
    """One fit of one method: the board's rows and what the method adds to them."""

    method: str  # a key of methods.METHODS
    parameters: Parameters
    judgments: int
    warnings: list[str]
    models: list[Row]  # best first; only models with judgments
    matrices: Matrices | None = None  # Bradley–Terry, style control, Elo, the tie models
    style_coefficients: dict[str, float] | None = None  # style control: β per feature
    style_intervals: dict[str, list[float]] | None = None  # style control with intervals: β's bounds
    tie_parameter: float | None = None  # Rao–Kupper's η, Davidson's ν
    win_rates: list[WinRateRow] | None = None  # the win rate against a baseline
    mixture: MixtureGroups | None = None
    bias: dict[str, Any] | None = None  # the services' bias panel (it reads the database), added after the fit

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, keys in the order the stored runs have always had them."""
        out: dict[str, Any] = {
            "method": self.method,
            "parameters": self.parameters.to_dict(),
            "judgments": self.judgments,
            "warnings": list(self.warnings),
        }
        groups = self.mixture
        if groups is not None:
            out |= {
                "mode": groups.mode,
                "groups": groups.groups,
                "heldout_loglik": dict(groups.heldout_loglik),
                "group_weights": list(groups.group_weights),
                "group_rankings": _plain(groups.group_rankings),
            }
        for name in ("win_rates", "style_coefficients", "style_intervals", "tie_parameter"):
            if (value := getattr(self, name)) is not None:
                out[name] = _plain(value)
        out["models"] = _plain(self.models)
        if self.matrices is not None:
            out["matrices"] = self.matrices.to_dict()
        if groups is not None and groups.group_prompts is not None:
            out["group_prompts"] = _plain(groups.group_prompts)
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RatingResult:
        """A stored run's result, typed again."""
        mixture = None
        if "group_rankings" in data:
            prompts, rankings = data.get("group_prompts"), data["group_rankings"]
            mixture = MixtureGroups(
                mode=data.get("mode", ""),
                groups=data.get("groups", len(rankings)),
                heldout_loglik=data.get("heldout_loglik", {}),
                group_weights=data.get("group_weights", []),
                group_rankings=[[Ranked.from_dict(r) for r in ranking] for ranking in rankings],
                group_prompts=None if prompts is None else [RoutedGroup.from_dict(g) for g in prompts],
            )
        win_rates, matrices = data.get("win_rates"), data.get("matrices")
        return cls(
            method=data.get("method", ""),
            parameters=Parameters.from_dict(data.get("parameters") or {}),
            judgments=data.get("judgments", 0),
            warnings=data.get("warnings", []),
            models=[Row.from_dict(r) for r in data.get("models", [])],
            matrices=None if matrices is None else Matrices.from_dict(matrices),
            style_coefficients=data.get("style_coefficients"),
            style_intervals=data.get("style_intervals"),
            tie_parameter=data.get("tie_parameter"),
            win_rates=None if win_rates is None else [WinRateRow.from_dict(r) for r in win_rates],
            mixture=mixture,
            bias=data.get("bias"),
        )
