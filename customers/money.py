"""Integer cents written for people: one place, so every page and message writes an amount the same way."""

from __future__ import annotations


def amount(cents: int) -> str:
    """-1234 -> "-12.34": the figure without a currency (forms, audit notes, staff views)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def dollars(cents: int) -> str:
    """123456 -> "$1,234.56", -900 -> "-$9.00": what customers read."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"
