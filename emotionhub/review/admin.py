"""The review queue (admin): filter results, label faces and posts fast, export, compare.

Reviewers are staff users with a tenant membership; they see their tenant only (see
``accounts.access``). The change page of a queue item is the review page.
"""

from __future__ import annotations

import io
import logging
import uuid

from django.contrib import admin, messages
from django.db.models import Exists, F, OuterRef
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from emotionhub.accounts.access import (
    ReadOnlyAdminMixin,
    TenantScopedAdminMixin,
    export_tenant,
    scope_queryset,
)
from emotionhub.analyzers import model_cards
from emotionhub.audit import Action, record
from emotionhub.core.jsonforms import DepthLimitedJSONAdminMixin
from emotionhub.reporting import facts
from emotionhub.reporting.face_blur import blur_boxes
from emotionhub.review import agreement, exports, labels
from emotionhub.review.models import ReviewItem, ReviewLabel
from emotionhub.review.targets import (
    FACE_LABELS,
    SENTIMENT_LABELS,
    added_targets,
    context_faces,
    face_analyzers,
    reviewable_analyzers,
    target_named,
    targets,
)
from emotionhub.social.models import Source

log = logging.getLogger(__name__)
KEYFRAME_SIZE = 160


class LabelFilter(admin.SimpleListFilter):
    title = "model label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        queryset = model_admin.get_queryset(request).exclude(fact__label="")
        values = queryset.values_list("fact__label", flat=True).distinct().order_by("fact__label")
        return [(value, value) for value in values]

    def queryset(self, request, queryset):
        return queryset.filter(fact__label=self.value()) if self.value() else queryset


class ConfidenceFilter(admin.SimpleListFilter):
    title = "confidence"
    parameter_name = "confidence"
    BANDS = {"low": (0.0, 0.5), "medium": (0.5, 0.8), "high": (0.8, 1.01)}

    def lookups(self, request, model_admin):
        return [("low", "< 0.5"), ("medium", "0.5 to 0.8"), ("high", "≥ 0.8"), ("none", "none")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(fact__confidence__isnull=True)
        if self.value() in self.BANDS:
            low, high = self.BANDS[self.value()]
            return queryset.filter(fact__confidence__gte=low, fact__confidence__lt=high)
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = scope_queryset(Source.objects.all(), request.user)
        return [("none", "(direct submissions)")] + [(str(s.pk), s.name) for s in sources]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(fact__source__isnull=True)
        if not self.value():
            return queryset
        try:
            source_id = uuid.UUID(self.value())
        except ValueError:  # a hand-edited URL: no source has that id
            return queryset.none()
        return queryset.filter(fact__source_id=source_id)


class DisagreementFilter(admin.SimpleListFilter):
    title = "components disagree"
    parameter_name = "disagree"

    def lookups(self, request, model_admin):
        return [("1", "Yes"), ("0", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(fact__disagreement=self.value() == "1")
        return queryset


class ReviewedFilter(admin.SimpleListFilter):
    title = "reviewed"
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("0", "Not yet"), ("1", "Reviewed"), ("corrected", "Corrected")]

    def queryset(self, request, queryset):
        if self.value() == "0":
            return queryset.filter(reviewed=False)
        if self.value() == "1":
            return queryset.filter(reviewed=True)
        if self.value() == "corrected":
            corrected = ReviewLabel.objects.filter(result=OuterRef("pk"), current=True).exclude(
                reviewed_label=F("model_label")
            )
            return queryset.filter(Exists(corrected))
        return queryset


def _current_labels():
    return ReviewLabel.objects.filter(result=OuterRef("pk"), current=True)


@admin.register(ReviewItem)
class ReviewItemAdmin(DepthLimitedJSONAdminMixin, admin.ModelAdmin):
    list_display = (
        "preview",
        "analyzer",
        "model_label",
        "confidence",
        "source",
        "created_at",
        "disagree",
        "reviewed",
        "model_card",
    )
    list_display_links = ("preview",)
    list_filter = (
        "analyzer",
        LabelFilter,
        ConfidenceFilter,
        SourceFilter,
        ("created_at", admin.DateFieldListFilter),
        DisagreementFilter,
        ReviewedFilter,
        "model_version",
    )
    list_per_page = 50
    ordering = ("-created_at", "id")
    actions = ["accept_model_labels", "label_negative", "label_neutral", "label_positive"]
    change_list_template = "admin/review/reviewitem/change_list.html"

    def get_queryset(self, request):
        queryset = (
            ReviewItem.objects.filter(analyzer__in=reviewable_analyzers())
            .select_related("media", "fact", "fact__source")
            .annotate(reviewed=Exists(_current_labels()))
        )
        return scope_queryset(queryset, request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # ---- columns ----------------------------------------------------------------------
    @admin.display(description="item")
    def preview(self, obj):
        if obj.media.kind == "image":
            url = reverse("reporting:media-image", args=[obj.media_id])
            return format_html('<img src="{}?size=64" alt="" class="review-thumb">', url)
        return (obj.media.text or obj.media.original_name or str(obj.media_id))[:80]

    @admin.display(description="model label", ordering="fact__label")
    def model_label(self, obj):
        fact = getattr(obj, "fact", None)
        return fact.label if fact else ""

    @admin.display(description="confidence", ordering="fact__confidence")
    def confidence(self, obj):
        fact = getattr(obj, "fact", None)
        return f"{fact.confidence:.2f}" if fact and fact.confidence is not None else "-"

    @admin.display(description="source")
    def source(self, obj):
        fact = getattr(obj, "fact", None)
        return fact.source.name if fact and fact.source else ""

    @admin.display(description="disagree", boolean=True)
    def disagree(self, obj):
        fact = getattr(obj, "fact", None)
        return fact.disagreement if fact else None

    @admin.display(description="reviewed", boolean=True, ordering="reviewed")
    def reviewed(self, obj):
        return obj.reviewed

    @admin.display(description="model card")
    def model_card(self, obj):
        return model_cards.card_link(obj.analyzer)

    # ---- bulk actions -----------------------------------------------------------------
    @admin.action(description="Accept the model's labels (unreviewed targets)")
    def accept_model_labels(self, request, queryset):
        count = labels.accept_model_labels(queryset, request.user, request=request)
        self.message_user(request, f"{count} labels accepted.", messages.SUCCESS)

    def _label_all(self, request, queryset, label: str) -> None:
        count = labels.set_item_label(queryset, label, request.user, request=request)
        self.message_user(request, f"{count} items labelled {label}.", messages.SUCCESS)

    @admin.action(description="Label selected posts negative")
    def label_negative(self, request, queryset):
        self._label_all(request, queryset, "negative")

    @admin.action(description="Label selected posts neutral")
    def label_neutral(self, request, queryset):
        self._label_all(request, queryset, "neutral")

    @admin.action(description="Label selected posts positive")
    def label_positive(self, request, queryset):
        self._label_all(request, queryset, "positive")

    # ---- pages ------------------------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        facts.sync_for_request()  # the filters read the fact table
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/labels.csv", view(self.export_csv), name="review_export_csv"),
            path("export/faces.zip", view(self.export_faces), name="review_export_faces"),
            path("export/text.zip", view(self.export_text), name="review_export_text"),
            path("agreement/", view(self.agreement_view), name="review_agreement"),
            path("<path:object_id>/add-face/", view(self.add_face_view), name="review_add_face"),
            path(
                "<path:object_id>/keyframe/<str:target>/<int:number>.jpg",
                view(self.keyframe_view),
                name="review_keyframe",
            ),
            *super().get_urls(),
        ]

    def _require_view(self, request) -> None:
        if not self.has_view_permission(request):
            raise Http404

    def _audited(self, request, export: str, count: int, response):
        """Serve ``response`` only once its export is in the audit log."""
        try:
            record(
                Action.EXPORT,
                tenant=export_tenant(request.user),
                obj_type="review_export",
                obj_id=export,
                count=count,
                request=request,
            )
        except Exception:
            log.exception("refusing a review export whose audit event could not be written")
            return HttpResponse(
                "audit_unavailable: the export could not be recorded, so it was refused.",
                status=503,
                content_type="text/plain",
            )
        return response

    def export_csv(self, request):
        self._require_view(request)
        tenant = export_tenant(request.user)
        response = HttpResponse(exports.write_csv(tenant), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="reviewed-labels.csv"'
        count = exports.current_labels(tenant).count()
        return self._audited(request, "labels.csv", count, response)

    def export_faces(self, request):
        self._require_view(request)
        archive, count = exports.write_faces_zip(export_tenant(request.user))
        response = FileResponse(archive, as_attachment=True, filename="reviewed-faces.zip")
        return self._audited(request, "faces.zip", count, response)

    def export_text(self, request):
        self._require_view(request)
        data, count = exports.write_text_zip(export_tenant(request.user))
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="reviewed-text.zip"'
        return self._audited(request, "text.zip", count, response)

    def agreement_view(self, request):
        self._require_view(request)
        context = {
            **self.admin_site.each_context(request),
            "title": "Agreement with reviewers",
            "opts": self.model._meta,
            "reports": agreement.agreement(export_tenant(request.user)),
            "detection": agreement.detection(export_tenant(request.user)),
        }
        return TemplateResponse(request, "admin/review/agreement.html", context)

    def add_face_view(self, request, object_id):
        """POST x1, y1, x2, y2 (image pixels) and label: a face the detector missed."""
        item = self.get_object(request, object_id)
        if item is None or not self.has_change_permission(request, item):
            raise Http404
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        box = [request.POST.get(k, "") for k in ("x1", "y1", "x2", "y2")]
        try:
            labels.add_missed_face(
                item, box, request.POST.get("label", ""), request.user, request=request
            )
        except labels.ReviewError as exc:
            self.message_user(request, f"{exc.code}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, "Face added.", messages.SUCCESS)
        return redirect(reverse("admin:review_reviewitem_change", args=[item.pk]))

    def keyframe_view(self, request, object_id, target, number):
        """A video face track's keyframe: the face (with a margin) cut from the frame."""
        item = self.get_object(request, object_id)
        if item is None or not self.has_view_or_change_permission(request, item):
            raise Http404
        found = target_named(item, target)
        if found is None or not 0 <= number < len(found.keyframes):
            raise Http404("No such keyframe.")
        at_s, box = found.keyframes[number]
        frame = exports.video_frame(item.media, at_s)
        if frame is None:
            raise Http404("The stored video cannot be read at that time.")
        x1, y1, x2, y2 = box
        margin_x, margin_y = (x2 - x1) * 0.25, (y2 - y1) * 0.25
        left, top = max(0, int(x1 - margin_x)), max(0, int(y1 - margin_y))
        right = min(frame.width, round(x2 + margin_x))
        bottom = min(frame.height, round(y2 + margin_y))
        crop = frame.crop((left, top, right, bottom))
        if item.media.tenant.blur_faces:  # the same privacy as the stored images' views
            crop = blur_boxes(crop, [(x1 - left, y1 - top, x2 - left, y2 - top)])
        crop.thumbnail((KEYFRAME_SIZE, KEYFRAME_SIZE))
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=85)
        response = HttpResponse(buffer.getvalue(), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        if item is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if request.method == "POST":
            if not self.has_change_permission(request, item):
                raise Http404
            return self._save_review(request, item)
        if not self.has_view_or_change_permission(request, item):
            raise Http404
        return TemplateResponse(
            request, "admin/review/reviewitem/review.html", self._context(request, item)
        )

    def _save_review(self, request, item):
        saved, errors = 0, []
        for target in targets(item) + added_targets(item):
            label = request.POST.get(f"label-{target.name}", "")
            if not label:
                continue
            try:
                labels.record(item, target.name, label, request.user, request=request)
                saved += 1
            except labels.ReviewError as exc:
                errors.append(exc.message)
        for error in errors:
            self.message_user(request, error, messages.ERROR)
        if errors:
            return redirect(request.path)
        self.message_user(request, f"{saved} labels saved.", messages.SUCCESS)
        if "_stay" in request.POST:
            return redirect(request.path)
        following = self._next_unreviewed(request, item)
        if following is None:
            return redirect(reverse("admin:review_reviewitem_changelist"))
        return redirect(reverse("admin:review_reviewitem_change", args=[following.pk]))

    def _next_unreviewed(self, request, item):
        queryset = self.get_queryset(request).filter(reviewed=False).exclude(pk=item.pk)
        older = queryset.filter(created_at__lte=item.created_at).order_by("-created_at", "id")
        return older.first() or queryset.order_by("-created_at", "id").first()

    def _context(self, request, item):
        current = {
            label.target: label for label in ReviewLabel.objects.filter(result=item, current=True)
        }
        payload = item.payload if isinstance(item.payload, dict) else {}
        video = payload.get("video") if isinstance(payload.get("video"), dict) else None
        duration = (video or {}).get("duration_s") or 0
        rows = []
        for number, target in enumerate(targets(item) + added_targets(item), start=1):
            probabilities = sorted(target.probabilities.items(), key=lambda kv: -kv[1])
            review = current.get(target.name)
            rows.append(
                {
                    "number": number,
                    "target": target,
                    "probabilities": [(k, v, round(v * 100)) for k, v in probabilities],
                    "review": review,
                    "selected": review.reviewed_label if review else target.model_label,
                    "box": _box_dict(target.box),
                    "keyframes": [
                        {
                            "t": at_s,
                            "url": reverse("admin:review_keyframe", args=[item.pk, target.name, k]),
                        }
                        for k, (at_s, _) in enumerate(target.keyframes)
                    ],
                    "span": _span_dict(target.span, duration),
                }
            )
        size = payload.get("image") if isinstance(payload.get("image"), dict) else {}
        width = size.get("width") or item.media.width or 1
        height = size.get("height") or item.media.height or 1
        image_url = None
        if item.media.kind == "image":
            image_url = reverse("reporting:media-image", args=[item.media_id]) + "?size=900"
        following = self._next_unreviewed(request, item)
        return {
            **self.admin_site.each_context(request),
            "title": f"Review {item.analyzer} result",
            "opts": self.model._meta,
            "original": item,
            "item": item,
            "rows": rows,
            "image_url": image_url,
            "width": width,
            "height": height,
            "context_faces": [
                {**_box_dict(box), "label": label, "number": i}
                for i, (box, label) in enumerate(context_faces(item), start=1)
            ],
            "video": video,
            "timeline": _timeline(payload.get("timeline"), duration) if video else [],
            "components": payload.get("components") or [],
            "disagreement": payload.get("disagreement"),
            "history": ReviewLabel.objects.filter(result=item).select_related("reviewer"),
            "next_url": (
                reverse("admin:review_reviewitem_change", args=[following.pk])
                if following
                else None
            ),
            "sentiment_labels": SENTIMENT_LABELS,
            "can_add_faces": (
                item.analyzer in face_analyzers()
                and item.media.kind == "image"
                and self.has_change_permission(request, item)
            ),
            "face_labels": FACE_LABELS,
            "add_face_url": reverse("admin:review_add_face", args=[item.pk]),
            "can_change": self.has_change_permission(request, item),
        }


def _span_dict(span, duration: float):
    """Where a track lies on the video's timeline, in percent of its length."""
    if span is None or not duration:
        return None
    first, last = span
    left = max(0.0, min(100.0, first / duration * 100))
    width = max(1.0, min(100.0 - left, (last - first) / duration * 100))
    return {"first": first, "last": last, "left": round(left, 2), "width": round(width, 2)}


def _timeline(rows, duration: float) -> list[dict]:
    """The per-second strip under the tracks: faces seen and the top emotion each second."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("second"), int):
            continue
        left = row["second"] / duration * 100 if duration else 0
        out.append(
            {
                "second": row["second"],
                "label": row.get("label") or "",
                "faces": row.get("face_count") or 0,
                "left": round(min(100.0, left), 2),
                "width": round(min(100.0 - left, 100 / duration), 2) if duration else 0,
            }
        )
    return out


def _box_dict(box):
    if box is None:
        return None
    x1, y1, x2, y2 = box
    return {"x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1}


@admin.register(ReviewLabel)
class ReviewLabelAdmin(TenantScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every review ever recorded: who labelled what, when, and what it replaced."""

    list_display = (
        "result",
        "target",
        "model_label",
        "reviewed_label",
        "reviewer",
        "reviewed_at",
        "current",
    )
    list_filter = ("current", "result__analyzer", "reviewer", "reviewed_label")
    list_select_related = ("result", "reviewer")
    readonly_fields = [f.name for f in ReviewLabel._meta.fields]
