"""Upload hardening: size limits per kind, polyglots, bombs, truncation and metadata."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from emotionhub.media.models import Media
from tests.conftest import png_bytes, upload
from tests.test_api_submissions import assert_error, row_counts


def stored_files(settings) -> list:
    return sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())


def refused(client, settings, data: bytes, status: int, code: str, name="x.png") -> dict:
    """Submit a good image and ``data``; the refusal must leave no rows and no files."""
    before, files = row_counts(), stored_files(settings)
    response = client.submit(files=[upload("good.png", png_bytes()), upload(name, data)])
    error = assert_error(response, status, code)
    assert row_counts() == before
    assert stored_files(settings) == files
    return error


def jpeg_bytes(size=(64, 48), **options) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG", **options)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.sh", "#!/bin/sh\necho owned\n")
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def header_only_png(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds one compressed row of pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 1000))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


class TestSizeLimits:
    def test_image_over_its_limit_names_the_limit(self, alice, settings):
        settings.EMOTIONHUB_MAX_UPLOAD_BYTES = {**settings.EMOTIONHUB_MAX_UPLOAD_BYTES}
        settings.EMOTIONHUB_MAX_UPLOAD_BYTES["image"] = 1000
        big = jpeg_bytes(size=(256, 256))
        assert len(big) > 1000 and len(png_bytes()) < 1000
        error = refused(alice, settings, big, 413, "file_too_large", name="big.jpg")
        assert "1000" in error["message"] and "image" in error["message"]

    def test_text_file_over_the_text_limit(self, alice, settings):
        settings.EMOTIONHUB_MAX_UPLOAD_BYTES = {**settings.EMOTIONHUB_MAX_UPLOAD_BYTES}
        settings.EMOTIONHUB_MAX_UPLOAD_BYTES["text"] = 10
        error = refused(alice, settings, b"words " * 5, 413, "file_too_large", name="a.txt")
        assert "10" in error["message"] and "text" in error["message"]

    def test_too_many_files_in_one_request(self, alice, settings):
        settings.EMOTIONHUB_MAX_ITEMS_PER_SUBMISSION = 2
        files = [upload(f"{i}.png", png_bytes()) for i in range(3)]
        assert_error(alice.submit(files=files), 400, "too_many_items")
        assert row_counts() == (0, 0, 0)

    def test_more_files_than_django_parses_is_413(self, alice, settings):
        settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
        files = [upload(f"{i}.png", png_bytes()) for i in range(3)]
        assert_error(alice.submit(files=files), 413, "request_too_large")
        assert row_counts() == (0, 0, 0)


class TestPolyglots:
    @pytest.mark.parametrize(
        "payload",
        [zip_bytes(), b"<html><script>alert(document.cookie)</script></html>" * 2],
        ids=["zip", "html"],
    )
    def test_png_with_data_after_iend_is_refused(self, alice, settings, payload):
        error = refused(alice, settings, png_bytes() + payload, 400, "polyglot_file")
        assert error["details"]["trailing_bytes"] == len(payload)

    def test_jpeg_with_an_archive_after_eoi_is_refused(self, alice, settings):
        refused(alice, settings, jpeg_bytes() + zip_bytes(), 400, "polyglot_file", "x.jpg")

    @pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
    def test_other_formats_with_an_archive_appended_are_refused(self, alice, settings, fmt):
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (10, 200, 30)).save(buffer, fmt)
        refused(alice, settings, buffer.getvalue() + zip_bytes(), 400, "polyglot_file")

    def test_a_few_trailing_bytes_are_tolerated(self, alice, settings):
        """Some encoders pad after the end marker; up to the setting is not a payload."""
        settings.EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES = 16
        response = alice.submit(files=[upload("padded.jpg", jpeg_bytes() + b"\x00" * 16)])
        assert response.status_code == 202, response.content

    def test_progressive_jpeg_is_not_mistaken_for_a_polyglot(self, alice):
        response = alice.submit(files=[upload("p.jpg", jpeg_bytes(progressive=True))])
        assert response.status_code == 202, response.content


class TestBombsAndCorruption:
    def test_huge_declared_dimensions_are_refused_without_decoding(self, alice, settings):
        bomb = header_only_png(50_000, 50_000)
        assert len(bomb) < 10_000
        error = refused(alice, settings, bomb, 413, "image_too_large")
        assert str(settings.EMOTIONHUB_MAX_IMAGE_PIXELS) in error["message"]

    @pytest.mark.parametrize("side", [50_000, 8_000])  # beyond and within Pillow's own limit
    def test_the_pixel_check_is_fast(self, db, side):
        """Decoding 2.5 gigapixels would take minutes and gigabytes; the header takes µs."""
        from emotionhub.core.errors import DomainError
        from emotionhub.media.validation import check_upload

        started = time.monotonic()
        with pytest.raises(DomainError) as refusal:
            check_upload(upload("bomb.png", header_only_png(side, side)), field="file")
        assert refusal.value.code == "image_too_large"
        assert time.monotonic() - started < 1.0

    def test_truncated_jpeg_is_refused(self, alice, settings):
        data = jpeg_bytes(size=(256, 256))
        refused(alice, settings, data[: len(data) * 2 // 3], 400, "corrupt_image", "t.jpg")

    def test_truncated_png_pixel_data_is_refused(self, alice, settings):
        """The header and the start of IDAT are intact, so only decoding finds the cut."""
        noisy = Image.effect_noise((256, 256), 64).convert("RGB")
        buffer = io.BytesIO()
        noisy.save(buffer, "PNG")
        data = buffer.getvalue()
        refused(alice, settings, data[: len(data) // 2], 400, "corrupt_image")

    def test_corrupt_pixel_data_with_valid_structure_is_refused(self, alice, settings):
        ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
        garbage = png_chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 40)
        data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + garbage + png_chunk(b"IEND", b"")
        refused(alice, settings, data, 400, "corrupt_image")


# Adam7 passes: first column, first row, column step, row step.
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def interlaced_png(width: int, height: int, grey: int = 77) -> bytes:
    """An Adam7-interlaced RGB PNG (Pillow writes none), each pass's rows unfiltered."""
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        columns, lines = len(range(x0, width, dx)), len(range(y0, height, dy))
        raw += (b"\x00" + bytes([grey]) * 3 * columns) * (lines if columns else 0)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


class TestPngWithoutDecoding:
    """PNGs are checked by inflating and counting their rows, and cleaned by dropping
    chunks, so what is accepted, refused and stored must match what decoding said."""

    def test_interlaced_png_is_accepted_and_a_cut_one_refused(self, alice, settings):
        good = interlaced_png(37, 21)
        with Image.open(io.BytesIO(good)) as image:
            assert image.info.get("interlace")
            assert image.convert("RGB").getpixel((36, 20)) == (77, 77, 77)
        response = alice.submit(files=[upload("i.png", good)], analyzers="example")
        assert response.status_code == 202, response.content
        ihdr_end = 8 + 25
        idat = png_chunk(b"IDAT", zlib.compress(zlib.decompress(good[ihdr_end + 8 : -16])[:-5]))
        short = good[:ihdr_end] + idat + png_chunk(b"IEND", b"")
        refused(alice, settings, short, 400, "corrupt_image")

    def test_unknown_filter_type_is_refused(self, alice, settings):
        ihdr = struct.pack(">IIBBBBB", 4, 2, 8, 0, 0, 0, 0)
        rows = zlib.compress(b"\x00abcd" + b"\x09abcd")
        data = (
            b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b"")
        )
        refused(alice, settings, data, 400, "corrupt_image")

    def test_stored_png_is_the_sent_one_without_its_metadata_chunks(self, alice, settings):
        image = Image.effect_noise((40, 30), 50).convert("RGBA")
        plain = io.BytesIO()
        image.save(plain, "PNG")
        sent = plain.getvalue()
        private = png_chunk(b"tIME", b"\x07\xea\x0c\x03\x0a\x00\x00") + png_chunk(
            b"prVt", b"device serial 1234"
        )
        with_metadata = sent[:33] + private + sent[33:]
        response = alice.submit(files=[upload("a.png", with_metadata)], analyzers="example")
        assert response.status_code == 202, response.content
        (item,) = response.json()["items"]
        stored = _stored_bytes(settings, item)
        assert stored == sent  # not re-encoded: the same pixels, byte for byte
        assert (item["width"], item["height"], item["size"]) == (40, 30, len(sent))

    def test_png_with_an_exif_orientation_is_still_turned_upright(self, alice, settings):
        image = Image.new("RGB", (80, 40), (200, 30, 30))
        image.paste((30, 30, 200), (0, 0, 40, 40))
        exif = Image.Exif()
        exif[0x0112] = 6
        buffer = io.BytesIO()
        image.save(buffer, "PNG", exif=exif)
        response = alice.submit(files=[upload("r.png", buffer.getvalue())], analyzers="example")
        assert response.status_code == 202, response.content
        (item,) = response.json()["items"]
        with Image.open(io.BytesIO(_stored_bytes(settings, item))) as stored:
            assert stored.size == (40, 80) and not stored.getexif()


def _stored_bytes(settings, item: dict) -> bytes:
    media = Media.objects.get(pk=item["id"])
    return (settings.MEDIA_ROOT / media.file.name).read_bytes()


def exif_jpeg(orientation: int) -> bytes:
    image = Image.new("RGB", (80, 40), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, 40, 40))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam Inc."  # Make
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


class TestMetadata:
    def test_exif_and_gps_are_stripped_and_orientation_applied(self, alice, settings):
        sent = exif_jpeg(orientation=6)  # stored sideways; viewers rotate 90° clockwise
        response = alice.submit(files=[upload("phone.jpg", sent)], analyzers="example")
        assert response.status_code == 202, response.content
        (item,) = response.json()["items"]
        stored = _stored_bytes(settings, item)
        assert b"SpyCam" not in stored and b"Exif" not in stored
        assert item["size"] == len(stored)
        assert item["sha256"] == hashlib.sha256(stored).hexdigest()
        with Image.open(io.BytesIO(stored)) as image:
            assert not image.getexif()
            assert image.size == (40, 80) == (item["width"], item["height"])
            # Rotated clockwise, the blue left half is now on top.
            assert image.getpixel((20, 10))[2] > 150 and image.getpixel((20, 70))[0] > 150

    def test_an_upright_jpeg_keeps_every_coded_byte_and_loses_its_metadata(self, alice, settings):
        """No orientation to apply: EXIF (with GPS), XMP and the comment are cut from the
        bytes as sent, the ICC profile stays, and the pixels are exactly the sent ones (no
        second lossy encoding)."""
        image = Image.new("RGB", (64, 48), (200, 30, 30))
        image.paste((30, 30, 200), (0, 0, 32, 48))
        exif = Image.Exif()
        exif[0x0112] = 1
        exif[0x010F] = "SpyCam Inc."
        exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        buffer = io.BytesIO()
        image.save(
            buffer,
            "JPEG",
            exif=exif,
            icc_profile=icc,
            comment=b"at home",
            quality=90,
            xmp=b"<x:xmpmeta>SpyCam XMP</x:xmpmeta>",
        )
        sent = buffer.getvalue()
        assert sent.count(b"SpyCam") == 2 and b"at home" in sent
        response = alice.submit(files=[upload("a.jpg", sent)], analyzers="example")
        assert response.status_code == 202, response.content
        (item,) = response.json()["items"]
        stored = _stored_bytes(settings, item)
        assert b"SpyCam" not in stored and b"Exif" not in stored and b"at home" not in stored
        scan = sent.index(b"\xff\xda")
        assert stored.endswith(sent[scan:])  # every coded byte as sent
        assert item["sha256"] == hashlib.sha256(stored).hexdigest()
        with Image.open(io.BytesIO(sent)) as before, Image.open(io.BytesIO(stored)) as after:
            assert after.info.get("icc_profile") == icc and not after.getexif()
            assert after.tobytes() == before.tobytes() and after.size == (64, 48)

    def test_png_text_chunks_are_stripped(self, alice, settings):
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "taken at 10 Downing Street")
        buffer = io.BytesIO()
        Image.new("RGB", (20, 20), (1, 2, 3)).save(buffer, "PNG", pnginfo=info)
        response = alice.submit(files=[upload("a.png", buffer.getvalue())], analyzers="example")
        assert response.status_code == 202, response.content
        stored = _stored_bytes(settings, response.json()["items"][0])
        assert b"Downing" not in stored
        with Image.open(io.BytesIO(stored)) as image:
            assert image.getpixel((5, 5)) == (1, 2, 3)

    def test_tenant_can_keep_metadata(self, alice, settings):
        alice.tenant.keep_image_metadata = True
        alice.tenant.save()
        sent = exif_jpeg(orientation=6)
        response = alice.submit(files=[upload("phone.jpg", sent)], analyzers="example")
        assert response.status_code == 202, response.content
        (item,) = response.json()["items"]
        assert _stored_bytes(settings, item) == sent
        assert item["sha256"] == hashlib.sha256(sent).hexdigest()

    def test_idempotent_replay_of_a_stripped_image(self, alice):
        headers = {"Idempotency-Key": "photo-1"}
        sent = exif_jpeg(orientation=1)
        first = alice.submit(files=[upload("a.jpg", sent)], analyzers="example", headers=headers)
        again = alice.submit(files=[upload("a.jpg", sent)], analyzers="example", headers=headers)
        assert (first.status_code, again.status_code) == (202, 200)
        other = alice.submit(
            files=[upload("a.jpg", exif_jpeg(orientation=3))], analyzers="example", headers=headers
        )
        assert_error(other, 422, "idempotency_key_reused")
        assert row_counts() == (1, 1, 1)


def test_palette_png_keeps_its_transparency(alice, settings):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 4, 8))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    response = alice.submit(files=[upload("p.png", buffer.getvalue())], analyzers="example")
    assert response.status_code == 202, response.content
    stored = _stored_bytes(settings, response.json()["items"][0])
    with Image.open(io.BytesIO(stored)) as back:
        rgba = back.convert("RGBA")
        assert rgba.getpixel((6, 1))[3] == 0 and rgba.getpixel((1, 1)) == (0, 255, 0, 255)
