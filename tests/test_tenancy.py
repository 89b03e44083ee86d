"""Another tenant's submissions, media, jobs and results are invisible on every endpoint."""

import pytest
from django.utils import timezone

from tests.conftest import submit_with_result


@pytest.fixture
def bobs_objects(bob):
    body, job, result = submit_with_result(bob)
    media_id = body["items"][0]["id"]
    job.status, job.finished_at = "succeeded", timezone.now()
    job.save()
    return {"submissions": body["id"], "media": media_id, "jobs": job.pk, "results": result.pk}


@pytest.mark.parametrize("resource", ["submissions", "media", "jobs", "results"])
def test_detail_is_404_for_other_tenant(alice, bob, bobs_objects, resource):
    url = f"/api/v1/{resource}/{bobs_objects[resource]}"
    assert bob.client.get(url).status_code == 200
    response = alice.client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("resource", ["submissions", "media", "jobs", "results"])
def test_lists_hide_other_tenant(alice, bob, bobs_objects, resource):
    assert bob.client.get(f"/api/v1/{resource}").json()["count"] == 1
    assert alice.client.get(f"/api/v1/{resource}").json()["count"] == 0
    filtered = alice.client.get("/api/v1/jobs", {"media": bobs_objects["media"]}).json()
    assert filtered["count"] == 0


def test_writes_on_other_tenant_objects_are_404(alice, bob, bobs_objects):
    assert alice.client.delete(f"/api/v1/media/{bobs_objects['media']}").status_code == 404
    assert alice.client.post(f"/api/v1/jobs/{bobs_objects['jobs']}/cancel").status_code == 404
    assert bob.client.get(f"/api/v1/media/{bobs_objects['media']}").status_code == 200
