"""emotionhub.audit.record: what it stores, and its failure policy."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.test import RequestFactory

from emotionhub.audit import Action, record
from emotionhub.audit.models import AuditEvent


def test_record_stores_actor_target_and_request_fields(alice):
    request = RequestFactory().get(
        "/api/v1/media", HTTP_USER_AGENT="curl/8", REMOTE_ADDR="203.0.113.9"
    )
    request.user = User.objects.create_user("carol")
    event = record(
        Action.PURGE,
        tenant=alice.tenant,
        actor_key=alice.key,
        obj_type="media",
        obj_id="abc",
        count=3,
        details={"reason": "retention"},
        request=request,
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.tenant, stored.actor_key, stored.actor_user.username) == (
        alice.tenant,
        alice.key,
        "carol",
    )
    assert stored.actor == f"carol / key {alice.key.prefix}"
    assert (stored.action, stored.obj_type, stored.obj_id, stored.count) == (
        "purge",
        "media",
        "abc",
        3,
    )
    assert stored.details == {"reason": "retention"}
    assert (stored.ip, stored.user_agent, stored.method, stored.path) == (
        "203.0.113.9",
        "curl/8",
        "GET",
        "/api/v1/media",
    )


def test_record_without_request_or_actor(alice):
    event = record("delete", tenant=alice.tenant.pk, obj_type="tenant", obj_id=alice.tenant.pk)
    assert event.actor == "" and event.ip is None and event.tenant_id == alice.tenant.pk


def test_unknown_action_is_a_programming_error(alice):
    with pytest.raises(ValueError):
        record("viewed", tenant=alice.tenant, obj_type="media")
    assert not AuditEvent.objects.exists()


def test_strict_failure_raises_and_rolls_back_with_the_caller(alice):
    with pytest.raises(TypeError), transaction.atomic():
        record("export", tenant=alice.tenant, obj_type="x" * 10, details={"bad": object()})
    assert not AuditEvent.objects.exists()


def test_lenient_failure_is_logged_and_the_caller_transaction_survives(alice, caplog):
    with transaction.atomic():
        lost = record(
            "view", tenant=alice.tenant, obj_type="media", details={1: object()}, strict=False
        )
        kept = record("view", tenant=alice.tenant, obj_type="media")
    assert lost is None and AuditEvent.objects.get().pk == kept.pk
    assert "audit event lost" in caplog.text


def test_forwarded_for_is_believed_only_for_trusted_hops(alice, settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    request.user = AnonymousUser()
    assert record("view", tenant=alice.tenant, obj_type="m", request=request).ip == "10.0.0.2"
    settings.EMOTIONHUB_TRUSTED_PROXY_HOPS = 1
    assert record("view", tenant=alice.tenant, obj_type="m", request=request).ip == "198.51.100.7"
