"""Fit a leaderboard now, store the run, and optionally write its result as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Source
from ratings.boards import Board
from ratings.engine.methods import CI_METHODS, METHODS, MIXTURE_MODES
from ratings.engine.result import RatingResult
from ratings.models import RunState
from ratings.selectors import fit_document
from ratings.services import run_create, run_execute


class Command(BaseCommand):
    help = "Fit ratings over the stored judgments (and store the run, as the scheduled refresh does)."

    def add_arguments(self, parser):
        parser.add_argument("--method", choices=METHODS, default="bt")
        parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap rounds (default 100)")
        parser.add_argument("--ci", choices=CI_METHODS, default="bootstrap")
        parser.add_argument("--style", action="store_true", help="style control (length and Markdown)")
        parser.add_argument("--graded", action="store_true", help="use vote strengths as soft outcomes")
        parser.add_argument("--category", default="")
        parser.add_argument("--source", choices=Source.values, default="")
        parser.add_argument("--baseline", default="", help="the baseline model of --method winrate")
        parser.add_argument("--groups", type=int, default=0, help="mixture: K groups (0 = choose K by held-out fit)")
        parser.add_argument(
            "--mixture-mode",
            choices=MIXTURE_MODES,
            default="auto",
            help="mixture: group per annotator (PAL), per vote (global), or route from the prompt (context); "
            "auto = annotator when judges are known",
        )
        parser.add_argument(
            "--include-flagged",
            action="store_true",
            help="count the judgments with an integrity flag not cleared too (the board's integrity off)",
        )
        parser.add_argument("--output", type=Path, help="write the result here as JSON")

    def handle(self, *args, **options):
        if options["bootstrap"] < 0:
            raise CommandError("--bootstrap cannot be negative")
        if options["mixture_mode"] != "auto" and options["method"] != "mixture":
            raise CommandError("--mixture-mode goes with --method mixture")
        board = Board(
            method=options["method"],
            style=options["style"],
            category=options["category"],
            source=options["source"],
            graded=options["graded"],
            baseline=options["baseline"],
            groups=options["groups"],
            mixture_mode=options["mixture_mode"],
            bootstrap=options["bootstrap"],
            ci=options["ci"],
            integrity=not options["include_flagged"],
        )
        run = run_execute(run_create(board=board, trigger="manual", enqueue=False).pk)
        if run.state != RunState.DONE:
            raise CommandError(run.error)
        document = fit_document(run)
        if options["output"]:
            options["output"].write_text(json.dumps(document, indent=2, allow_nan=False))
        result = RatingResult.from_dict(run.result)
        self.stdout.write(
            f"{result.judgments} judgments, {len(result.models)} models, {run.duration_ms} ms "
            f"({run.board}, run {run.pk})"
        )
        if run.integrity_left_out:
            self.stdout.write(
                f"  left out: {run.integrity_left_out} flagged judgments (an answer named its own model; "
                "clear them in the admin, or fit with --include-flagged)"
            )
        for warning in result.warnings:
            self.stdout.write(f"  note: {warning}")
        for i, row in enumerate(result.models[:20], 1):
            ci = f"  [{row.lower:.1f}, {row.upper:.1f}]" if row.lower is not None else ""
            self.stdout.write(f"{i:3d}. {row.model:<40} {row.rating:9.2f}{ci}  ({row.battles} votes)")
        routed = result.mixture.group_prompts if result.mixture else None
        for k, group in enumerate(routed or [], 1):
            examples = "; ".join(repr(e.prompt[:60]) for e in group.examples)
            self.stdout.write(
                f"  group {k}: the main group of {group.prompts} prompts ({group.votes} votes), e.g. {examples}"
            )
