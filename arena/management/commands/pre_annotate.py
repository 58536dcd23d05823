"""Let a registered model judge a project's items (both candidate orders), as the Celery task does."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Project
from arena.pre_annotation import JudgeError, project_pre_annotate


class Command(BaseCommand):
    help = "AI pre-annotation: MODEL judges up to --limit items of PROJECT in both orders."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--model", required=True, help="a registered model's name (Arena › Arena models)")
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args, **options):
        try:
            project = Project.objects.get(slug=options["project"])
            report = project_pre_annotate(project=project, model_name=options["model"], limit=options["limit"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with the slug {options['project']!r}") from None
        except JudgeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{report.judged} items judged ({report.disagreed} where the two orders disagreed, "
            f"now routed to humans first); {report.failed} without a verdict"
        )
