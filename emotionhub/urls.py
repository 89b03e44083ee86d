from django.contrib import admin
from django.urls import include, path

from emotionhub.api.metrics import metrics_view
from emotionhub.apibase.errors import json_not_found, json_server_error
from emotionhub.home import views as home_views
from emotionhub.realtime.views import demo_page

urlpatterns = [
    path("", home_views.landing, name="home"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("emotionhub.api.urls")),
    path("reporting/", include("emotionhub.reporting.urls")),
    path("realtime/", demo_page, name="realtime-demo"),
]


handler403 = home_views.forbidden


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    from django.views.defaults import server_error

    return server_error(request)
