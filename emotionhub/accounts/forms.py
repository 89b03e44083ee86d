"""Admin forms: scopes are picked from checkboxes, not typed as JSON."""

from __future__ import annotations

from django import forms

from emotionhub.accounts.models import ApiKey, Scope, TenantMembership


class ScopesField(forms.TypedMultipleChoiceField):
    """A JSON list of scopes edited as one checkbox per scope; stored sorted."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text", "read: read results; submit: submit media; admin: read the audit log."
        )
        super().__init__(
            choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False, **kwargs
        )

    def prepare_value(self, value):
        return list(value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        return sorted(set(super().clean(value)))


class TenantMembershipForm(forms.ModelForm):
    scopes = ScopesField(label="Scopes")

    class Meta:
        model = TenantMembership
        fields = ("user", "tenant", "scopes")


class ApiKeyForm(forms.ModelForm):
    scopes = ScopesField(label="Scopes")

    class Meta:
        model = ApiKey
        fields = (
            "tenant",
            "name",
            "scopes",
            "expires_at",
            "revoked_at",
            "rate_limit_per_minute",
            "daily_item_quota",
        )
