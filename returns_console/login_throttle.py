"""Staff sign-in throttling: /admin/login/, which is also where the console sends staff to sign in.

Each attempt takes a try from the username's bucket and the client address's bucket before the password is
checked (chat/ratelimit.py, atomic in Redis, so parallel guesses cannot overtake the limit); a success gives
its try back. A full bucket refuses every attempt until its window ends, the right password included, so a
guesser learns nothing from the answer. Any username locks, existing or not, so a lock reveals no account.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from chat import ratelimit
from chat.client_address import client_address

logger = logging.getLogger(__name__)

REFUSAL_ATTRIBUTE = "_staff_login_refusal"


@dataclass(frozen=True)
class Refusal:
    status: int
    retry_after_seconds: int | None = None


def login_buckets(username: str, address: str) -> list[ratelimit.Bucket]:
    """Usernames are compared case-blind here, so ``Admin`` and ``admin`` share one allowance of guesses."""
    window = settings.STAFF_LOGIN_WINDOW_SECONDS
    return [
        ratelimit.Bucket(
            f"staff-login:user:{username.strip().casefold()}", settings.STAFF_LOGIN_FAILURES_PER_USER, window
        ),
        ratelimit.Bucket(f"staff-login:ip:{address}", settings.STAFF_LOGIN_FAILURES_PER_ADDRESS, window),
    ]


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's login form with the throttle in ``clean``: a refusal is a form error, shown where a wrong
    password's message would be."""

    error_messages: ClassVar[dict[str, str]] = {
        **AdminAuthenticationForm.error_messages,
        "locked": (
            "Too many failed sign-ins for this account or from this address. For your security, sign-in is "
            "paused: please try again in %(minutes)s minute(s)."
        ),
        "unavailable": "Sign-in is briefly unavailable. Please try again in a moment.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # a missing field: nothing was tried, nothing counts
        buckets = login_buckets(username, client_address(self.request))
        try:
            attempt = async_to_sync(ratelimit.reserve)(buckets)
        except RedisError:
            # Never fail open: knocking Redis over must not buy a guesser unlimited tries.
            logger.exception("staff sign-in rate limiter unavailable")
            self._refuse(Refusal(503))
            raise ValidationError(self.error_messages["unavailable"], code="unavailable") from None
        if not attempt.allowed:
            self._refuse(Refusal(429, attempt.retry_after_seconds))
            minutes = max(1, math.ceil(attempt.retry_after_seconds / 60))
            raise ValidationError(self.error_messages["locked"], code="locked", params={"minutes": minutes})
        try:
            cleaned = super().clean()
        except ValidationError:
            raise  # a wrong password (or not staff): the try stays spent
        except BaseException:
            self._give_back(buckets)  # an outage is not a wrong guess
            raise
        self._give_back(buckets)
        return cleaned

    def _refuse(self, refusal: Refusal) -> None:
        if self.request is not None:
            setattr(self.request, REFUSAL_ATTRIBUTE, refusal)

    @staticmethod
    def _give_back(buckets: list[ratelimit.Bucket]) -> None:
        try:
            async_to_sync(ratelimit.release)(buckets)
        except RedisError:
            logger.warning("staff sign-in try not given back (Redis unavailable)", exc_info=True)


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin login view (its form, ``StaffLoginForm``, is set on ``admin.site.login_form`` in urls.py),
    answering a refused attempt with 429 (or 503) *and* the usual login page.

    An admin user expects the familiar form with a red note, as for a wrong password, so the page is the admin's
    own with the reason in it (browsers render it whatever the status). The status tells scripts, monitoring and
    proxies that this was a throttle rather than a wrong password, with Retry-After, as django-axes does.
    """
    response = admin.site.login(request, extra_context)
    refusal: Refusal | None = getattr(request, REFUSAL_ATTRIBUTE, None)
    if refusal is not None:
        response.status_code = refusal.status
        if refusal.retry_after_seconds:
            response["Retry-After"] = str(refusal.retry_after_seconds)
    return response
