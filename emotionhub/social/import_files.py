"""Rows of an uploaded CSV or JSON Lines file, streamed: one row in memory at a time.

Both readers yield ``(row_number, fields_or_None, problem)`` for every data row (1-based,
the CSV header excluded), so a bad row is reported by number and the rest still read.
Text is decoded as UTF-8 (a BOM is dropped); undecodable bytes become U+FFFD rather than
failing a million-row file for one byte.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Any

MAX_FIELD_CHARS = 1_000_000  # csv's default limit is 128 KiB
MAX_LINE_BYTES = 1_000_000
Row = tuple[int, dict[str, Any] | None, str]

csv.field_size_limit(MAX_FIELD_CHARS)


class UnreadableFile(ValueError):
    """The file cannot be read as the format it claims (no header, not a JSON object…)."""


def _text(binary: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")


def csv_header(binary: IO[bytes]) -> list[str]:
    """The header row; raises :class:`UnreadableFile`. Leaves ``binary`` open."""
    text = _text(binary)
    try:
        header = next(csv.reader(text), None)
    except csv.Error as exc:
        raise UnreadableFile(f"the CSV header cannot be read: {exc}") from None
    finally:
        text.detach()
    if not header or not any(name.strip() for name in header):
        raise UnreadableFile("the CSV file has no header row")
    return [name.strip() for name in header]


def first_json_object(binary: IO[bytes]) -> dict[str, Any]:
    """The first non-empty line as a JSON object; raises :class:`UnreadableFile`."""
    for _ in range(1000):
        line = binary.readline(MAX_LINE_BYTES)
        if not line:
            break
        if line.strip():
            try:
                value = json.loads(line.decode("utf-8-sig", errors="replace"))
            except ValueError as exc:
                raise UnreadableFile(f"the first line is not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise UnreadableFile("each line must be a JSON object")
            return value
    raise UnreadableFile("the file has no JSON line")


def csv_rows(binary: IO[bytes]) -> Iterator[Row]:
    text = _text(binary)
    reader = csv.reader(text)
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error):
        return
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield number, None, f"malformed_csv: {exc}"
            continue
        number += 1
        if not values:  # a blank line
            yield number, None, "empty_row"
            continue
        if len(values) != len(header):
            yield number, None, f"column_count: {len(values)} fields, the header has {len(header)}"
            continue
        yield number, dict(zip(header, values, strict=True)), ""


def jsonl_rows(binary: IO[bytes]) -> Iterator[Row]:
    number = 0
    while True:
        line = binary.readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        if not line.endswith(b"\n") and len(line) == MAX_LINE_BYTES:
            while (rest := binary.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # skip the rest of an over-long line without holding it
            yield number, None, f"row_too_long: over {MAX_LINE_BYTES} bytes"
            continue
        if not line.strip():
            yield number, None, "empty_row"
            continue
        try:
            value = json.loads(line.decode("utf-8-sig", errors="replace"))
        except ValueError as exc:
            yield number, None, f"invalid_json: {exc}"
            continue
        if not isinstance(value, dict):
            yield number, None, "invalid_json: the line is not a JSON object"
            continue
        yield number, value, ""
