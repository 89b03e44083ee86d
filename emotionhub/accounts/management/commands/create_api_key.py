"""Issue an API key for a tenant (created if missing) and print it once."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from emotionhub.accounts.models import AnalysisPurpose, ApiKey, Scope, Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant and print the raw key (shown only once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", help="tenant slug; created if it does not exist")
        parser.add_argument("--name", default="default")
        parser.add_argument("--scopes", default="read,submit", help="comma-separated")
        parser.add_argument(
            "--purpose",
            choices=AnalysisPurpose.values,
            help="declare (or change) the tenant's analysis purpose; a new tenant without "
            "it is 'undeclared', which refuses face emotion analyzers "
            "(docs/responsible-use.md). The quick start declares customer_feedback.",
        )

    def handle(
        self, *args, tenant: str, name: str, scopes: str, purpose: str | None = None, **options
    ) -> None:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = set(wanted) - set(Scope.values)
        if unknown:
            raise CommandError(f"unknown scopes {sorted(unknown)}; use {Scope.values}")
        with transaction.atomic():
            owner, _ = Tenant.objects.get_or_create(slug=tenant, defaults={"name": tenant})
            if purpose and owner.purpose != purpose:
                owner.purpose = purpose
                owner.save(update_fields=["purpose"])
            _, raw_key = ApiKey.issue(owner, name, wanted)
        if owner.purpose == AnalysisPurpose.UNDECLARED:
            self.stderr.write(
                f"Tenant {owner.slug!r} has no declared purpose: face emotion analyzers are "
                "refused (purpose_undeclared) until one is set with --purpose or the admin."
            )
        self.stdout.write(raw_key)
