"""The local Cosmos emulator with a data directory keeps every acknowledged write: across a graceful stop, a
SIGKILL, a torn last journal line and compaction, with etags and _ts as they were. Real emulator processes on free
ports, the real ``azure.cosmos.aio`` client, each process stopped by its pid."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient
from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError

from customers.cosmos.client import EMULATOR_KEY, CosmosConfig, cosmos_client
from returns_console import devstack

pytestmark = pytest.mark.timeout(120)

DATABASE = "durable"
CONTAINER = "items"


class Emulators:
    """Starts emulators on one data directory, one at a time, and stops whatever is left at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "cosmos"
        self.log = tmp_path / "cosmos-emulator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self, compact_mb: float | None = None) -> str:
        port = devstack.free_port()
        args = [
            "node",
            str(devstack.EMULATOR_SCRIPT),
            "--port",
            str(port),
            "--no-ssl",
            "--data-dir",
            str(self.data_dir),
        ]
        if compact_mb is not None:
            args += ["--compact-mb", str(compact_mb)]
        self.process = devstack.spawn(args, log=self.log)
        devstack.wait_for_port(port, self.process, "cosmos emulator", log=self.log)
        self.endpoint = f"http://127.0.0.1:{port}"
        return self.endpoint

    def stop(self) -> int:
        """Graceful: SIGTERM, as `make run` does on Ctrl-C."""
        assert self.process is not None
        devstack.stop_process(self.process)
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)  # reaped, so the next start sees its lock as stale at once

    def restart(self, compact_mb: float | None = None) -> str:
        self.stop()
        return self.start(compact_mb)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[Emulators]:
    emulators = Emulators(tmp_path)
    yield emulators
    if emulators.process is not None:
        devstack.stop_process(emulators.process)


@asynccontextmanager
async def client(endpoint: str, **options: Any) -> AsyncIterator[CosmosClient]:
    async with cosmos_client(CosmosConfig(endpoint, EMULATOR_KEY, DATABASE, verify_tls=False)) as opened:
        yield opened


async def container(opened: CosmosClient) -> ContainerProxy:
    database = await opened.create_database_if_not_exists(DATABASE)
    return await database.create_container_if_not_exists(id=CONTAINER, partition_key=PartitionKey(path="/pk"))


async def everything(endpoint: str) -> dict[str, Any]:
    """The whole account as a client sees it: databases, containers, and every item with its system properties."""
    async with client(endpoint) as opened:
        state: dict[str, Any] = {}
        async for database in opened.list_databases():
            proxy = opened.get_database_client(database["id"])
            state[database["id"]] = {"_props": database}
            async for properties in proxy.list_containers():
                items = proxy.get_container_client(properties["id"]).read_all_items()
                state[database["id"]][properties["id"]] = {
                    "_props": properties,
                    **{item["id"]: item async for item in items},
                }
        return state


async def write_a_bit_of_everything(endpoint: str) -> dict[str, str]:
    """Creates, upserts, replaces with an etag, patches, deletes, batches (one applied, one refused), and a
    database and a container created and dropped. Returns etags read before the restart."""
    async with client(endpoint) as opened:
        items = await container(opened)
        for number in range(5):
            await items.create_item({"id": f"doc-{number}", "pk": "a", "n": number, "text": "ünïcode ✓"})
        await items.upsert_item({"id": "up", "pk": "b", "n": 1})
        read = await items.read_item("doc-1", partition_key="a")
        await items.replace_item("doc-1", {**read, "n": 100}, etag=read["_etag"], match_condition=_if_match())
        await items.patch_item("doc-2", partition_key="a", patch_operations=[{"op": "incr", "path": "/n", "value": 5}])
        await items.delete_item("doc-3", partition_key="a")
        order = await items.read_item("doc-4", partition_key="a")
        await items.execute_item_batch(
            [
                ("create", ({"id": "batch-1", "pk": "a", "n": 1},)),
                ("replace", ("doc-4", {**order, "n": 44}), {"if_match_etag": order["_etag"]}),
                ("upsert", ({"id": "up-a", "pk": "a", "n": 2},)),
                ("delete", ("doc-0",)),
            ],
            partition_key="a",
        )
        with pytest.raises(CosmosBatchOperationError):  # the stale etag makes the whole batch change nothing
            await items.execute_item_batch(
                [
                    ("create", ({"id": "never", "pk": "a"},)),
                    ("replace", ("doc-4", {**order, "n": 45}), {"if_match_etag": order["_etag"]}),
                ],
                partition_key="a",
            )
        scratch = await opened.create_database_if_not_exists("scratch")
        await scratch.create_container_if_not_exists(id="gone", partition_key=PartitionKey(path="/id"))
        await scratch.delete_container("gone")
        await (await opened.create_database_if_not_exists("dropped")).create_container(
            id="c", partition_key=PartitionKey(path="/id")
        )
        await opened.delete_database("dropped")
        return {item["id"]: item["_etag"] async for item in items.read_all_items()}


def _if_match() -> Any:
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified


async def test_a_restart_keeps_everything_with_the_same_etags(emulators: Emulators):
    endpoint = emulators.start()
    etags = await write_a_bit_of_everything(endpoint)
    before = await everything(endpoint)
    assert set(before) == {DATABASE, "scratch"} and set(before["scratch"]) == {"_props"}
    assert set(before[DATABASE][CONTAINER]) == {"_props", "doc-1", "doc-2", "doc-4", "up", "batch-1", "up-a"}

    assert emulators.stop() == 0
    endpoint = emulators.start()
    assert await everything(endpoint) == before  # _etag, _ts, _rid, _self: all as they were
    assert "restored 6 documents in 2 databases" in emulators.log_text()

    async with client(endpoint) as opened:
        items = await container(opened)
        # An etag read before the restart still guards a replace, and a stale one still fails.
        stored = await items.read_item("doc-1", partition_key="a")
        replaced = await items.replace_item(
            "doc-1", {**stored, "n": 101}, etag=etags["doc-1"], match_condition=_if_match()
        )
        with pytest.raises(CosmosHttpResponseError) as stale:
            await items.replace_item("doc-1", {**stored, "n": 102}, etag=etags["doc-1"], match_condition=_if_match())
        assert stale.value.status_code == 412
        # Unique ids and fresh resource ids keep working after the restore.
        with pytest.raises(CosmosHttpResponseError) as duplicate:
            await items.create_item({"id": "doc-2", "pk": "a"})
        assert duplicate.value.status_code == 409
        created = await items.create_item({"id": "after", "pk": "a"})
        rids = [item["_rid"] async for item in items.read_all_items()]
        assert len(rids) == len(set(rids)) and created["_rid"] in rids
    emulators.stop()
    endpoint = emulators.start()
    after = await everything(endpoint)
    assert after[DATABASE][CONTAINER]["doc-1"]["_etag"] == replaced["_etag"]
    assert after[DATABASE][CONTAINER]["after"] == created


async def test_sigkill_right_after_acknowledged_writes_loses_none(emulators: Emulators):
    endpoint = emulators.start()
    await write_a_bit_of_everything(endpoint)
    before = await everything(endpoint)
    async with client(endpoint) as opened:
        items = await container(opened)
        last = await items.upsert_item({"id": "last", "pk": "z", "n": 1})
        emulators.kill()  # the very moment the answer arrived
    endpoint = emulators.start()
    after = await everything(endpoint)
    assert after[DATABASE][CONTAINER].pop("last") == last
    assert after == before


async def test_a_torn_last_journal_line_is_ignored(emulators: Emulators):
    endpoint = emulators.start()
    await write_a_bit_of_everything(endpoint)
    before = await everything(endpoint)
    emulators.kill()
    journal = emulators.data_dir / "journal"
    assert journal.stat().st_size > 0
    with journal.open("ab") as file:  # what a SIGKILL in the middle of an append leaves
        file.write(b'0badc0de {"n": 999, "r": [{"p": [], "c": 7, "d": [], "u": [{"id": "half')
    endpoint = emulators.start()
    assert await everything(endpoint) == before
    assert "a torn last line of" in emulators.log_text()
    # It was dropped for good: the next start has nothing torn to skip.
    emulators.stop()
    endpoint = emulators.start()
    assert await everything(endpoint) == before
    assert emulators.log_text().count("a torn last line of") == 1


async def test_damage_before_intact_lines_refuses_to_start(emulators: Emulators):
    endpoint = emulators.start()
    async with client(endpoint) as opened:
        items = await container(opened)
        await items.create_item({"id": "one", "pk": "a"})
        await items.create_item({"id": "two", "pk": "a"})
    emulators.kill()
    journal = emulators.data_dir / "journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    journal.write_bytes(lines[0][:20] + b"X" + lines[0][21:] + b"".join(lines[1:]))  # a flipped byte, mid-file
    with pytest.raises(devstack.StartupError, match="damaged"):
        emulators.start()


async def test_one_data_dir_serves_one_emulator(emulators: Emulators, tmp_path: Path):
    emulators.start()
    second = Emulators(tmp_path)
    with pytest.raises(devstack.StartupError, match="in use by another emulator"):
        second.start()


async def test_compaction_keeps_the_state_identical(emulators: Emulators):
    endpoint = emulators.start(compact_mb=0.02)  # a snapshot every ~20 KB of journal
    async with client(endpoint) as opened:
        items = await container(opened)
        for number in range(60):
            await items.upsert_item({"id": f"doc-{number % 20}", "pk": str(number % 3), "n": number, "pad": "x" * 400})
        await items.delete_item("doc-7", partition_key="1")
    compactions = emulators.log_text().count("compacted: snapshot")
    assert compactions >= 1, emulators.log_text()
    # The last write may have started a compaction that is still writing.
    deadline = time.monotonic() + 10
    while (emulators.data_dir / "journal").stat().st_size > 0.02 * 1024 * 1024 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert (emulators.data_dir / "journal").stat().st_size <= 0.02 * 1024 * 1024
    before = await everything(endpoint)
    emulators.kill()
    endpoint = emulators.start()
    assert await everything(endpoint) == before
    emulators.stop()
    endpoint = emulators.start()
    assert await everything(endpoint) == before


async def test_a_crash_at_any_step_of_a_compaction_replays_the_same_state(emulators: Emulators, tmp_path: Path):
    endpoint = emulators.start()
    await write_a_bit_of_everything(endpoint)
    before = await everything(endpoint)
    emulators.kill()
    journal, snapshot = emulators.data_dir / "journal", emulators.data_dir / "snapshot"
    old_journal, old_snapshot = tmp_path / "journal.before", tmp_path / "snapshot.before"
    shutil.copy(journal, old_journal)
    if snapshot.exists():
        shutil.copy(snapshot, old_snapshot)
    emulators.start()  # compacts at start: a new snapshot, an empty journal
    emulators.stop()
    assert snapshot.exists() and journal.stat().st_size == 0

    # Crashed after the rename, before the truncate: the journal's lines are already in the snapshot.
    shutil.copy(old_journal, journal)
    assert await everything(emulators.start()) == before
    restored = [line for line in emulators.log_text().splitlines() if "restored" in line]
    assert "(0 journal lines replayed)" in restored[-1]  # each line was already in the snapshot
    emulators.stop()

    # Crashed while writing the snapshot: a half-written temp file beside the old state.
    shutil.copy(old_journal, journal)
    if old_snapshot.exists():
        shutil.copy(old_snapshot, snapshot)
    else:
        snapshot.unlink()
    (emulators.data_dir / "snapshot.tmp").write_bytes(b'12345678 {"snapshot": 1, "up')
    assert await everything(emulators.start()) == before
    assert not (emulators.data_dir / "snapshot.tmp").exists()


async def test_drill_sigkill_at_a_random_moment_under_concurrent_writes(emulators: Emulators):
    """Writers in many tasks, the emulator SIGKILLed at a random moment, three times over: every write that got a
    success answer is there after each restart, and every batch is there whole or not at all."""
    endpoint = emulators.start()
    async with client(endpoint) as opened:
        await container(opened)
    acknowledged: dict[str, int] = {}  # id -> the highest version acknowledged
    batches: list[tuple[str, str]] = []  # the two ids of every batch sent, answered or not

    kill_after = 0  # the kill comes right as the writers' n-th answer of the round arrives: a random moment
    answers = 0

    def ack(item: str, version: int) -> None:
        nonlocal answers
        acknowledged[item] = version
        answers += 1
        if answers == kill_after:
            emulators.kill()

    async def writer(name: str, items: ContainerProxy) -> None:
        partition = name
        counter = await items.create_item({"id": f"{name}-counter", "pk": partition, "v": 0})
        ack(counter["id"], 0)
        for step in range(1, 100_000):
            if step % 3 == 0:
                ids = (f"{name}-b{step}-1", f"{name}-b{step}-2")
                batches.append(ids)
                await items.execute_item_batch(
                    [("create", ({"id": item, "pk": partition, "v": 1},)) for item in ids], partition_key=partition
                )
                ack(ids[0], 1)
                ack(ids[1], 1)
            elif step % 3 == 1:
                counter = await items.replace_item(
                    counter["id"], {**counter, "v": step}, etag=counter["_etag"], match_condition=_if_match()
                )
                ack(counter["id"], step)
            else:
                await items.upsert_item({"id": f"{name}-u{step}", "pk": partition, "v": 1})
                ack(f"{name}-u{step}", 1)

    for round_ in range(3):
        answers, kill_after = 0, random.randint(100, 800)
        async with client(endpoint) as opened:
            items = opened.get_database_client(DATABASE).get_container_client(CONTAINER)
            writers = [writer(f"r{round_}t{task}", items) for task in range(16)]
            results = await asyncio.wait_for(asyncio.gather(*writers, return_exceptions=True), 60)
        assert all(isinstance(result, Exception) for result in results)  # every writer was cut off mid-stream
        assert answers >= kill_after

        endpoint = emulators.start()
        stored = (await everything(endpoint))[DATABASE][CONTAINER]
        lost = [item for item, version in acknowledged.items() if item not in stored or stored[item]["v"] < version]
        assert lost == [], f"round {round_}: {len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:10]}"
        half = [ids for ids in batches if (ids[0] in stored) != (ids[1] in stored)]
        assert half == [], f"round {round_}: batches half applied: {half[:5]}"


async def test_without_a_data_dir_the_emulator_stays_in_memory(tmp_path: Path):
    """What the test suite starts: nothing written to disk, nothing kept across a restart."""
    service = devstack.start_cosmos_emulator(tmp_path)
    try:
        async with client(service.url) as opened:
            await (await container(opened)).create_item({"id": "gone", "pk": "a"})
        service.stop()
        service.restart()
        async with client(service.url) as opened:
            assert [database async for database in opened.list_databases()] == []
    finally:
        service.stop()
    assert [path.name for path in tmp_path.iterdir()] == ["cosmos-emulator.log"]
