"""Which tenant's rows a signed-in user may see in the admin and on the dashboards.

A user with a ``TenantMembership`` sees that tenant only, superuser or not. A superuser
without one is an operator and sees every tenant in the admin (dashboards are per tenant,
so they need a membership).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from emotionhub.accounts.models import Tenant

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    # The admin mixins below are only ever mixed into a ModelAdmin; their super() calls
    # reach its methods.
    _AdminBase = ModelAdmin[Any]
else:
    _AdminBase = object

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
    return queryset.filter(**{field: scope.pk})


def export_tenant(user) -> Tenant | None:
    """The tenant whose data an export holds; None means every tenant (operators only)."""
    scope = admin_scope(user)
    return None if scope is ALL_TENANTS else scope


class AccessDenied(PermissionDenied):
    """A refusal a person can act on: what is missing and how to get it (the 403 page
    shows both; see emotionhub.home.views.forbidden)."""

    def __init__(self, reason: str, fix: str, fix_url: str = "", fix_link: str = "") -> None:
        super().__init__(reason)
        self.reason, self.fix, self.fix_url, self.fix_link = reason, fix, fix_url, fix_link


def membership_required(user, what: str) -> AccessDenied:
    """The refusal for a signed-in user without a tenant membership."""
    from django.urls import reverse

    name = user.get_username()
    reason = f"{what} show one tenant's data, and your user {name!r} is not a member of any tenant."
    if getattr(user, "is_superuser", False):
        return AccessDenied(
            reason,
            fix="Add a tenant membership for your user in the admin (Accounts > Tenant "
            "memberships > Add: your user, the tenant, its scopes), or sign in as a member. "
            "The quick start's 'admin' user is a member of the demo tenant; its password is "
            "in var/admin-password.",
            fix_url=reverse("admin:accounts_tenantmembership_add"),
            fix_link="Add a tenant membership",
        )
    return AccessDenied(
        reason,
        fix="Ask an operator of this EmotionHub (a superuser) to add a tenant membership for "
        f"the user {name!r}, or sign in as a member of a tenant.",
    )


def is_operator(user) -> bool:
    """A superuser without a tenant membership: runs the installation, sees every tenant."""
    return admin_scope(user) is ALL_TENANTS


class TenantScopedAdminMixin(_AdminBase):
    """ModelAdmin rows, and the choices of their foreign keys, limited to the user's tenant.

    ``tenant_field`` is the lookup from the model to its tenant ("pk" for Tenant itself). A
    member creating a row gets their own tenant; operators choose freely.
    """

    tenant_field = "tenant"

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, self.tenant_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Tenant:
            kwargs["queryset"] = scope_queryset(Tenant.objects.all(), request.user, "pk")
        elif any(field.name == "tenant" for field in related._meta.get_fields()):
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if any(field.name == "tenant" for field in related._meta.get_fields()):
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_add_permission(self, request, *args) -> bool:
        if self.tenant_field == "pk" and not is_operator(request.user):
            return False  # members do not create tenants
        return super().has_add_permission(request, *args)


class OperatorOnlyAdminMixin(_AdminBase):
    """For models that serve every tenant (workers, permission groups): operators only."""

    def has_module_permission(self, request) -> bool:
        return is_operator(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_operator(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_operator(request.user) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return is_operator(request.user) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_operator(request.user) and super().has_delete_permission(request, obj)


class ReadOnlyAdminMixin:
    """For records of what happened (audit events, label history): never edited by hand."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
