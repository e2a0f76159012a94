"""Typed errors of the returns domain.

Each carries a stable ``code`` for APIs and a message a customer or agent can read; callers map them to
4xx responses, never to a 500.
"""

from __future__ import annotations


class ReturnsError(Exception):
    code = "returns_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ReturnsError):
    """The request itself is wrong (bad id, quantity, unknown SKU); retrying it cannot help."""

    code = "invalid_request"


class NotFound(ReturnsError):
    code = "not_found"


class NotReturnable(ReturnsError):
    """The items cannot be returned (any more): window, final sale, or already returned."""

    code = "not_returnable"


class ConcurrencyConflict(ReturnsError):
    """Someone else changed the document first (stale etag)."""

    code = "conflict"


class InvalidTransition(ReturnsError):
    code = "invalid_transition"
