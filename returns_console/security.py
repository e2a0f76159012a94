"""Security helpers that settings.py calls while it loads, so nothing here imports Django apps or models."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

# Django's own bar for a strong key (check security.W009), so `check --deploy` and this module always agree.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
# Keys published somewhere: this repository's old compose default and image build, Django's startproject prefix.
PUBLISHED_SECRET_KEYS = frozenset({"change-me-in-production", "build", "changeme", "change-me", "secret", "dev"})
PUBLISHED_SECRET_KEY_PREFIXES = ("django-insecure-",)
HOW_TO_MAKE_ONE = "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def production_secret_key(value: str) -> str:
    """The SECRET_KEY a DEBUG=false process may run with, or ImproperlyConfigured saying why not.

    Without one each process (or container) would make its own and the others would reject its sessions and
    signed ids; a short or published one lets anyone forge them.
    """
    if not value:
        raise ImproperlyConfigured(
            f"SECRET_KEY is required when DEBUG is false: set it to a long random string ({HOW_TO_MAKE_ONE}), "
            "the same for every process of the site. For local development set DEBUG=true instead."
        )
    if value.strip().lower() in PUBLISHED_SECRET_KEYS or value.startswith(PUBLISHED_SECRET_KEY_PREFIXES):
        raise ImproperlyConfigured(f"SECRET_KEY is a published default: generate your own ({HOW_TO_MAKE_ONE}).")
    if len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different ({HOW_TO_MAKE_ONE})."
        )
    return value


class MiddlewareList(list[str]):
    """MIDDLEWARE where ``path in MIDDLEWARE`` is also true for a subclass of the class at ``path``.

    Django's deploy checks (security.W001-W003 and every HSTS, SSL-redirect, X-Frame-Options and CSRF-cookie check
    behind them) look for the stock dotted paths; ours are subclasses that only run the same hooks inline. With
    this they see the middleware that really runs, as Django's admin checks already do (``_contains_subclass``),
    and nothing has to be silenced: a middleware that is really missing is still reported.
    """

    def __contains__(self, path: object) -> bool:
        if super().__contains__(path):
            return True
        if not isinstance(path, str):
            return False
        try:
            wanted = import_string(path)
        except ImportError:
            return False
        for entry in self:
            try:
                candidate = import_string(entry)
            except ImportError:
                continue
            if isinstance(candidate, type) and isinstance(wanted, type) and issubclass(candidate, wanted):
                return True
        return False


def fail_closed_flag(raw: str | None, default: bool) -> bool:
    """A security switch from the environment: only an explicit off word turns it off, so a typo keeps it on."""
    value = (raw or "").strip().lower()
    if not value:
        return default
    return value not in {"0", "false", "no", "off"}
