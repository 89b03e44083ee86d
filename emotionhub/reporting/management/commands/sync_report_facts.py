from django.core.management.base import BaseCommand

from emotionhub.reporting import facts


class Command(BaseCommand):
    help = "Fill the reporting fact table from analysis results (--full: every result)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="look at every result")

    def handle(self, *args, full: bool = False, **options) -> None:
        created = facts.sync(full=full)
        self.stdout.write(f"{created} facts created")
