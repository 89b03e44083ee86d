"""Builders for results as the analyzers write them, and signed-in reviewers."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image

from emotionhub.accounts.models import Tenant, TenantMembership
from emotionhub.jobs.models import AnalysisResult
from emotionhub.media.models import Media
from emotionhub.social.models import Post, Source

FACE_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def face(box, label: str, confidence: float) -> dict:
    rest = (1.0 - confidence) / (len(FACE_CLASSES) - 1)
    emotions = {c: (confidence if c == label else rest) for c in FACE_CLASSES}
    return {
        "box": list(box),
        "score": 0.99,
        "landmarks": None,
        "emotions": emotions,
        "label": label,
        "confidence": confidence,
        "uncertain": confidence < 0.5,
    }


def face_payload(faces: list[dict], width: int = 200, height: int = 100) -> dict:
    return {
        "faces": faces,
        "face_count": len(faces),
        "detector": "haar",
        "model": "mini_xception",
        "image": {"width": width, "height": height},
    }


def text_payload(label: str | None, score: float | None, confidence: float = 0.9) -> dict:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    if label:
        probs[label] = 0.8
    return {
        "scored": label is not None,
        "label": label,
        "score": score,
        "confidence": confidence if label else None,
        "uncertain": False,
        "sentiment": probs,
        "emotion": {"anger": 0.1, "joy": 0.7, "optimism": 0.1, "sadness": 0.1},
        "emotion_label": "joy",
        "language": {"code": "en", "confidence": 0.99, "reliable": True},
        "input": {
            "chars": 10,
            "tokens": 3,
            "max_tokens": 128,
            "truncated": False,
            "urls": 0,
            "mentions": 0,
        },
    }


def image_sentiment_payload(label: str, score: float, disagreement: bool) -> dict:
    return {
        "scored": True,
        "label": label,
        "score": score,
        "disagreement": disagreement,
        "components": [],
        "face_count": 0,
        "ocr": None,
        "image": {"width": 200, "height": 100},
    }


def striped_image(width: int = 200, height: int = 100) -> bytes:
    """Left half red, right half blue: a crop's colour shows which box it came from."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_source(tenant: Tenant, name: str) -> Source:
    return Source.objects.create(tenant=tenant, kind="webhook", name=name)


def make_post(source: Source, text: str, posted_at: dt.datetime | None = None) -> Post:
    return Post.objects.create(
        tenant=source.tenant,
        source=source,
        external_id=uuid.uuid4().hex,
        text=text,
        posted_at=posted_at,
        url="https://example.org/p",
    )


def make_media(
    tenant: Tenant,
    kind: str = "text",
    text: str = "",
    image: bytes | None = None,
    post: Post | None = None,
) -> Media:
    data = image if image is not None else text.encode()
    media = Media(
        tenant=tenant,
        kind=kind,
        text=text,
        mime="image/png" if kind == "image" else "text/plain",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        source_post=post,
    )
    if image is not None:
        with Image.open(io.BytesIO(image)) as decoded:
            media.width, media.height = decoded.size
        media.file.save("upload.png", ContentFile(image), save=False)
    media.save()
    return media


def make_result(
    media: Media,
    analyzer: str,
    payload: dict,
    model_version: str = "m1",
    created_at: dt.datetime | None = None,
) -> AnalysisResult:
    result = AnalysisResult.objects.create(
        tenant=media.tenant,
        media=media,
        analyzer=analyzer,
        analyzer_version="1",
        model_version=model_version,
        payload=payload,
        device="cpu",
        duration_ms=1.0,
    )
    if created_at is not None:
        AnalysisResult.objects.filter(pk=result.pk).update(created_at=created_at)
        result.refresh_from_db()
    return result


def make_reviewer(tenant: Tenant, username: str) -> User:
    """A staff user of ``tenant`` allowed to review and to manage brands."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    TenantMembership.objects.create(user=user, tenant=tenant, scopes=["read", "submit"])
    codenames = [
        "view_reviewitem",
        "change_reviewitem",
        "view_reviewlabel",
        "view_brand",
        "add_brand",
        "change_brand",
    ]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.create(name="Alpha", slug="alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.create(name="Beta", slug="beta")
