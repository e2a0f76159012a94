"""HTTP method checks that answer like the rest of the API: a JSON reason, not Django's empty HTML 405."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., Awaitable[HttpResponse]]


def allow(*methods: str) -> Callable[[View], View]:
    """Only these methods reach the (async) view; others get 405 with the Allow header and a JSON reason."""

    def decorate(view: View) -> View:
        @wraps(view)
        async def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = JsonResponse(
                    {"error": "method_not_allowed", "message": f"Use {' or '.join(methods)} here."}, status=405
                )
                response["Allow"] = ", ".join(methods)
                return response
            return await view(request, *args, **kwargs)

        return checked

    return decorate


require_GET = allow("GET", "HEAD")
require_POST = allow("POST")


# Paths whose callers read JSON: an address that does not exist there answers in JSON too.
JSON_PREFIXES = ("/console/api/", "/chatkit", "/chat/session", "/chat/signout", "/chat/returns/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: JSON under the API prefixes, Django's page elsewhere."""
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse({"error": "not_found", "message": f"Nothing is at {request.path[:200]}."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception("not found"))
