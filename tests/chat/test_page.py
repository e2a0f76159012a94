"""The chat page needs no CDN unless the official ChatKit component is configured with a domain key."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_by_default_the_page_loads_only_our_own_scripts(client):
    page = client.get("/chat/").content.decode()
    assert "cdn.platform.openai.com" not in page and "data-chatkit-domain-key" not in page
    assert "/static/chat/chatkit-client.js" in page


def test_with_a_domain_key_the_page_offers_the_official_component(client, settings):
    settings.CHATKIT_DOMAIN_KEY = "domain_pk_123"
    page = client.get("/chat/").content.decode()
    assert 'data-chatkit-domain-key="domain_pk_123"' in page
    assert f'<script src="{settings.CHATKIT_SCRIPT_URL}" async></script>' in page
    assert "/static/chat/chatkit-client.js" in page  # the fallback when the CDN cannot be reached


def test_the_page_opens_its_socket_on_the_configured_websocket_port(client, settings):
    assert '<meta name="websocket-port" content="">' in client.get("/chat/").content.decode()  # the page's own
    settings.WEBSOCKET_PORT = "8001"
    page = client.get("/chat/").content.decode()
    assert '<meta name="websocket-port" content="8001">' in page and "/static/shared/sockets.js" in page
