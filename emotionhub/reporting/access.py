"""Which tenant's rows a signed-in user may see in the admin and on the dashboards.

A user with a ``TenantMembership`` sees that tenant only, superuser or not. A superuser
without one is an operator and sees every tenant in the admin (dashboards are per tenant,
so they need a membership).
"""

from __future__ import annotations

from django.db.models import QuerySet

from emotionhub.accounts.models import Tenant

ALL_TENANTS = object()


def membership_tenant(user) -> Tenant | None:
    if not getattr(user, "is_authenticated", False):
        return None
    membership = getattr(user, "membership", None)
    return membership.tenant if membership is not None else None


def admin_scope(user):
    """A Tenant, ``ALL_TENANTS`` for operators, or None (sees nothing)."""
    tenant = membership_tenant(user)
    if tenant is not None:
        return tenant
    return ALL_TENANTS if getattr(user, "is_superuser", False) else None


def scope_queryset(queryset: QuerySet, user, field: str = "tenant") -> QuerySet:
    scope = admin_scope(user)
    if scope is ALL_TENANTS:
        return queryset
    if scope is None:
        return queryset.none()
    return queryset.filter(**{field: scope})


def export_tenant(user) -> Tenant | None:
    """The tenant whose data an export holds; None means every tenant (operators only)."""
    scope = admin_scope(user)
    return None if scope is ALL_TENANTS else scope
