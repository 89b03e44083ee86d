"""The admin shows a tenant's staff only their tenant's rows, on every registered model.

Every ModelAdmin on the site is enumerated: a model of tenant data must be scoped (checked
by listing and opening Bob's rows as Alice's staff), and any other model must be in
``NOT_TENANT_DATA`` with a reason, so a new admin cannot slip through unscoped.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from emotionhub.accounts.models import ApiKey, TenantMembership
from emotionhub.audit import Action, record
from emotionhub.jobs.models import AnalysisJob
from emotionhub.reporting.models import Alert, Brand
from emotionhub.review.models import ReviewLabel
from emotionhub.social import schedules
from emotionhub.social.models import FeedbackImport, RunTrigger, Source, SourceRun
from tests.conftest import png_bytes, upload
from tests.reporting.conftest import make_post, make_result, signed_in

pytestmark = pytest.mark.django_db

# Registered models that hold no tenant's data; operators only where noted.
NOT_TENANT_DATA = {
    "auth.group",  # permissions across tenants: operators only
    "jobs.workerheartbeat",  # workers serve every tenant: operators only
    "django_celery_beat.clockedschedule",  # shared schedule definitions
    "django_celery_beat.crontabschedule",
    "django_celery_beat.intervalschedule",
    "django_celery_beat.solarschedule",
}
OPERATOR_ONLY = {"auth.group", "jobs.workerheartbeat"}


def tenant_lookup(model_admin) -> str | None:
    """How the admin's model reaches its tenant, or None for non-tenant data."""
    model = model_admin.model
    if model._meta.label_lower in NOT_TENANT_DATA:
        return None
    lookup = getattr(model_admin, "tenant_field", None)
    if lookup:
        return lookup
    names = {field.name for field in model._meta.get_fields()}
    assert "tenant" in names, f"{model._meta.label}: add it to NOT_TENANT_DATA or scope it"
    return "tenant"


@pytest.fixture
def bobs_world(bob):
    """At least one row of Bob's for every model of tenant data in the admin."""
    body = bob.submit(files=[upload("b.png", png_bytes())], analyzers="example").json()
    media_id = body["items"][0]["id"]
    job = AnalysisJob.objects.get(media_id=media_id)
    result = make_result(job.media, "text_sentiment", {"label": "positive"})
    source = Source.objects.create(
        tenant=bob.tenant, kind="rss", name="Bob feed", config={"url": "https://e.org/f"}
    )
    source.periodic_task = schedules.sync_schedule(source)
    source.save()
    make_post(source, "bob's post")
    import_source = Source.objects.create(tenant=bob.tenant, kind="import", name="Bob survey")
    FeedbackImport.objects.create(
        tenant=bob.tenant,
        source=import_source,
        file="imports/bob.csv",
        format="csv",
        mapping={"text": "comment"},
    )
    SourceRun.objects.create(tenant=bob.tenant, source=source, trigger=RunTrigger.MANUAL)
    brand = Brand.objects.create(tenant=bob.tenant, name="BobBrand")
    Alert.objects.create(
        tenant=bob.tenant,
        brand=brand,
        kind="volume",
        direction="up",
        window_end=timezone.now(),
        value=2.0,
        baseline=1.0,
        message="up",
    )
    ReviewLabel.objects.create(
        tenant=bob.tenant, result=result, target="post", reviewed_label="negative"
    )
    bob_user = User.objects.create_user("bob-staff", is_staff=True)
    TenantMembership.objects.create(user=bob_user, tenant=bob.tenant, scopes=["read"])
    record(Action.VIEW, tenant=bob.tenant, obj_type="media", obj_id=media_id)
    return bob


@pytest.fixture
def alice_staff(alice):
    """Alice's most privileged staff: a superuser, yet a member of her tenant."""
    user = User.objects.create_superuser("alice-admin", password="pw")
    TenantMembership.objects.create(user=user, tenant=alice.tenant, scopes=["admin"])
    return signed_in(user)


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(model, pk) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


@pytest.mark.parametrize(
    "model_admin", [m for _, m in registered()], ids=[m._meta.label for m, _ in registered()]
)
def test_staff_of_one_tenant_see_only_its_rows(alice, bobs_world, alice_staff, model_admin):
    model = model_admin.model
    label = model._meta.label_lower
    if label in OPERATOR_ONLY:
        assert alice_staff.get(changelist_url(model)).status_code == 403
        return
    lookup = tenant_lookup(model_admin)
    if lookup is None:
        return
    manager = model._default_manager
    bobs = manager.filter(**{lookup: bobs_world.tenant.pk})
    assert bobs.exists(), f"the fixture makes no {label} row for Bob"
    response = alice_staff.get(changelist_url(model))
    assert response.status_code == 200, label
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert not shown & set(bobs.values_list("pk", flat=True)), label
    assert shown == set(manager.filter(**{lookup: alice.tenant.pk}).values_list("pk", flat=True))
    # Bob's row is "not found" for Alice (the admin redirects with a message).
    response = alice_staff.get(change_url(model, bobs.first().pk))
    assert response.status_code == 302, label
    assert response["Location"] == reverse("admin:index")


def test_an_operator_sees_every_tenant(alice, bobs_world):
    operator = signed_in(User.objects.create_superuser("operator", password="pw"))
    response = operator.get(changelist_url(ApiKey))
    tenants = {key.tenant_id for key in response.context["cl"].result_list}
    assert tenants == {alice.tenant.pk, bobs_world.tenant.pk}


def test_foreign_key_choices_offer_only_the_members_tenant(alice, bobs_world, alice_staff):
    response = alice_staff.get(reverse("admin:social_source_add"))
    choices = {str(pk) for pk, _ in response.context["adminform"].form.fields["tenant"].choices}
    assert str(alice.tenant.pk) in choices and str(bobs_world.tenant.pk) not in choices


def test_members_cannot_become_operators(alice, bobs_world, alice_staff):
    membership = TenantMembership.objects.get(user__username="alice-admin")
    response = alice_staff.post(
        reverse("admin:accounts_tenantmembership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert TenantMembership.objects.filter(pk=membership.pk).exists()
    user = User.objects.get(username="alice-admin")
    form = alice_staff.get(change_url(User, user.pk)).context["adminform"]
    assert "is_superuser" in form.readonly_fields
