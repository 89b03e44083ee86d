"""Query-string filters for the core resources' list endpoints."""

import django_filters

from emotionhub.apibase.filters import CreatedRangeFilterSet
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission
from emotionhub.media.models import Media, MediaKind


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
