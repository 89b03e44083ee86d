from django.urls import path

from emotionhub.reporting import media_views, views

app_name = "reporting"
urlpatterns = [
    path("", views.brand_list, name="brands"),
    path("brands/<uuid:pk>/", views.dashboard, name="dashboard"),
    path("brands/<uuid:pk>/<str:chart>.csv", views.chart_csv, name="chart-csv"),
    path("media/<uuid:pk>/image", media_views.media_image, name="media-image"),
]
