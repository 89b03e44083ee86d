"""Admin forms refuse JSON nested past the API's limit with a form error, not a 500
(``json.loads`` recursing ten thousand levels): every JSON field of every registered
admin form is the depth-limited one, and real admin POSTs by a tenant's staff show the
error and write nothing."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from emotionhub.accounts.models import TenantMembership
from emotionhub.core.jsonforms import DepthLimitedJSONFormField
from emotionhub.core.jsonlimits import MAX_JSON_DEPTH
from emotionhub.reporting.models import Brand
from emotionhub.social.models import FeedbackImport, Source
from tests.reporting.conftest import signed_in
from tests.social.conftest import make_source

pytestmark = pytest.mark.django_db
DEEP = "[" * 10_000 + "]" * 10_000
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


@pytest.fixture
def alice_staff(alice):
    user = User.objects.create_superuser("alice-admin", password="pw")
    TenantMembership.objects.create(user=user, tenant=alice.tenant, scopes=["admin"])
    return signed_in(user)


def admin_json_fields():
    """(admin, field name, form field) for every JSON field of every admin form."""
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True)
    for model_admin in admin.site._registry.values():
        forms_of = [model_admin.get_form(request)]
        forms_of += [
            inline(model_admin.model, admin.site).get_formset(request).form
            for inline in model_admin.inlines
        ]
        for form in forms_of:
            for name, field in form.base_fields.items():
                if isinstance(field, forms.JSONField):
                    yield type(model_admin).__name__, name, field


def test_every_admin_json_field_is_depth_limited():
    fields = list(admin_json_fields())
    names = {(admin_name, name) for admin_name, name, _ in fields}
    assert {("SourceAdmin", "analyzer_settings"), ("BrandAdmin", "keywords")} <= names
    plain = [(a, n) for a, n, field in fields if not isinstance(field, DepthLimitedJSONFormField)]
    assert not plain, f"use DepthLimitedJSONAdminMixin: {plain}"


def change_form_data(page) -> dict:
    """What the admin's change page would post back: the form's values and the inline
    formsets' management forms."""
    form = page.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management[name].html_name] = management[name].value()
    return data


def test_deep_analyzer_settings_in_the_source_admin_is_a_form_error(alice, alice_staff):
    source = make_source(alice.tenant, "rss", {"url": "https://example.com/feed.xml"})
    url = reverse("admin:social_source_change", args=[source.pk])
    page = alice_staff.get(url)
    assert page.status_code == 200
    data = {**change_form_data(page), "analyzer_settings": DEEP, "name": "renamed"}
    response = alice_staff.post(url, data)
    assert response.status_code == 200, response.content[:500]
    assert response.context["adminform"].form.errors["analyzer_settings"] == [TOO_DEEP]
    source.refresh_from_db()
    assert (source.name, source.analyzer_settings) == ("rss source", {})
    # The same form with a normal value saves.
    data["analyzer_settings"] = json.dumps({"text_length": {}})
    assert alice_staff.post(url, data).status_code == 302
    source.refresh_from_db()
    assert (source.name, source.analyzer_settings) == ("renamed", {"text_length": {}})


def test_deep_keywords_in_the_brand_admin_is_a_form_error(alice_staff):
    url = reverse("admin:reporting_brand_add")
    data = {
        "name": "Launch",
        "keywords": DEEP,
        "alert_emails": "[]",
        "baseline_days": "7",
        "volume_change": "1.0",
        "sentiment_change": "0.3",
        "min_volume": "20",
    }
    response = alice_staff.post(url, data)
    assert response.status_code == 200, response.content[:500]
    assert response.context["adminform"].form.errors["keywords"] == [TOO_DEEP]
    assert not Brand.objects.exists()


def test_deep_mapping_in_the_feedback_import_upload_is_a_form_error(alice, alice_staff):
    source = make_source(alice.tenant, "import", {})
    response = alice_staff.post(
        "/admin/social/feedbackimport/add/",
        {
            "mapping": DEEP,
            "source": str(source.pk),
            "file": SimpleUploadedFile("s.csv", b"comment\nhello\n"),
        },
    )
    assert response.status_code == 200, response.content[:500]
    assert response.context["form"].errors["mapping"] == [TOO_DEEP]
    assert not FeedbackImport.objects.exists()
    assert Source.objects.count() == 1
