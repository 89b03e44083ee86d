"""Run the retention purge now (the beat task runs it on a schedule)."""

from django.core.management.base import BaseCommand

from emotionhub.media import retention


class Command(BaseCommand):
    help = (
        "Remove stored files and face data of images and videos older than their tenant's "
        "media_retention_days (labels and reporting facts stay)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--batch-size", type=int, default=retention.DEFAULT_BATCH_SIZE)

    def handle(self, *args, dry_run: bool, batch_size: int, **options) -> None:
        report = retention.purge_expired(dry_run=dry_run, batch_size=batch_size)
        verb = "would purge" if dry_run else "purged"
        for slug, count in report.by_tenant.items():
            self.stdout.write(f"{slug}: {verb} {count} media")
        summary = f"{verb} {report.media} media"
        if not dry_run:
            summary += (
                f", removed {report.files} files, stripped face data from "
                f"{report.results_stripped} results, cancelled {report.jobs_cancelled} jobs"
            )
        self.stdout.write(summary)
