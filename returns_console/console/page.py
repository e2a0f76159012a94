"""The staff dashboard page; everything on it comes from the JSON API and the /ws/console/ feed."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from customers import clock
from customers.domain import Resolution, Shipping
from customers.services.authority import approval_limit_cents, is_supervisor
from returns_console.console import presence


@require_GET
@staff_member_required  # anyone else is sent to the staff login, which comes back here
@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    limit = approval_limit_cents(request.user)
    context = {
        "resolutions": [str(value) for value in Resolution],
        "shipping_options": [str(value) for value in Shipping],
        "approval_limit_cents": "" if limit is None else limit,
        "can_retry": is_supervisor(request.user),
        "presence_refresh_ms": presence.REFRESH_SECONDS * 1000,
        "server_now": clock.now().isoformat(),  # waiting times count on the app's clock, not the agent's laptop
        "staff": get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .order_by("username")
        .values_list("username", flat=True),
    }
    return render(request, "console/index.html", context)


@require_GET
@staff_member_required
def insights(request: HttpRequest) -> HttpResponse:
    """Insights for supervisors: the page draws /console/api/insights (charts by Chart.js, served locally)."""
    if not is_supervisor(request.user):
        return render(request, "console/insights.html", {"refused": True}, status=403)
    return render(request, "console/insights.html", {"refused": False, "today": clock.store_today().isoformat()})
