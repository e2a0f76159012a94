"""Django's stock middleware, run inline on the event loop under ASGI.

``MiddlewareMixin`` runs every ``process_request``/``process_response``/``process_view`` of an async request in a
worker thread (about fifteen hops a request, plus a new thread per request). These hooks only look at headers and
cookies, so here they run inline; the one that can touch the database, saving a changed session, still goes to a
thread. Django refuses database access on the event loop (SynchronousOnlyOperation), so a hook that started doing
I/O would fail loudly in the tests rather than block the loop.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security
from django.utils.deprecation import MiddlewareMixin

from returns_console.csp import content_security_policy


class InlineHooks:
    """Async path of MiddlewareMixin with the hooks called directly instead of through sync_to_async."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class LocaleMiddleware(InlineHooks, locale.LocaleMiddleware):
    """The language from the browser's Accept-Language (or the django_language cookie): headers only."""


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    async def process_view(self, request: HttpRequest, *args: Any) -> HttpResponseBase | None:
        # The body of an ASGI request is already in memory: reading the form token does no I/O.
        return super().process_view(request, *args)


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


class ContentSecurityPolicyMiddleware(InlineHooks, MiddlewareMixin):
    """Sends returns_console.csp's policy with every response, in development too, so a page that needs an inline
    script breaks at once rather than in production."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        # Django's DEBUG error pages are inline-styled; only they go without.
        debug_page = settings.DEBUG and response.status_code >= 400
        if "Content-Security-Policy" not in response and not debug_page:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response


class SessionMiddleware(sessions.SessionMiddleware):
    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.process_request(request)
        response = await self.get_response(request)
        session = request.session
        if getattr(session, "modified", False) or settings.SESSION_SAVE_EVERY_REQUEST:
            return await sync_to_async(self.process_response)(request, response)  # saves: database I/O
        return self.process_response(request, response)
