from django.contrib import admin
from django.urls import include, path

from returns_console.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("chat.urls")),
    path("console/", include("returns_console.console.urls")),
    path("admin/", admin.site.urls),
]
