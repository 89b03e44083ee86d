"""Issue an API key for a tenant (created if missing) and print it once."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from emotionhub.accounts.models import ApiKey, Scope, Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant and print the raw key (shown only once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", help="tenant slug; created if it does not exist")
        parser.add_argument("--name", default="default")
        parser.add_argument("--scopes", default="read,submit", help="comma-separated")

    def handle(self, *args, tenant: str, name: str, scopes: str, **options) -> None:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = set(wanted) - set(Scope.values)
        if unknown:
            raise CommandError(f"unknown scopes {sorted(unknown)}; use {Scope.values}")
        with transaction.atomic():
            owner, _ = Tenant.objects.get_or_create(slug=tenant, defaults={"name": tenant})
            _, raw_key = ApiKey.issue(owner, name, wanted)
        self.stdout.write(raw_key)
