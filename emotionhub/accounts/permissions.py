"""Every API view needs a tenant; writes need the ``submit`` scope, reads ``read``."""

from rest_framework import permissions

from emotionhub.accounts.models import Scope
from emotionhub.accounts.principal import principal_for


class HasTenantScope(permissions.BasePermission):
    message = "Your credentials lack the scope this request needs."

    def has_permission(self, request, view) -> bool:
        principal = principal_for(request)
        if principal is None:
            return False
        required = getattr(view, "required_scopes", None)
        if required is None:
            safe = request.method in permissions.SAFE_METHODS
            required = {Scope.READ} if safe else {Scope.SUBMIT}
        return Scope.ADMIN in principal.scopes or set(required) <= principal.scopes
