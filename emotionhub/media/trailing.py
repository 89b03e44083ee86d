"""Where an image's own data ends, so bytes hidden after it can be refused.

A polyglot is a valid image that is also something else: a ZIP, HTML or script appended
after PNG's IEND or JPEG's EOI still displays as a picture, and still unpacks or runs where
another program reads it. Walking the format's structure (chunks, segments, blocks, the
RIFF length) finds the end of the image; what follows is trailing data. TIFF and BMP are
not walked (TIFF stores data at arbitrary offsets), and are re-checked only by decoding.
"""

from __future__ import annotations

import struct

WALKED_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def image_end(data: bytes, mime: str) -> int | None:
    """Offset just past the image's end marker, or None when unknown or not found."""
    finder = {
        "image/png": _png_end,
        "image/jpeg": _jpeg_end,
        "image/gif": _gif_end,
        "image/webp": _webp_end,
    }.get(mime)
    if finder is None:
        return None
    try:
        return finder(data)
    except (IndexError, struct.error):
        return None  # truncated structure: decoding reports it as corrupt


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length


def _jpeg_end(data: bytes) -> int | None:
    pos, size = 2, len(data)  # after SOI
    while pos < size:
        if data[pos] != 0xFF:
            return None
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if marker in _STANDALONE:
            continue
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data up to the next real marker
            while True:
                pos = data.index(b"\xff", pos)
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
    return None


def _gif_end(data: bytes) -> int | None:
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data):
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            return pos + 1
        if introducer == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW code size
            local = data[pos + 9]
            pos += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0) + 1
        else:
            return None
        while (block := data[pos]) != 0:
            pos += block + 1
        pos += 1
    return None


def _webp_end(data: bytes) -> int | None:
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    return end if end <= len(data) else None
