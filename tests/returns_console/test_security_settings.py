"""Production settings (DEBUG=false): a strong SECRET_KEY or no start, HTTPS only, a Content-Security-Policy that the
pages pass, and `manage.py check --deploy` clean and truthful."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.checks.security import base as security_checks
from django.core.checks.security import csrf as csrf_checks
from django.core.exceptions import ImproperlyConfigured

from returns_console.security import MiddlewareList

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)


def load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str | None) -> dict[str, Any]:
    """returns_console/settings.py evaluated afresh in a production environment plus ``env`` (None: unset)."""
    production: dict[str, str | None] = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "HTTPS_ONLY": None}
    for name, value in {**production, "VAR_DIR": str(tmp_path), **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("settings_under_test", ROOT / "returns_console" / "settings.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


# --- SECRET_KEY ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "SECRET_KEY is required when DEBUG is false"),
        ("", "SECRET_KEY is required when DEBUG is false"),
        ("change-me-in-production", "published default"),
        ("build", "published default"),
        ("django-insecure-" + secrets.token_urlsafe(50), "published default"),
        ("short-but-random-" + secrets.token_hex(8), "too weak"),
        ("ab" * 40, "too weak"),  # long, but 2 different characters
    ],
)
def test_production_refuses_to_start_without_a_strong_secret_key(monkeypatch, tmp_path, key, reason):
    with pytest.raises(ImproperlyConfigured, match=reason):
        load_settings(monkeypatch, tmp_path, SECRET_KEY=key)
    assert not (tmp_path / "secret_key").exists()  # no key of its own made up either


def test_a_strong_key_is_used_and_django_agrees_it_is_strong(monkeypatch, tmp_path):
    loaded = load_settings(monkeypatch, tmp_path)
    assert loaded["SECRET_KEY"] == STRONG_KEY
    assert security_checks._check_secret_key(STRONG_KEY)


def test_development_makes_a_key_of_its_own(monkeypatch, tmp_path):
    loaded = load_settings(monkeypatch, tmp_path, DEBUG="true", SECRET_KEY=None)
    assert loaded["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert not loaded["SECURE_SSL_REDIRECT"] and not loaded["SESSION_COOKIE_SECURE"]


def test_a_rotated_out_key_keeps_verifying_what_it_signed(monkeypatch, tmp_path, settings):
    from chat import ownership

    old = secrets.token_urlsafe(50)
    loaded = load_settings(monkeypatch, tmp_path, SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=f" {old} ,")
    assert loaded["SECRET_KEY_FALLBACKS"] == [old]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = old, []
    thread_id = ownership.new_thread_id("CUST-1001")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = STRONG_KEY, loaded["SECRET_KEY_FALLBACKS"]
    assert ownership.owns_thread("CUST-1001", thread_id)
    settings.SECRET_KEY_FALLBACKS = []
    assert not ownership.owns_thread("CUST-1001", thread_id)


# --- HTTPS -----------------------------------------------------------------------------------------------------------


def test_production_is_https_only(monkeypatch, tmp_path):
    loaded = load_settings(monkeypatch, tmp_path)
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert loaded["SESSION_COOKIE_SECURE"] is True and loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 365 * 86400
    assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and loaded["SECURE_HSTS_PRELOAD"] is True
    assert loaded["X_FRAME_OPTIONS"] == "DENY"
    assert loaded["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$"]


@pytest.mark.parametrize("typo", ["flase", "disabled", "2"])
def test_a_mistyped_https_switch_stays_on(monkeypatch, tmp_path, typo):
    assert load_settings(monkeypatch, tmp_path, HTTPS_ONLY=typo)["SECURE_SSL_REDIRECT"] is True


def test_plain_http_only_when_asked(monkeypatch, tmp_path):
    loaded = load_settings(monkeypatch, tmp_path, HTTPS_ONLY="false")
    assert not loaded["SECURE_SSL_REDIRECT"] and not loaded["CSRF_COOKIE_SECURE"] and loaded["SECURE_HSTS_SECONDS"] == 0


def test_a_short_healthz_token_is_refused(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="HEALTHZ_TOKEN"):
        load_settings(monkeypatch, tmp_path, HEALTHZ_TOKEN="letmein")
    assert load_settings(monkeypatch, tmp_path, HEALTHZ_TOKEN="x" * 32)["HEALTHZ_TOKEN"] == "x" * 32


def test_http_is_redirected_to_https_but_not_the_health_probe(client, settings, monkeypatch):
    async def all_ok() -> dict[str, Any]:
        return {"status": "ok", "checks": {}}

    monkeypatch.setattr("returns_console.views.health_report", all_ok)
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    redirected = client.get("/chat/")
    assert redirected.status_code == 301 and redirected["Location"] == "https://testserver/chat/"
    behind_proxy = client.get("/console/", headers={"X-Forwarded-Proto": "https"})
    assert behind_proxy.status_code == 302  # to the login page, not to https: the proxy said it was https
    assert client.get("/healthz", headers={"X-Forwarded-Proto": "http"}).status_code == 200


# --- manage.py check --deploy --------------------------------------------------------------------------------------


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    production = {
        "DJANGO_SETTINGS_MODULE": "returns_console.settings",
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "returns.example.com",
    }
    child_env = {k: v for k, v in os.environ.items() if k != "HTTPS_ONLY"} | production | env
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production_and_silences_nothing():
    done = _check_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_sees_our_middleware_and_reports_what_is_really_wrong():
    """Django's checks look for its stock middleware paths; ours subclass them. Without HTTPS they must report the
    missing redirect, HSTS and Secure cookies (not a missing SecurityMiddleware)."""
    done = _check_deploy(HTTPS_ONLY="false")
    assert done.returncode == 1
    for found in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert found in done.stderr, done.stderr
    for absent in ("security.W001", "security.W002", "security.W003"):
        assert absent not in done.stderr


def test_middleware_list_answers_for_subclasses_and_still_misses_what_is_missing(settings):
    stock = "django.middleware.security.SecurityMiddleware"
    assert stock in MiddlewareList(["returns_console.middleware.SecurityMiddleware"])
    assert stock not in MiddlewareList(["returns_console.middleware.CommonMiddleware", "no.such.Middleware"])
    assert "no.such.Middleware" in MiddlewareList(["no.such.Middleware"])
    settings.MIDDLEWARE = MiddlewareList(["returns_console.middleware.CommonMiddleware"])
    assert [w.id for w in security_checks.check_security_middleware(None)] == ["security.W001"]
    assert [w.id for w in csrf_checks.check_csrf_middleware(None)] == ["security.W003"]


# --- Content-Security-Policy -----------------------------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_pages_carry_a_policy_with_no_inline_code(client):
    policy = _policy(client.get("/chat/"))
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    # The API and the chat's Server-Sent Events are 'self'; the live socket is on the page's host and port.
    assert policy["connect-src"] == ["'self'", "ws://testserver", "wss://testserver"]


@pytest.mark.django_db
def test_the_policy_lets_the_page_reach_its_socket_on_the_websocket_port(client, settings):
    settings.WEBSOCKET_PORT = "8001"
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    policy = _policy(client.get("/chat/", headers={"Host": "shop.example.com:8000"}))
    assert policy["connect-src"] == [
        "'self'",
        "ws://shop.example.com:8000",
        "wss://shop.example.com:8000",
        "ws://shop.example.com:8001",
        "wss://shop.example.com:8001",
    ]


@pytest.mark.django_db
def test_the_official_chatkit_cdn_only_with_a_domain_key(client, settings):
    assert "cdn.platform.openai.com" not in client.get("/chat/")["Content-Security-Policy"]
    settings.CHATKIT_DOMAIN_KEY = "domain_pk_123"
    policy = _policy(client.get("/chat/"))
    assert policy["script-src"] == ["'self'", "https://cdn.platform.openai.com"]
    assert policy["frame-src"] == ["https://cdn.platform.openai.com"]


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:Django checks for ServeStatic are disabled")  # its DEBUG-only nudge
def test_the_policy_is_sent_in_development_too(client, settings):
    settings.DEBUG = True
    assert "script-src 'self'" in client.get("/chat/")["Content-Security-Policy"]
    # Only Django's own debug error pages, inline-styled, go without it.
    assert "Content-Security-Policy" not in client.get("/no-such-page/")
    settings.DEBUG = False
    assert "Content-Security-Policy" in client.get("/no-such-page/")


class _InlineCode(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.found += [f"<{tag} {name}=...>" for name, _ in attrs if name.startswith("on") or name == "style"]
        if tag == "style":
            self.found.append("<style>")
        if any((value or "").strip().lower().startswith("javascript:") for _, value in attrs):
            self.found.append(f"<{tag} javascript: URL>")
        # A script either loads a file of ours or is data (json_script), which no policy runs.
        self._in_script = tag == "script" and not named.get("src") and named.get("type") != "application/json"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("template", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")))
def test_templates_have_no_inline_script_style_or_handlers(template: Path):
    assert _inline_code((ROOT / template).read_text()) == []


@pytest.mark.django_db
def test_rendered_pages_have_no_inline_code(client, settings, django_user_model):
    settings.CHATKIT_DOMAIN_KEY = "domain_pk_123"
    staff = django_user_model.objects.create_user("agent-csp", password="pw-agent-csp-1", is_staff=True)
    pages = {"/chat/": client.get("/chat/"), "/admin/login/": client.get("/admin/login/")}
    client.force_login(staff)
    pages["/console/"] = client.get("/console/")
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert _inline_code(response.content.decode()) == [], url
        assert "Content-Security-Policy" in response, url
