"""Query-string filters for the list endpoints."""

from datetime import UTC, datetime

import django_filters

from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission
from emotionhub.media.models import Media, MediaKind


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 instants compared in UTC: PostgreSQL refuses offsets beyond ±15:59 (a 500),
    and an instant outside years 1-9999 in UTC means "before or after everything"."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                edge = datetime.min if value.utcoffset().total_seconds() > 0 else datetime.max
                value = edge.replace(tzinfo=UTC)
        return super().filter(qs, value)


class CreatedRangeFilterSet(django_filters.FilterSet):
    """Foreign keys filter by plain UUID: a ModelChoiceFilter answered 400 for an id that
    does not exist and 200 for another tenant's, telling which ids exist elsewhere."""

    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


class SubmissionFilter(CreatedRangeFilterSet):
    finished = django_filters.BooleanFilter(
        field_name="finished_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Submission
        fields = ["finished"]


class MediaFilter(CreatedRangeFilterSet):
    kind = django_filters.ChoiceFilter(choices=MediaKind.choices)
    submission = django_filters.UUIDFilter(field_name="submission_id")

    class Meta:
        model = Media
        fields = ["kind", "submission", "sha256"]


class JobFilter(CreatedRangeFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    media = django_filters.UUIDFilter(field_name="media_id")
    submission = django_filters.UUIDFilter(field_name="submission_id")

    class Meta:
        model = AnalysisJob
        fields = ["status", "analyzer", "media", "submission", "quarantined"]


class ResultFilter(CreatedRangeFilterSet):
    media = django_filters.UUIDFilter(field_name="media_id")
    job = django_filters.UUIDFilter(field_name="job_id")

    class Meta:
        model = AnalysisResult
        fields = ["analyzer", "model_version", "media", "job"]
