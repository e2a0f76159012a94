"""ASGI entry point: HTTP through Django (and /mcp to the MCP server), websockets through Channels with the Django
session."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")

from returns_console.request_threads import get_asgi_application

django_asgi_app = get_asgi_application()

# request_finished closes (or ages out) the connections of the thread a request used, at the end of every
# request, so at request_started there is nothing old to close or reset. Left connected, these two
# receivers cost every request a thread and a hop before the view runs (WSGI, where threads live on, keeps them).
from django.core.signals import request_started  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402

request_started.disconnect(close_old_connections)
request_started.disconnect(reset_queries)

# Import every view now: Django loads the URLconf on the first request, and importing the chat (ChatKit,
# pydantic models, the assistant) on the event loop would stall every connection of a new process for ~1 s.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018

# The pages' templates are compiled on first render otherwise (the chat page renders on the event loop).
from django.template.loader import get_template  # noqa: E402

for _page in ("chat/index.html", "console/index.html"):
    get_template(_page)

# ChatKit's pydantic models with forward references are completed on first use, which on a new process is
# tens of milliseconds on the event loop in the middle of its first customers' turns: complete them now.
from pydantic import BaseModel  # noqa: E402


def _incomplete_models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    found = []
    for sub in cls.__subclasses__():
        if not sub.__pydantic_complete__ and sub.__module__.startswith("chatkit."):
            found.append(sub)
        found.extend(_incomplete_models(sub))
    return found


for _model in dict.fromkeys(_incomplete_models(BaseModel)):
    _model.model_rebuild()

# The guided assistant's trained model (~0.2 s to read) loads now, not in a new process's first customer's turn.
from chat.engine.classifier import load_model  # noqa: E402

load_model()

# What start-up made lives as long as the process: keep it out of the collector's full passes, which otherwise
# walk all of it and pause the loop for tens of milliseconds under load.
gc.collect()
gc.freeze()

# Imported after Django is set up: routing pulls in consumers, models and settings.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from chat.routing import websocket_urlpatterns as chat_websockets  # noqa: E402
from returns_console.body_limit import BodyLimit  # noqa: E402
from returns_console.console.consumers import ConsoleConsumer  # noqa: E402
from returns_console.mcp_auth import BearerAuth, McpRouter  # noqa: E402
from returns_console.mcp_server import http_app as mcp_http_app  # noqa: E402
from returns_console.origin import AllowedHostsOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(
            McpRouter(django_asgi_app, BearerAuth(mcp_http_app)),
            settings.REQUEST_BODY_LIMITS,
            settings.REQUEST_BODY_LIMIT_BYTES,
        ),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*chat_websockets, path("ws/console/", ConsoleConsumer.as_asgi())]))
        ),
    }
)
