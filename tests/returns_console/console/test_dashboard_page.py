"""The dashboard page is for staff: others are sent to the staff login, which brings them back."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=/console/")


def test_non_staff_users_are_refused(client):
    client.force_login(get_user_model().objects.create_user("shopper", password="pw-shopper-1"))
    response = client.get("/console/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_get_the_dashboard_with_their_limit_and_the_options(client):
    from customers.services.staff import ensure_demo_staff

    ensure_demo_staff("pw-demo-1")
    client.force_login(get_user_model().objects.get(username="agent"))
    page = client.get("/console/").content.decode()
    assert 'data-user="agent"' in page and 'data-limit="20000"' in page and 'data-can-retry=""' in page
    assert (
        "Store Credit" in page
        and "Prepaid Shipping Label" in page
        and 'type="module" src="/static/console/main.js"' in page
    )
    assert 'data-presence-refresh-ms="25000"' in page  # inside presence's 60 s time to live


def test_the_dashboard_opens_its_socket_on_the_configured_websocket_port(client, settings):
    settings.WEBSOCKET_PORT = "8001"
    client.force_login(get_user_model().objects.create_user("ada", password="pw-ada-1", is_staff=True))
    page = client.get("/console/").content.decode()
    assert '<meta name="websocket-port" content="8001">' in page and "/static/shared/sockets.js" in page


@pytest.mark.parametrize("value", ["eight", "0", "70000", "80 01"])
def test_a_websocket_port_that_is_not_a_port_stops_the_app_at_start(value):
    import os
    import subprocess
    import sys

    env = {**os.environ, "WEBSOCKET_PORT": value, "DJANGO_SETTINGS_MODULE": "returns_console.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "WEBSOCKET_PORT must be a port number" in result.stderr
