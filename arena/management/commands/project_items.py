"""Add items to an annotation project's queue: from a file, or from arena battles."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.items import ItemsError, items_from_battles, items_import
from annotation.models import Project
from arena.item_generation import items_generate


class Command(BaseCommand):
    help = "Add items to a project: --file items.jsonl|.csv, or --from-battles N (recent arena battles)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--file", type=Path)
        parser.add_argument("--from-battles", type=int, default=0, metavar="N")
        parser.add_argument("--category", default="", help="with --from-battles: only this category")
        parser.add_argument(
            "--generate",
            type=Path,
            metavar="PROMPTS",
            help="a text file with one prompt per line, answered by --models",
        )
        parser.add_argument("--models", default="", help="with --generate: registered model names, comma-separated")

    def handle(self, *args, **options):
        try:
            project = Project.objects.get(slug=options["project"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with the slug {options['project']!r}") from None
        if options["file"]:
            if not options["file"].exists():
                raise CommandError(f"{options['file']} does not exist")
            try:
                report = items_import(project=project, path=options["file"])
            except ItemsError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"{report.read} records read: {report.added} items added, {report.already} already in the project"
            )
        elif options["generate"]:
            if not options["generate"].exists():
                raise CommandError(f"{options['generate']} does not exist")
            names = [n.strip() for n in options["models"].split(",") if n.strip()]
            if not names:
                raise CommandError("--generate needs --models")
            try:
                report = items_generate(
                    project=project, prompts=options["generate"].read_text().splitlines(), model_names=names
                )
            except ItemsError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{report.added} items generated")
            for failure in report.failed[:20]:
                self.stdout.write(f"  not answered: {failure}")
        elif options["from_battles"] > 0:
            added = items_from_battles(project=project, limit=options["from_battles"], category=options["category"])
            self.stdout.write(f"{added} arena battles added as items")
        else:
            raise CommandError("give --file or --from-battles N")
