"""Thread and item ids prove whose they are, so foreign ids are refused without reading anything."""

from __future__ import annotations

from chat import ownership


def test_a_thread_id_belongs_to_the_customer_it_was_made_for():
    thread_id = ownership.new_thread_id("CUST-1001")
    assert thread_id.startswith("thr_")
    assert ownership.owns_thread("CUST-1001", thread_id)
    assert not ownership.owns_thread("CUST-1002", thread_id)


def test_an_item_id_belongs_to_its_thread_only():
    thread_id = ownership.new_thread_id("CUST-1001")
    item_id = ownership.new_item_id("msg", thread_id)
    assert item_id.startswith("msg_")
    assert ownership.item_in_thread(thread_id, item_id)
    assert not ownership.item_in_thread(ownership.new_thread_id("CUST-1001"), item_id)


def test_made_up_tampered_and_malformed_ids_are_refused():
    thread_id = ownership.new_thread_id("CUST-1001")
    flipped = thread_id[:-1] + ("0" if thread_id[-1] != "0" else "1")
    for candidate in (flipped, "thr_1234", "thr_" + "0" * 32, "", thread_id.upper(), thread_id + "0", "thr_\u00e9" * 9):
        assert not ownership.owns_thread("CUST-1001", candidate), candidate


def test_ids_survive_a_key_rotation_while_the_old_key_is_a_fallback(settings):
    settings.SECRET_KEY = "old-" + "k" * 50
    thread_id = ownership.new_thread_id("CUST-1001")
    settings.SECRET_KEY = "new-" + "k" * 50
    assert not ownership.owns_thread("CUST-1001", thread_id)
    settings.SECRET_KEY_FALLBACKS = ["old-" + "k" * 50]
    assert ownership.owns_thread("CUST-1001", thread_id)
