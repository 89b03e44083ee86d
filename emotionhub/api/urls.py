from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from emotionhub.api import views
from emotionhub.api.health import HealthView
from emotionhub.audit.api import AuditEventViewSet
from emotionhub.limits.views import UsageView
from emotionhub.realtime.views import AnalyzeView, StreamTokenView
from emotionhub.reporting.api import views as reporting_views
from emotionhub.social.api import imports as social_imports
from emotionhub.social.api import views as social_views

router = DefaultRouter()
router.trailing_slash = "/?"  # accept both /jobs and /jobs/ without a redirect
router.register("submissions", views.SubmissionViewSet, basename="submission")
router.register("media", views.MediaViewSet, basename="media")
router.register("jobs", views.JobViewSet, basename="job")
router.register("results", views.ResultViewSet, basename="result")
router.register("analyzers", views.AnalyzerViewSet, basename="analyzer")
router.register("sources", social_views.SourceViewSet, basename="source")
router.register("posts", social_views.PostViewSet, basename="post")
router.register("imports", social_imports.FeedbackImportViewSet, basename="import")
router.register("brands", reporting_views.BrandViewSet, basename="brand")
router.register("audit-events", AuditEventViewSet, basename="audit_event")

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("usage", UsageView.as_view(), name="usage"),
    path("analyze", AnalyzeView.as_view(), name="analyze"),
    path("stream-tokens", StreamTokenView.as_view(), name="stream-tokens"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, so
    # the Content-Security-Policy can forbid inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("sources/<uuid:pk>/push", social_views.PushView.as_view(), name="source-push"),
    path("", include(router.urls)),
]
