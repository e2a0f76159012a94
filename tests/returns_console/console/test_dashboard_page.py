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
    assert "Store Credit" in page and "Prepaid Shipping Label" in page and "console/console.js" in page
