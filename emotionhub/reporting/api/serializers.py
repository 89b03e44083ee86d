"""Brands and their report aggregates over the API."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.relations import ManyRelatedField

from emotionhub.jobs import webhooks
from emotionhub.reporting.models import Alert, Brand
from emotionhub.social.models import Source

MAX_KEYWORDS = 50


class BrandSerializer(serializers.ModelSerializer):
    sources = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Source.objects.none()
    )
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=MAX_KEYWORDS
    )
    alert_emails = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=20
    )

    class Meta:
        model = Brand
        fields = [
            "id",
            "name",
            "sources",
            "keywords",
            "alert_webhook_url",
            "alert_emails",
            "baseline_days",
            "volume_change",
            "sentiment_change",
            "min_volume",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def __init__(self, *args, tenant=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if tenant is not None:
            # Another tenant's source id is "does not exist", never "not yours".
            sources = self.fields["sources"]
            assert isinstance(sources, ManyRelatedField)
            sources.child_relation.queryset = Source.objects.filter(tenant=tenant)
        self.tenant = tenant

    def validate_name(self, value: str) -> str:
        others = Brand.objects.filter(tenant=self.tenant, name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if self.tenant is not None and others.exists():
            raise serializers.ValidationError("A brand with this name exists.")
        return value

    def validate_alert_webhook_url(self, value: str) -> str:
        """Checked when stored too, not only when an alert is sent (as submissions do)."""
        if value:
            try:
                webhooks.check_url(value)
            except webhooks.UnsafeUrl as exc:
                raise serializers.ValidationError(f"{exc}.") from None
        return value

    def validate_baseline_days(self, value: int) -> int:
        if not 1 <= value <= 60:
            raise serializers.ValidationError("Between 1 and 60 days.")
        return value

    def validate_volume_change(self, value: float) -> float:
        if value <= 0:
            raise serializers.ValidationError("Must be greater than 0.")
        return value

    def validate_sentiment_change(self, value: float) -> float:
        if not 0 < value <= 2:
            raise serializers.ValidationError("Between 0 (exclusive) and 2.")
        return value


class SentimentRowFields(serializers.Serializer):
    volume = serializers.IntegerField(help_text="Distinct media items.")
    votes = serializers.IntegerField(help_text="Results with a sentiment vote.")
    sentiment = serializers.FloatField(allow_null=True, help_text="Mean polarity in [-1, 1].")
    negative = serializers.IntegerField()
    neutral = serializers.IntegerField()
    positive = serializers.IntegerField()


class TimeseriesRowSerializer(SentimentRowFields):
    bucket = serializers.DateTimeField()


class EmotionRowSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField()
    emotion = serializers.CharField()
    count = serializers.IntegerField()


class SourceRowSerializer(SentimentRowFields):
    # named like the attribute Field.source: DRF takes declared fields off the class
    source = serializers.UUIDField(allow_null=True)  # type: ignore[assignment]
    source_name = serializers.CharField()


class KindRowSerializer(SentimentRowFields):
    kind = serializers.CharField()


class TopPostSerializer(serializers.Serializer):
    result = serializers.UUIDField()
    media = serializers.UUIDField()
    kind = serializers.CharField()
    analyzer = serializers.CharField()
    polarity = serializers.FloatField()
    # named like the attribute Field.label: DRF takes declared fields off the class
    label = serializers.CharField()  # type: ignore[assignment]
    occurred_at = serializers.DateTimeField()
    text = serializers.CharField()
    url = serializers.CharField()
    # named like the attribute Field.source: DRF takes declared fields off the class
    source = serializers.UUIDField(allow_null=True)  # type: ignore[assignment]
    thumbnail = serializers.BooleanField(help_text="An image: /reporting/media/{media}/image.")


class DetectedAlertSerializer(serializers.Serializer):
    kind = serializers.CharField()
    direction = serializers.CharField()
    window_end = serializers.DateTimeField()
    value = serializers.FloatField()
    baseline = serializers.FloatField()
    message = serializers.CharField()


class ReportFiltersSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    granularity = serializers.CharField()
    analyzer = serializers.CharField()
    kind = serializers.CharField()
    # named like the attribute Field.source: DRF takes declared fields off the class
    source = serializers.CharField()  # type: ignore[assignment]


class ReportSerializer(serializers.Serializer):
    brand = serializers.UUIDField()
    filters = ReportFiltersSerializer()
    timeseries = TimeseriesRowSerializer(many=True)
    emotions = EmotionRowSerializer(many=True)
    by_source = SourceRowSerializer(many=True)
    by_kind = KindRowSerializer(many=True)
    top_positive = TopPostSerializer(many=True)
    top_negative = TopPostSerializer(many=True)
    alerts = DetectedAlertSerializer(many=True)


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "brand",
            "kind",
            "direction",
            "window_end",
            "value",
            "baseline",
            "message",
            "created_at",
            "webhook_status",
            "webhook_error",
            "emailed_to",
        ]
        read_only_fields = fields
