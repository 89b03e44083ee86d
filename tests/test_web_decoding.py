"""Bounds on image decoding in the web process: a submission whose validation runs past
its deadline, or waits past it for one of the process's decode slots, is a JSON 503
``validation_timeout`` with nothing written (before: it ran on until gunicorn's timeout
answered with an HTML 500); a small PNG declaring many pixels is checked and cleaned
without its pixels ever being held (before: 160 MB decoded, and as much to re-encode)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from emotionhub.media import decoding
from tests.conftest import upload
from tests.test_api_submissions import assert_error, row_counts

pytestmark = pytest.mark.django_db
BENCH = Path(__file__).resolve().parents[1] / "bench" / "upload_memory.py"


def noisy_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 64).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_validation_past_its_deadline_is_a_json_503_and_writes_nothing(alice, settings):
    """20 uploads of 2.4 MB each: hashing and checking them takes well over 20 ms on any
    machine (0.3 s was not: a fast CI machine validated them all in time once PNGs were
    checked without decoding)."""
    settings.EMOTIONHUB_VALIDATION_DEADLINE_SECONDS = 0.02
    image = noisy_png(900)
    files_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    before = row_counts()
    response = alice.submit(
        files=[upload(f"{i}.png", image) for i in range(20)], analyzers="example"
    )
    error = assert_error(response, 503, "validation_timeout")
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"]
    assert error["details"]["deadline_seconds"] == 0.02
    assert row_counts() == before
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == files_before


def test_a_submission_waits_for_a_decode_slot_only_until_its_deadline(alice, settings):
    """Every slot of this process is taken (other requests decoding): the submission is
    refused when its deadline passes instead of piling another decode into memory."""
    settings.EMOTIONHUB_VALIDATION_DEADLINE_SECONDS = 0.5
    holder = decoding.ValidationDeadline()
    holder.ends += 60
    with contextlib.ExitStack() as taken:
        for _ in range(settings.EMOTIONHUB_WEB_DECODE_SLOTS):
            taken.enter_context(decoding.decode_slot(holder, "other request"))
        response = alice.submit(files=[upload("a.png", noisy_png(64))], analyzers="example")
    assert_error(response, 503, "validation_timeout")
    # The slots are free again: the same submission is accepted.
    response = alice.submit(files=[upload("a.png", noisy_png(64))], analyzers="example")
    assert response.status_code == 202, response.content


def _bench():
    spec = importlib.util.spec_from_file_location("upload_memory", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _upload_peak_rise_mb(path: Path) -> float:
    """bench/upload_memory.py's ``upload`` mode in a fresh interpreter: check_upload and
    strip_metadata, as a submission runs them, on two copies of ``path``."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--child", "upload", str(path), "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_rise_mb"]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_a_small_png_declaring_6300x6300_rgba_is_checked_and_cleaned_without_decoding(
    tmp_path,
):
    png = tmp_path / "big.png"
    png.write_bytes(_bench().flat_rgba_png(6300))
    assert png.stat().st_size < 200_000
    # One decoded copy alone would be 160 MB (the old path peaked at +304 MB).
    assert _upload_peak_rise_mb(png) < 40


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_an_upright_6300x6300_jpeg_is_checked_at_one_eighth_and_cleaned_without_decoding(
    tmp_path,
):
    jpeg = tmp_path / "big.jpg"
    jpeg.write_bytes(_bench().flat_jpeg(6300))
    # One decoded copy alone would be 120 MB (the re-encoding path peaked at +305 MB).
    assert _upload_peak_rise_mb(jpeg) < 40
