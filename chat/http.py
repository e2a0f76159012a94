"""How the JSON endpoints refuse: one error body (``{"error": code, "message": ...}``) for every view, and method
checks and unknown addresses that answer in it rather than with Django's HTML pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found

View = Callable[..., Awaitable[HttpResponse]]


def error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def allow(*methods: str) -> Callable[[View], View]:
    """Only these methods reach the (async) view; others get 405 with the Allow header and a JSON reason."""

    def decorate(view: View) -> View:
        @wraps(view)
        async def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"Use {' or '.join(methods)} here.")
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
        return error(404, "not_found", f"Nothing is at {request.path[:200]}.")
    return page_not_found(request, exception or Exception("not found"))
