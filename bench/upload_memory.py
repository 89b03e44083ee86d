"""Peak memory of checking and cleaning image uploads in the web process, against a
baseline measured in the same run.

The workload: N PNGs of about 150 KB that each declare 6300x6300 RGBA pixels (under the
40-megapixel limit; 160 MB decoded), or with ``--format jpeg`` N upright JPEGs of one
colour, 6300x6300 RGB (120 MB decoded), carrying EXIF and a comment. Each mode runs in a
fresh interpreter (Django set up with the test settings, nothing else) that resets its
peak RSS after the imports (``/proc/self/clear_refs``), handles the N images one after the
other as a submission does, and reports how far its peak rose above where it started:

* ``idle``: no image (the floor: what the measurement itself costs);
* ``pillow``: what validation and metadata stripping did before ``media.pngcheck``:
  Pillow's header check and ``verify()``, a full ``load()``, then the re-encode without
  metadata (``ImageOps.exif_transpose`` + ``save``);
* ``upload``: what a submission runs now, ``media.validation.check_upload`` then
  ``media.sanitize.strip_metadata`` (which cuts metadata from the bytes as sent:
  ``media.pngcheck``, ``media.jpegstrip``).

Prints one line per mode and the ratios, then one JSON line. Linux only (``/proc``).
Usage::

    python bench/upload_memory.py                 # 4 images, 6300 px square
    python bench/upload_memory.py --images 8 --side 4000
    python bench/upload_memory.py --format jpeg
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("idle", "pillow", "upload")


def flat_rgba_png(side: int, colour: bytes = b"\x10\x20\x30\x40") -> bytes:
    """A ``side`` x ``side`` RGBA PNG of one colour, written row by row (never whole)."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + colour * side
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"tEXt", b"Comment\x00taken at home")
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def flat_jpeg(side: int) -> bytes:
    """A ``side`` x ``side`` RGB JPEG of one colour with an upright EXIF and a comment."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "SpyCam Inc."
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (16, 32, 48)).save(
        buffer, "JPEG", exif=exif, comment=b"taken at home", quality=90
    )
    return buffer.getvalue()


def _status_kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    assert match, field
    return int(match.group(1))


def child(mode: str, path: str, count: int) -> None:
    """One measurement, in this (fresh) process; prints a JSON line."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageOps

    from emotionhub.media.sanitize import strip_metadata
    from emotionhub.media.validation import check_upload

    data = Path(path).read_bytes()
    fmt = "JPEG" if path.endswith(".jpg") else "PNG"
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    for index in range(count if mode != "idle" else 0):
        if mode == "pillow":
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                ImageOps.exif_transpose(image).save(io.BytesIO(), fmt, quality=95)
        else:
            upload = SimpleUploadedFile(Path(path).name, data)
            strip_metadata(upload, check_upload(upload, field=f"file[{index}]"))
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    print(json.dumps({"mode": mode, "peak_rise_mb": (peak - before) / 1024, "seconds": seconds}))


def measure(mode: str, path: str, count: int) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "emotionhub.settings.test"
        ),
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, path, str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--side", type=int, default=6300)
    parser.add_argument("--format", choices=("png", "jpeg"), default="png")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "PATH", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, path, count = args.child
        child(mode, path, int(count))
        return
    jpeg = args.format == "jpeg"
    with tempfile.NamedTemporaryFile(suffix=".jpg" if jpeg else ".png") as image:
        data = flat_jpeg(args.side) if jpeg else flat_rgba_png(args.side)
        image.write(data)
        image.flush()
        what = "upright JPEGs" if jpeg else "PNGs"
        print(f"{args.images} {what} of {len(data) / 1024:.0f} KB, {args.side}x{args.side}")
        results = {mode: measure(mode, image.name, args.images) for mode in MODES}
    for mode, result in results.items():
        print(f"{mode:>7}: peak RSS +{result['peak_rise_mb']:7.1f} MB, {result['seconds']:.2f} s")
    floor = results["idle"]["peak_rise_mb"]
    pillow = results["pillow"]["peak_rise_mb"] - floor
    upload = results["upload"]["peak_rise_mb"] - floor
    ratio = pillow / max(upload, 0.1)
    print(f"above idle: pillow +{pillow:.1f} MB, upload +{upload:.1f} MB ({ratio:.0f}x less)")
    print(
        json.dumps(
            {
                "format": args.format,
                "images": args.images,
                "side": args.side,
                "bytes": len(data),
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
