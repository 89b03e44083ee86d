"""``POST /api/v1/analyze`` (one frame, answered synchronously), ``POST
/api/v1/stream-tokens`` (credentials for the WebSocket) and the ``/realtime/`` demo page."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from emotionhub.accounts.access import membership_required, membership_tenant
from emotionhub.accounts.principal import principal_for
from emotionhub.accounts.purpose import face_emotion_refusal
from emotionhub.apibase.errors import ApiError, reject_unknown_fields
from emotionhub.apibase.jsonparsing import DepthLimitedJSONField
from emotionhub.audit import Action, record
from emotionhub.jobs.models import Consent
from emotionhub.limits import quota
from emotionhub.realtime import analysis, policy, tokens
from emotionhub.realtime.frames import FRAME_MIMES, check_frame_size, decode_frame


class RawImageParser(BaseParser):
    """A raw ``image/jpeg|png|webp`` body is the frame (what type it is, is decided from
    its content, as for uploads)."""

    media_type = "image/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"file": stream.read() if stream is not None else b""}


class AnalyzeRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The frame: JPEG, PNG or WebP.")
    analyzers = serializers.CharField(
        required=False,
        help_text="Comma list of real-time analyzers (default facial_emotion).",
    )
    analyzer_settings = DepthLimitedJSONField(
        required=False, help_text="JSON object of settings per analyzer."
    )
    consent = serializers.ChoiceField(choices=Consent.choices, required=False)


class ResultEntrySerializer(serializers.Serializer):
    analyzer = serializers.CharField()
    analyzer_version = serializers.CharField()
    model_version = serializers.CharField()
    weights_sha256 = serializers.CharField()
    device = serializers.CharField()
    settings = serializers.DictField(help_text="The analyzer settings the frame ran with.")
    payload = serializers.DictField(
        allow_null=True, help_text="What the async job would store for this image."
    )
    error = serializers.DictField(allow_null=True)
    queue_ms = serializers.FloatField(help_text="Waiting for the frame's batch to start.")
    inference_ms = serializers.FloatField(help_text="The batch's model time.")
    batch_size = serializers.IntegerField(help_text="Frames in the micro-batch it ran in.")


class FrameImageSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    mime = serializers.CharField()


class AnalyzeResponseSerializer(serializers.Serializer):
    stored = serializers.BooleanField(help_text="Always false: frames are not stored.")
    image = FrameImageSerializer()
    results = ResultEntrySerializer(many=True)
    decode_ms = serializers.FloatField()
    inference_ms = serializers.FloatField()
    total_ms = serializers.FloatField(help_text="Request parsed to answer built, server side.")


class StreamTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    expires_in = serializers.IntegerField()
    stream_url = serializers.CharField()


QUERY_PARAMETERS = [
    OpenApiParameter("analyzers", str, required=False, description="For raw image bodies."),
    OpenApiParameter(
        "analyzer_settings", str, required=False, description="JSON, for raw image bodies."
    ),
    OpenApiParameter(
        "consent", str, required=False, enum=Consent.values, description="For raw image bodies."
    ),
]


class AnalyzeView(APIView):
    """One frame analysed while the client waits; nothing is stored."""

    parser_classes = [MultiPartParser, FormParser, RawImageParser]
    audit_type = "frame"

    @extend_schema(
        operation_id="analyze_frame",
        request={
            "multipart/form-data": AnalyzeRequestSerializer,
            **dict.fromkeys(FRAME_MIMES, OpenApiTypes.BINARY),
        },
        parameters=QUERY_PARAMETERS,
        responses={200: AnalyzeResponseSerializer},
    )
    def post(self, request):
        started = time.perf_counter()
        principal = policy.check_scope(principal_for(request))
        data = request.data
        reject_unknown_fields(data, AnalyzeRequestSerializer())
        # Form fields win; raw image bodies carry their options in the query string.
        fields = {
            name: data.get(name) if name in data else request.query_params.get(name)
            for name in ("analyzers", "analyzer_settings", "consent")
        }
        plan = policy.plan(
            principal,
            policy.parse_analyzers(fields["analyzers"]),
            policy.parse_settings(fields["analyzer_settings"]),
            fields["consent"] or Consent.UNKNOWN,
        )
        frame = _frame_bytes(data)
        quota.check(principal.api_key, 1)
        decoded = decode_frame(frame)
        quota.consume(principal.api_key, 1)
        body = analysis.analyze_now(plan, decoded, started)
        faces = [
            entry["payload"].get("face_count")
            for entry in body["results"]
            if entry["payload"] is not None
        ]
        record(
            Action.CREATE,
            tenant=principal.tenant,
            obj_type=self.audit_type,
            count=1,
            details={
                "operation": "analyze",
                "analyzers": list(plan.analyzers),
                "face_count": next((f for f in faces if f is not None), None),
                "stored": False,
                "status": 200,
            },
            request=request,
            strict=False,
        )
        return Response(body)


def _frame_bytes(data) -> bytes:
    upload = data.get("file")
    if upload is None or upload == "":
        raise ApiError("no_items", "Send the frame as `file` or as a raw image body.", status=400)
    if isinstance(upload, bytes):
        check_frame_size(len(upload))
        return upload
    if isinstance(upload, str) or not hasattr(upload, "read"):
        raise ApiError("invalid_request", "`file` must be a file upload.", status=400)
    check_frame_size(upload.size or 0)
    upload.seek(0)
    return upload.read()


class StreamTokenView(APIView):
    """A token for one ``/api/v1/stream`` connection (browsers cannot send headers)."""

    @extend_schema(request=None, responses={201: StreamTokenSerializer})
    def post(self, request):
        principal = policy.check_scope(principal_for(request))
        token, expires_at = tokens.issue(principal, request.user)
        lifetime = settings.EMOTIONHUB_STREAM_TOKEN_SECONDS
        return Response(
            {
                "token": token,
                "expires_at": expires_at,
                "expires_in": lifetime,
                "stream_url": f"/api/v1/stream?token={token}",
            },
            status=status.HTTP_201_CREATED,
        )


@login_required
def demo_page(request):
    """The webcam demo for signed-in tenant members (templates/realtime/demo.html)."""
    tenant = membership_tenant(request.user)
    if tenant is None:
        raise membership_required(request.user, "Real-time demo pages")
    # Shown at once, camera off; the stream itself refuses too (and says why).
    refusal = face_emotion_refusal(tenant.purpose, policy.default_analyzers())
    return render(request, "realtime/demo.html", {"tenant": tenant, "refusal": refusal})
