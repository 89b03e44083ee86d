"""PNG files checked and cleaned chunk by chunk, without holding their pixels.

Pillow decodes a PNG whole: a 150 KB file may declare 6300x6300 RGBA (under the pixel
limit), 160 MB decoded, and re-encoding it without metadata took as much again. Here the
compressed pixel data is inflated in bounded pieces and only counted (each row's filter
byte checked), so a truncated or corrupt PNG is still refused in the web process, and
metadata chunks are dropped from the bytes as sent, so the web process never holds the
pixels. The worker decodes the image when it analyses it.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIECE_BYTES = 1 << 20  # inflated at most this much at a time
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# Adam7 passes: first column, first row, column step, row step.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
# What describes the pixels and their colours. Everything else (text, time, EXIF, private
# chunks) is metadata to drop.
PIXEL_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"tRNS", b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"sBIT", b"IDAT", b"IEND"}
)
# Only Pillow can apply an EXIF orientation or keep an animation: left to it.
NEEDS_PILLOW = frozenset({b"eXIf", b"acTL"})


class PngError(ValueError):
    """The file is not a well-formed PNG (the message says where)."""


def chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(type, start, end)`` of every chunk up to IEND (``data[start:end]`` is the whole
    chunk, length and CRC included), CRCs checked."""
    if not data.startswith(SIGNATURE):
        raise PngError("no PNG signature")
    view = memoryview(data)
    pos = len(SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise PngError("the file ends before IEND")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise PngError(f"the {kind.decode('latin-1')} chunk is cut short")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise PngError(f"bad CRC in the {kind.decode('latin-1')} chunk")
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


def check_pixels(data: bytes) -> tuple[int, int]:
    """``(width, height)`` once the pixel data has been found whole; else :class:`PngError`."""
    rows: _Rows | None = None
    inflater = zlib.decompressobj()
    view = memoryview(data)
    for kind, start, end in chunks(data):
        if rows is None:
            if kind != b"IHDR":
                raise PngError("IHDR is not the first chunk")
            rows = _Rows.from_ihdr(data[start + 8 : end - 4])
        elif kind == b"IDAT" and not inflater.eof:
            _inflate(inflater, view[start + 8 : end - 4], rows)
    if rows is None or not inflater.eof:
        raise PngError("the pixel data ends early")
    rows.finish()
    return rows.width, rows.height


def without_metadata(data: bytes) -> bytes | None:
    """``data`` with only :data:`PIXEL_CHUNKS`, or None when Pillow must re-encode it."""
    kept = [SIGNATURE]
    for kind, start, end in chunks(data):
        if kind in NEEDS_PILLOW:
            return None
        if kind in PIXEL_CHUNKS:
            kept.append(data[start:end])
    return b"".join(kept)


def _inflate(inflater, body: memoryview, rows: _Rows) -> None:
    """Feed one IDAT body through, never more than :data:`PIECE_BYTES` out at once."""
    compressed: bytes | memoryview = body
    while True:
        try:
            piece = inflater.decompress(compressed, PIECE_BYTES)
        except zlib.error as exc:
            raise PngError(f"the pixel data is corrupt ({exc})") from None
        rows.feed(piece)
        compressed = inflater.unconsumed_tail
        if inflater.eof or (not compressed and len(piece) < PIECE_BYTES):
            return


class _Rows:
    """The scanlines the header promises, as (bytes per row, rows) runs, checked as the
    inflated data goes by: each row's filter byte, and none missing."""

    def __init__(self, width: int, height: int, runs: list[tuple[int, int]]) -> None:
        self.width, self.height = width, height
        self.runs = [run for run in runs if run[1] > 0]
        self.run = 0
        self.in_row = 0  # bytes of the current row already seen

    @classmethod
    def from_ihdr(cls, body: bytes) -> _Rows:
        if len(body) != 13:
            raise PngError("IHDR has the wrong length")
        width, height, depth, colour, method, filtering, interlace = struct.unpack(">IIBBBBB", body)
        if not width or not height or depth not in _DEPTHS.get(colour, ()):
            raise PngError("IHDR declares an impossible image")
        if method or filtering or interlace > 1:
            raise PngError("IHDR names an unknown method")
        bits = depth * _CHANNELS[colour]
        passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
        runs = []
        for x0, y0, dx, dy in passes:
            columns = math.ceil((width - x0) / dx) if width > x0 else 0
            lines = math.ceil((height - y0) / dy) if height > y0 else 0
            if columns:
                runs.append((1 + math.ceil(columns * bits / 8), lines))
        return cls(width, height, runs)

    def feed(self, piece: bytes) -> None:
        i, n = 0, len(piece)
        while i < n:
            if self.run >= len(self.runs):
                return  # data past the last row: ignored, as Pillow and libpng do
            length, left = self.runs[self.run]
            if self.in_row:  # the rest of a row begun in the previous piece
                take = min(length - self.in_row, n - i)
                i += take
                self.in_row = (self.in_row + take) % length
                if not self.in_row:
                    self._done(1)
                continue
            whole = min((n - i) // length, left)
            if whole:
                if max(piece[i : i + whole * length : length]) > 4:
                    raise PngError("a row has an unknown filter type")
                i += whole * length
                self._done(whole)
            else:  # a row that goes on in the next piece
                if piece[i] > 4:
                    raise PngError("a row has an unknown filter type")
                self.in_row = n - i
                i = n

    def _done(self, rows: int) -> None:
        length, left = self.runs[self.run]
        self.runs[self.run] = (length, left - rows)
        if left == rows:
            self.run += 1

    def finish(self) -> None:
        if self.run < len(self.runs):
            raise PngError("the pixel data is shorter than the header declares")
