"""Drops a JPEG's metadata segments from the bytes as sent, without decoding its pixels.

Re-encoding a JPEG to drop its EXIF costs a full decode (a 300 KB JPEG can declare 6300x6300
pixels: 120 MB) and a second lossy compression. When the photo carries no EXIF orientation
to apply, the segments that describe the person or the device (EXIF with GPS, XMP,
Photoshop IPTC, comments, maker APPn blocks) are cut out and every coded byte is kept:
the pixels stored are exactly the ones sent. What describes colour stays: JFIF (APP0), an
ICC profile (APP2 ``ICC_PROFILE``) and Adobe's colour transform (APP14).
"""

from __future__ import annotations

import struct
import warnings

from PIL import Image

SOI = b"\xff\xd8"
_SOS = 0xDA
_APP0, _APP1, _APP2, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_COM = 0xFE
#: Markers with no length field (restart markers, TEM); none belongs before the scan.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def without_metadata(data: bytes) -> bytes | None:
    """``data`` without its metadata segments, or None when Pillow must re-encode it: an
    EXIF orientation other than 1 (the pixels must be turned), a multi-picture (MPF) file,
    or a header this walk does not recognise."""
    if not data.startswith(SOI):
        return None
    kept = [SOI]
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE:
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return None
        body = data[pos + 4 : end]
        if marker == _SOS:
            kept.append(data[pos:])  # the scan(s) and what follows, byte for byte
            return b"".join(kept)
        if marker == _APP1 and body.startswith(b"Exif\x00\x00") and _orientation(body) != 1:
            return None
        if marker == _APP2 and body.startswith(b"MPF\x00"):
            return None
        if _keep(marker, body):
            kept.append(data[pos:end])
        pos = end
    return None


def _keep(marker: int, body: bytes) -> bool:
    if marker == _COM or _APP1 <= marker <= _APP15:
        return marker == _APP14 or (marker == _APP2 and body.startswith(b"ICC_PROFILE\x00"))
    return True  # APP0 and every coding segment (DQT, DHT, SOFn, DRI, ...)


def _orientation(exif_segment: bytes) -> int:
    """The EXIF orientation tag (1 = upright, also when absent or unreadable)."""
    exif = Image.Exif()
    try:
        with warnings.catch_warnings():  # "Corrupt EXIF data": then it has no orientation
            warnings.simplefilter("ignore")
            exif.load(exif_segment)
    except (SyntaxError, ValueError, struct.error, OSError):
        return 1
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) else 1
