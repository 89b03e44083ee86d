"""Reviewing a video's face tracks (Django test client, a real video, the real analyzer):
keyframe thumbnails cut from the stored video, the track's place on the timeline, a
corrected label or "not a face", the corrections exported as training crops and counted
in the agreement report."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image

from emotionhub.review.models import ReviewLabel
from emotionhub.review.targets import NOT_A_FACE
from tests.first_hour.video import analysed_video
from tests.reporting.conftest import make_reviewer, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(tenant_a, tmp_path):
    return analysed_video(tenant_a, tmp_path)


def test_the_review_page_shows_each_track_with_keyframes_and_its_timeline(tenant_a, video):
    _, result = video
    client = signed_in(make_reviewer(tenant_a, "rev"))
    (track,) = result.payload["tracks"]
    page = client.get(f"/admin/review/reviewitem/{result.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Nothing to review" not in html
    assert 'name="label-track:1"' in html
    assert f'value="{NOT_A_FACE}"' in html
    assert 'class="track-lane" data-target="track:1"' in html
    assert "seen from 0.0 s to 2.5 s" in html
    # 0 to 2.5 s of a 5 s video: the lane starts at the left and spans half of it.
    assert re.search(r'class="track-span" style="left: 0(\.0)?%; width: 50(\.0)?%"', html)
    urls = re.findall(r'class="keyframe" src="([^"]+)"', html)
    assert len(urls) == len(track["keyframes"]) == 4

    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
        thumb = Image.open(io.BytesIO(answer.content))
        assert max(thumb.size) <= 160 and min(thumb.size) > 16
        # A face, not a black frame: the crop has detail.
        assert max(thumb.convert("L").getextrema()) - min(thumb.convert("L").getextrema()) > 60


def test_another_tenant_cannot_see_the_keyframes(tenant_a, tenant_b, video):
    _, result = video
    outsider = signed_in(make_reviewer(tenant_b, "other"))
    assert (
        outsider.get(f"/admin/review/reviewitem/{result.pk}/keyframe/track:1/0.jpg").status_code
        == 404
    )
    insider = signed_in(make_reviewer(tenant_a, "rev"))
    assert (
        insider.get(f"/admin/review/reviewitem/{result.pk}/keyframe/track:1/9.jpg").status_code
        == 404
    )
    assert (
        insider.get(f"/admin/review/reviewitem/{result.pk}/keyframe/track:7/0.jpg").status_code
        == 404
    )


def test_a_corrected_track_becomes_training_crops_and_counts_in_agreement(tenant_a, video):
    _, result = video
    client = signed_in(make_reviewer(tenant_a, "rev"))
    model_label = result.payload["tracks"][0]["label"]
    corrected = "sad" if model_label != "sad" else "angry"
    answer = client.post(
        f"/admin/review/reviewitem/{result.pk}/change/",
        {"label-track:1": corrected, "_stay": "1"},
    )
    assert answer.status_code == 302
    label = ReviewLabel.objects.get(result=result, current=True)
    assert (label.target, label.model_label, label.reviewed_label) == (
        "track:1",
        model_label,
        corrected,
    )

    export = client.get("/admin/review/reviewitem/export/faces.zip")
    with zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content))) as archive:
        names = sorted(archive.namelist())
        assert names == [f"{corrected}/{result.pk}_track1_{k}.jpg" for k in range(4)]
        crop = Image.open(io.BytesIO(archive.read(names[0])))
        assert min(crop.size) >= 20

    report = client.get("/admin/review/reviewitem/agreement/").content.decode()
    assert "facial_emotion" in report

    # Marked as not a face: a detector error, left out of the expression crops.
    client.post(
        f"/admin/review/reviewitem/{result.pk}/change/",
        {"label-track:1": NOT_A_FACE, "_stay": "1"},
    )
    export = client.get("/admin/review/reviewitem/export/faces.zip")
    with zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content))) as archive:
        assert archive.namelist() == []
    assert ReviewLabel.objects.filter(result=result).count() == 2  # history kept
