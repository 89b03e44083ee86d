"""Who is calling: the tenant and scopes behind a request, whichever way it authenticated."""

from __future__ import annotations

import dataclasses

from emotionhub.accounts.models import ApiKey, Tenant


@dataclasses.dataclass(frozen=True)
class Principal:
    tenant: Tenant
    scopes: frozenset[str]
    api_key: ApiKey | None = None


def principal_for(request) -> Principal | None:
    """The caller's tenant and scopes, or None for users that belong to no tenant."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return Principal(auth.tenant, frozenset(auth.scopes), auth)
    user = getattr(request, "user", None)
    membership = getattr(user, "membership", None) if user and user.is_authenticated else None
    if membership is None:
        return None
    return Principal(membership.tenant, frozenset(membership.scopes))
