"""Project-level views."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from returns_console.health import health_report


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 (same body) when any does not, so load balancers can act."""
    report = await health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
