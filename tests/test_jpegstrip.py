"""media.jpegstrip on its own: what it cuts, what it leaves to Pillow, and that no
malformed header makes it raise (a refusal to cut means re-encoding, never an error)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from emotionhub.media import jpegstrip


def jpeg(orientation: int | None = None, **options) -> bytes:
    image = Image.effect_noise((40, 30), 40).convert("RGB")
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def test_a_progressive_jpegs_scans_are_all_kept():
    sent = jpeg(1, progressive=True, comment=b"secret")
    cleaned = jpegstrip.without_metadata(sent)
    assert cleaned is not None and b"secret" not in cleaned and b"Exif" not in cleaned
    assert cleaned.count(b"\xff\xda") == sent.count(b"\xff\xda") > 1
    with Image.open(io.BytesIO(sent)) as a, Image.open(io.BytesIO(cleaned)) as b:
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("orientation", [2, 3, 6, 8])
def test_an_orientation_to_apply_is_left_to_pillow(orientation):
    assert jpegstrip.without_metadata(jpeg(orientation)) is None


def test_a_jpeg_without_exif_is_cut_too():
    sent = jpeg(comment=b"note")
    cleaned = jpegstrip.without_metadata(sent)
    assert cleaned is not None and len(cleaned) == len(sent) - len(b"note") - 4


def test_a_multi_picture_file_is_left_to_pillow():
    sent = jpeg()
    mpf = b"\xff\xe2" + (4 + 8).to_bytes(2, "big") + b"MPF\x00" + b"\x00" * 8
    assert jpegstrip.without_metadata(sent[:2] + mpf + sent[2:]) is None


def test_malformed_headers_are_left_to_pillow_and_never_raise():
    sent = jpeg(1, comment=b"x")
    scan = sent.index(b"\xff\xda")
    assert jpegstrip.without_metadata(b"GIF89a") is None
    assert jpegstrip.without_metadata(sent[:scan]) is None  # no scan
    rng = random.Random(7)
    for _ in range(300):
        data = bytearray(sent)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(2, scan)] = rng.randrange(256)
        cut = bytes(data[: rng.randrange(2, len(data))])
        result = jpegstrip.without_metadata(cut)
        assert result is None or result.startswith(b"\xff\xd8")
