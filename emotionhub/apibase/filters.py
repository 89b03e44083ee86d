"""Base query-string filters shared by every app's list endpoints."""

from datetime import UTC, datetime

import django_filters


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
