"""A board: which judgments to rate and how. The leaderboard's switches pick one; each has its runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from django.conf import settings

from annotation.models import Source

TIE_MODELS = {"half": "bt", "rao-kupper": "rao-kupper", "davidson": "davidson"}


@dataclass(frozen=True)
class Board:
    method: str = "bt"  # bt, elo, rao-kupper, davidson, mixture, winrate
    style: bool = False
    category: str = ""
    source: str = ""
    graded: bool = False  # use the judges' strengths as soft outcomes
    baseline: str = ""
    groups: int = 0  # mixture: K (0 = chosen by held-out likelihood)
    # mixture: how votes are grouped: auto (per annotator when judges are known, else per vote), annotator
    # (PAL), global, or context (MiCRo: the mixture weights routed from the prompt's embedding).
    mixture_mode: str = "auto"
    bootstrap: int = 100
    ci: str = "bootstrap"  # bootstrap, sandwich, none
    # Leave out the judgments with an integrity flag not cleared (an answer named its own model); off
    # counts every judgment. On by default, and only "off" is in the key, so older runs keep theirs.
    integrity: bool = True

    @property
    def key(self) -> str:
        parts = [self.method]
        if self.style:
            parts.append("style")
        if self.graded:
            parts.append("graded")
        for name in ("category", "source", "baseline"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)}")
        if self.groups:
            parts.append(f"groups={self.groups}")
        if self.method == "mixture" and self.mixture_mode != "auto":
            parts.append(f"mode={self.mixture_mode}")
        if self.bootstrap != 100:
            parts.append(f"bootstrap={self.bootstrap}")
        if self.ci != "bootstrap":
            parts.append(f"ci={self.ci}")
        if not self.integrity:
            parts.append("integrity=off")
        return "|".join(parts)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Board:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def board_from_query(query: Mapping[str, str]) -> Board:
    """The page's switches: ``ties`` (half / rao-kupper / davidson), ``style``, ``category``, ``source``,
    ``view`` (ratings; ``groups``, the mixture; ``prompt-groups``, the mixture routed from each prompt)."""
    method = TIE_MODELS.get(query.get("ties", "half"), "bt")
    view = query.get("view")
    if view in ("groups", "prompt-groups"):
        method = "mixture"
    source = query.get("source", "")
    style = method == "bt" and query.get("style") in ("1", "on", "true")
    return Board(
        method=method,
        style=style,
        # Style control's intervals by the sandwich estimator (arena-rank's default): its bootstrap
        # refits a million-row regression 100 times, too slow for a refresh every few minutes.
        ci="sandwich" if style else "bootstrap",
        category=query.get("category", "")[:100],
        source=source if source in Source.values else "",
        mixture_mode="context" if view == "prompt-groups" else "auto",
    )


def scheduled_boards() -> list[Board]:
    """The boards a refresh keeps current (AGORA_RATINGS_BOARDS: a list of Board fields)."""
    return [Board.from_dict(b) for b in settings.AGORA_RATINGS_BOARDS]
