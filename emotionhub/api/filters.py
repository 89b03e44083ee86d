"""Query-string filters for the list endpoints."""

import django_filters

from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission
from emotionhub.media.models import Media, MediaKind


class CreatedRangeFilterSet(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


class SubmissionFilter(CreatedRangeFilterSet):
    finished = django_filters.BooleanFilter(
        field_name="finished_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Submission
        fields = ["finished"]


class MediaFilter(CreatedRangeFilterSet):
    kind = django_filters.ChoiceFilter(choices=MediaKind.choices)

    class Meta:
        model = Media
        fields = ["kind", "submission", "sha256"]


class JobFilter(CreatedRangeFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)

    class Meta:
        model = AnalysisJob
        fields = ["status", "analyzer", "media", "submission", "quarantined"]


class ResultFilter(CreatedRangeFilterSet):
    class Meta:
        model = AnalysisResult
        fields = ["analyzer", "model_version", "media", "job"]
