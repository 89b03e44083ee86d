"""The review queue: filters, labelling with history, bulk actions, exports, isolation."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from PIL import Image

from emotionhub.review.models import ReviewLabel
from tests.reporting.conftest import (
    face,
    face_payload,
    image_sentiment_payload,
    make_media,
    make_post,
    make_result,
    make_reviewer,
    make_source,
    signed_in,
    striped_image,
    text_payload,
)

pytestmark = pytest.mark.django_db
QUEUE = "/admin/review/reviewitem/"


@pytest.fixture
def faces_result(tenant_a):
    media = make_media(tenant_a, "image", image=striped_image())
    payload = face_payload(
        [face((10, 20, 60, 80), "happy", 0.9), face((120, 10, 190, 90), "sad", 0.4)]
    )
    return make_result(media, "facial_emotion", payload)


@pytest.fixture
def text_result(tenant_a):
    post = make_post(make_source(tenant_a, "Mentions"), "love the new phone")
    media = make_media(tenant_a, "text", text="love the\nnew phone", post=post)
    return make_result(media, "text_sentiment", text_payload("positive", 0.7))


def review(client, result, **labels):
    data = {f"label-{target}": label for target, label in labels.items()}
    return client.post(f"{QUEUE}{result.pk}/change/", data)


def test_queue_lists_and_filters_results(tenant_a, faces_result, text_result):
    media = make_media(tenant_a, "image", image=striped_image())
    make_result(media, "image_sentiment", image_sentiment_payload("negative", -0.5, True))
    client = signed_in(make_reviewer(tenant_a, "rev"))
    page = client.get(QUEUE)
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3
    only = {
        "analyzer": "text_sentiment",
        "label": "positive",
        "confidence": "high",
        "disagree": "0",
    }
    for key, value in only.items():
        assert (
            client.get(QUEUE, {key: value}).context["cl"].result_count
            == ({"analyzer": 1, "label": 1, "confidence": 1, "disagree": 2}[key])
        ), key
    assert client.get(QUEUE, {"disagree": "1"}).context["cl"].result_count == 1
    assert client.get(QUEUE, {"confidence": "low"}).context["cl"].result_count == 1  # min face
    source = text_result.media.source_post.source
    assert client.get(QUEUE, {"source": str(source.pk)}).context["cl"].result_count == 1
    assert client.get(QUEUE, {"source": "none"}).context["cl"].result_count == 2


def test_review_page_draws_faces_and_probabilities(tenant_a, faces_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    page = client.get(f"{QUEUE}{faces_result.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('class="face-box"') == 2
    assert 'x="120.0" y="10.0" width="70.0" height="80.0"' in html
    assert "1: happy" in html and "2: sad" in html
    assert 'name="label-face:1" value="sad" checked' in html
    assert "0.900" in html  # the happy face's probability
    image = client.get(f"/reporting/media/{faces_result.media_id}/image?size=100")
    assert image["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (100, 50)


def test_correcting_a_label_keeps_history(tenant_a, faces_result):
    user = make_reviewer(tenant_a, "rev")
    client = signed_in(user)
    assert review(client, faces_result, **{"face:0": "happy", "face:1": "sad"}).status_code == 302
    assert review(client, faces_result, **{"face:1": "angry"}).status_code == 302
    labels = ReviewLabel.objects.filter(result=faces_result, target="face:1").order_by("id")
    assert [(x.model_label, x.reviewed_label, x.current) for x in labels] == [
        ("sad", "sad", False),
        ("sad", "angry", True),
    ]
    assert all(x.reviewer == user for x in labels)
    assert (
        ReviewLabel.objects.get(result=faces_result, target="face:0", current=True).reviewed_label
        == "happy"
    )
    page = client.get(f"{QUEUE}{faces_result.pk}/change/").content.decode()
    assert "reviewed: angry by rev" in page


def test_invalid_labels_are_refused(tenant_a, faces_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    response = review(client, faces_result, **{"face:0": "ecstatic"})
    assert response.status_code == 302 and response.url.endswith("/change/")
    assert not ReviewLabel.objects.exists()
    messages = [str(m) for m in client.get(response.url).context["messages"]]
    assert any("'ecstatic' is not a label of face:0" in m for m in messages)


def test_bulk_actions(tenant_a, faces_result, text_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    ids = [str(faces_result.pk), str(text_result.pk)]
    client.post(QUEUE, {"action": "label_negative", "_selected_action": ids})
    assert list(ReviewLabel.objects.values_list("target", "reviewed_label")) == [
        ("post", "negative")
    ]
    client.post(QUEUE, {"action": "accept_model_labels", "_selected_action": ids})
    current = dict(ReviewLabel.objects.filter(current=True).values_list("target", "reviewed_label"))
    # Accepting leaves the reviewed post alone and confirms both faces.
    assert current == {"post": "negative", "face:0": "happy", "face:1": "sad"}
    assert client.get(QUEUE, {"reviewed": "0"}).context["cl"].result_count == 0
    assert client.get(QUEUE, {"reviewed": "corrected"}).context["cl"].result_count == 1


def test_exports(tenant_a, faces_result, text_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    review(client, faces_result, **{"face:0": "surprise", "face:1": "sad"})
    review(client, text_result, post="neutral")
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"{QUEUE}export/labels.csv").content.decode()))
    )
    assert sorted(
        (r["target"], r["model_label"], r["reviewed_label"], r["corrected"]) for r in rows
    ) == [
        ("face:0", "happy", "surprise", "1"),
        ("face:1", "sad", "sad", "0"),
        ("post", "positive", "neutral", "1"),
    ]
    assert {r["reviewer"] for r in rows} == {"rev"}

    faces = zipfile.ZipFile(
        io.BytesIO(b"".join(client.get(f"{QUEUE}export/faces.zip").streaming_content))
    )
    names = sorted(faces.namelist())
    assert names == [f"sad/{faces_result.pk}_1.jpg", f"surprise/{faces_result.pk}_0.jpg"]
    left = Image.open(faces.open(names[1]))
    right = Image.open(faces.open(names[0]))
    assert left.size == (50, 60) and right.size == (70, 80)
    assert left.getpixel((25, 30))[0] > 150  # cut from the red half
    assert right.getpixel((35, 40))[2] > 150  # and from the blue half

    text = zipfile.ZipFile(io.BytesIO(client.get(f"{QUEUE}export/text.zip").content))
    assert text.read("text.txt").decode() == "love the new phone\n"
    assert text.read("labels.txt").decode() == "1\n"


def test_second_tenant_sees_nothing_of_the_first(tenant_a, tenant_b, faces_result, text_result):
    signed_in(make_reviewer(tenant_a, "alice")).post(
        f"{QUEUE}{text_result.pk}/change/", {"label-post": "negative"}
    )
    bob = signed_in(make_reviewer(tenant_b, "bob"))
    assert bob.get(QUEUE).context["cl"].result_count == 0
    assert bob.get(f"{QUEUE}{faces_result.pk}/change/").status_code == 302  # "does not exist"
    assert (
        bob.post(f"{QUEUE}{text_result.pk}/change/", {"label-post": "positive"}).status_code == 302
    )
    assert ReviewLabel.objects.get().reviewed_label == "negative"
    assert bob.get("/admin/review/reviewlabel/").context["cl"].result_count == 0
    rows = bob.get(f"{QUEUE}export/labels.csv").content.decode().strip().splitlines()
    assert len(rows) == 1  # the header only
    assert (
        zipfile.ZipFile(io.BytesIO(bob.get(f"{QUEUE}export/text.zip").content)).read("labels.txt")
        == b""
    )
    assert bob.get(f"/reporting/media/{faces_result.media_id}/image").status_code == 404
    assert "No reviewed labels yet" in bob.get(f"{QUEUE}agreement/").content.decode()


def test_users_without_review_permission_cannot_label(tenant_a, text_result):
    user = make_reviewer(tenant_a, "viewer")
    user.user_permissions.remove(*user.user_permissions.filter(codename="change_reviewitem"))
    client = signed_in(user)
    assert client.get(f"{QUEUE}{text_result.pk}/change/").status_code == 200
    assert review(client, text_result, post="negative").status_code == 404
    assert not ReviewLabel.objects.exists()
