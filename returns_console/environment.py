"""Settings read from the environment: a value that cannot work stops start-up, naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured


def env_int(name: str, default: int, minimum: int = 0, environ: Mapping[str, str] = os.environ) -> int:
    """A whole number from the environment; anything else stops start-up with the variable's name."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.lstrip("-").isdigit() or int(raw) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least {minimum}, not {raw!r}.")
    return int(raw)
