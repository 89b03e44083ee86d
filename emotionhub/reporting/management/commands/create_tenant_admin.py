"""Create a tenant's admin user: signs in to the admin, the review queue and the dashboards.

The quick start runs it so that its first page is a working sign-in. The user is a
superuser with a membership of the tenant (all scopes): it sees that tenant only. A new
user gets a generated password, printed once and, with ``--password-file``, kept in that
file (mode 600) for the next start; an existing user is left as it is.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from emotionhub.accounts.models import Scope, Tenant, TenantMembership
from emotionhub.reporting.models import Brand

ALL_SCOPES = sorted(Scope.values)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


class Command(BaseCommand):
    help = "Create an admin user who is a member of a tenant with every scope."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", help="tenant slug; created if it does not exist")
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="keep a generated password in this file (mode 600)",
        )

    def handle(self, *args, tenant: str, username: str, password_file: Path | None, **_) -> None:
        with transaction.atomic():
            owner, _created = Tenant.objects.get_or_create(slug=tenant, defaults={"name": tenant})
            user = User.objects.filter(username=username).first()
            password = None
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_superuser(username=username, password=password)
            membership = TenantMembership.objects.filter(user=user).first()
            if membership is None:
                TenantMembership.objects.create(user=user, tenant=owner, scopes=ALL_SCOPES)
            elif membership.tenant_id != owner.pk:
                raise CommandError(
                    f"user {username!r} is a member of tenant {membership.tenant.slug!r}; "
                    "a user belongs to one tenant"
                )
            elif membership.scopes != ALL_SCOPES:
                membership.scopes = ALL_SCOPES
                membership.save(update_fields=["scopes"])
            # A brand without sources or keywords covers the whole tenant: the dashboards
            # have something to show as soon as results arrive.
            if not Brand.objects.filter(tenant=owner).exists():
                Brand.objects.create(tenant=owner, name=f"All of {owner.name}")
        if password is not None:
            if password_file is not None:
                _write_secret(password_file, password)
            self.stdout.write(
                f"user {username!r}, password {password} (new: change it in the admin)"
            )
        elif password_file is not None and password_file.is_file():
            self.stdout.write(f"user {username!r}, password in {password_file}")
        else:
            self.stdout.write(
                f"user {username!r} (existing; `manage.py changepassword {username}` resets it)"
            )
