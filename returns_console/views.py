"""Project-level views."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from returns_console.health import health_report


async def may_see_health_details(request: HttpRequest) -> bool:
    """The checks name hosts, database vendors and error texts: only for monitors holding HEALTHZ_TOKEN and for
    signed-in staff."""
    token = settings.HEALTHZ_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        user = await request.auser()
    except Exception:  # sessions unreachable (Redis down): answer as to anyone, never fail the probe
        return False
    return bool(user.is_active and user.is_staff)


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 when any does not, so load balancers can act; the details only to
    those allowed to see them (the answer depends on who asks, hence never cached)."""
    report = await health_report()
    body = report if await may_see_health_details(request) else {"status": report["status"]}
    return JsonResponse(body, status=200 if report["status"] == "ok" else 503)
