"""The client's address, for per-address limits: REMOTE_ADDR, or X-Forwarded-For read from the right behind
``TRUSTED_PROXY_COUNT`` proxies, so a client can never choose the address it is counted under."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from chat.client_address import client_address

ROOT = Path(__file__).resolve().parents[2]


def _request(remote: str = "10.0.0.9", forwarded: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request(forwarded="203.0.113.7")) == "10.0.0.9"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.1.1.1, 2.2.2.2, 203.0.113.7", "203.0.113.7"),  # entries the client prepended are ignored
        (2, "6.6.6.6, 203.0.113.7, 10.1.1.1", "203.0.113.7"),  # the outer proxy's address is the last entry
        (1, " 203.0.113.7:51234 ", "203.0.113.7"),  # proxies that append a port
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_behind_proxies_the_client_is_counted_from_the_right(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_address(_request(forwarded=forwarded)) == expected


def test_a_client_cannot_change_its_address_by_prepending_entries(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    seen = {client_address(_request(forwarded=f"{n}.{n}.{n}.{n}, 203.0.113.7")) for n in range(1, 50)}
    assert seen == {"203.0.113.7"}


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),  # fewer entries than proxies: the furthest hop known
        (None, "10.0.0.9"),  # no header at all: the peer
        ("", "10.0.0.9"),
        ("not-an-address, 10.1.1.1", "10.0.0.9"),  # never a bucket named by the client
    ],
)
def test_short_or_malformed_headers_fall_back_sensibly(settings, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request(forwarded=forwarded)) == expected


def _settings_process(**env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process reading the settings module, as start-up does."""
    environ = {key: value for key, value in os.environ.items() if key != "TRUSTED_PROXY_COUNT"}
    environ.update(SECRET_KEY="k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz", **env)
    code = "import returns_console.settings as s; print(s.TRUSTED_PROXY_COUNT)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_the_default_trusts_no_proxy():
    assert _settings_process().stdout.strip() == "0"
    assert _settings_process(TRUSTED_PROXY_COUNT="2").stdout.strip() == "2"


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_an_invalid_count_stops_start_up_with_a_clear_message(value):
    result = _settings_process(TRUSTED_PROXY_COUNT=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured: TRUSTED_PROXY_COUNT must be a whole number of at least 0" in result.stderr
