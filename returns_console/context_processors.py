"""Template context every page gets."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def live_sockets(request: HttpRequest) -> dict[str, str]:
    """The port the page opens its websocket on (empty: the page's own); see WEBSOCKET_PORT in settings."""
    return {"websocket_port": settings.WEBSOCKET_PORT}
