"""Django form JSON fields with the API's nesting limit (:mod:`.jsonlimits`).

``forms.JSONField`` calls ``json.loads`` on what was typed, and again to show it back, and
catches only ``JSONDecodeError``: ten thousand ``[`` in an admin form was a RecursionError
(a 500) where the API answers 400. Every admin JSON field uses this one instead
(:class:`DepthLimitedJSONAdminMixin`), so the same document is a form error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.db import models
from django.forms.fields import InvalidJSONInput

from emotionhub.core.jsonlimits import JsonTooDeep, check_depth


class DepthLimitedJSONFormField(forms.JSONField):
    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not self.disabled:
            try:
                check_depth(value)
            except JsonTooDeep as exc:
                raise forms.ValidationError(str(exc), code="invalid") from None
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        """Shown back as typed, as an unparsable document is."""
        if isinstance(data, str) and not self.disabled:
            try:
                check_depth(data)
            except JsonTooDeep:
                return InvalidJSONInput(data)
        return super().bound_data(data, initial)


class DepthLimitedJSONAdminMixin:
    """For a ModelAdmin or inline: its model JSON fields get :class:`DepthLimitedJSONFormField`."""

    formfield_overrides: ClassVar[Mapping[type[models.Field], Mapping[str, Any]]] = {
        models.JSONField: {"form_class": DepthLimitedJSONFormField},
    }
