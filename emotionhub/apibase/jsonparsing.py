"""DRF's JSON entry points with the nesting limit of :mod:`emotionhub.core.jsonlimits`:
request bodies (the parser) and JSON sent as a form string (the field), so a document of
ten thousand ``[`` is a 400, not a RecursionError."""

from __future__ import annotations

import io

from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from emotionhub.core.jsonlimits import JsonTooDeep, check_depth


class DepthLimitedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        try:
            check_depth(body)
        except JsonTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return super().parse(io.BytesIO(body), media_type, parser_context)


class DepthLimitedJSONField(serializers.JSONField):
    """A JSONField whose string form (multipart, query strings) is depth-checked."""

    def to_internal_value(self, data):
        if isinstance(data, str | bytes):
            try:
                check_depth(data)
            except JsonTooDeep as exc:
                raise serializers.ValidationError(str(exc)) from None
        return super().to_internal_value(data)
