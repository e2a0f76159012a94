"""`make run` reconciles at every start and says so in one line; a difference is a warning, never a stop."""

from __future__ import annotations

import asyncio

from returns_console import devstack
from tests.customers.seeded import approval, seed
from tests.processes import app_env, migrate


async def test_start_up_says_whether_the_records_agree_in_one_line(
    repo, tmp_path, cosmos_service, cosmos_database, capsys
):
    env = app_env(tmp_path, "redis://127.0.0.1:1/0", cosmos_service, cosmos_database)
    await asyncio.to_thread(migrate, env)
    await seed(repo)
    assert await asyncio.to_thread(devstack.reconcile, env) is True
    assert capsys.readouterr().out.startswith("reconcile: the console's records and Cosmos agree")

    from customers.services.commit import commit_return

    await commit_return(repo, approval("proposal-unknown"))  # a return this (empty) console never recorded
    assert await asyncio.to_thread(devstack.reconcile, env) is False
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("WARNING: reconcile: 1 difference(s)")
    assert "python manage.py reconcile" in out[0]
