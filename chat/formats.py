"""Dates and numbers as the customer's language writes them."""

from __future__ import annotations

from datetime import date

from babel.core import UnknownLocaleError
from babel.dates import format_skeleton
from django.utils import translation


def short_date(day: date) -> str:
    """ "26 Nov" in Britain, "Nov 26" in the US, "26 nov" in Spain: the active language's day and short month."""
    locale = translation.to_locale(translation.get_language() or "en-us")
    try:
        return format_skeleton("MMMd", day, locale=locale)
    except (UnknownLocaleError, ValueError):
        return format_skeleton("MMMd", day, locale="en_US")
