from django.contrib import admin
from django.urls import include, path

from returns_console.login_throttle import StaffLoginForm, admin_login
from returns_console.views import healthz

handler404 = "chat.http.not_found"

# Every staff sign-in, the console's included (it redirects here), goes through the throttled form.
admin.site.login_form = StaffLoginForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("chat.urls")),
    path("console/", include("returns_console.console.urls")),
    path("admin/login/", admin_login),  # before admin.site.urls, so it answers for admin:login
    path("admin/", admin.site.urls),
]
