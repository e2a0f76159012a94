"""What the LLM engine adds to a customer's wait for the model's first words.

20 customers (by default) talk to the chat over SSE, typing, with the LLM engine pointed at our fake
OpenAI-compatible server (tests/chat/engine/llm/fake_openai.py) that waits a fixed delay before its first token.
For each typed turn we measure the time from the request to the first *text delta* the customer receives (not the
progress line sent first), and in the same run the model's own time to its first token, asked directly.
Our added time = the first, minus the second.

Target: added time p50 <= 30 ms at 20 customers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat import Pacing, crowd_stats, prepared_env  # noqa: E402
from returns_console import devstack  # noqa: E402
from tests.chat.engine.llm.fake_openai import FakeOpenAI, Step  # noqa: E402

TURNS = ["hi there", "my smart home hub arrived cracked", "what are my options?", "thanks, I'll think about it"]
REPLY = "Sorry to hear that! I can help you return it: would you like a refund, an exchange or store credit?"


async def first_text_delta(session: aiohttp.ClientSession, url: str, body: dict, headers: dict) -> tuple[float, dict]:
    """Seconds to the first assistant text delta, and the stream's thread.created event (if any)."""
    started = time.perf_counter()
    first = None
    created: dict = {}
    buffer = b""
    async with session.post(url, data=json.dumps(body), headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:200]!r}")
        async for chunk in response.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                if not block.startswith(b"data: "):
                    continue
                event = json.loads(block[6:])
                if event["type"] == "thread.created":
                    created = event
                if event["type"] == "error":
                    raise RuntimeError(f"error event: {event}")
                update = event.get("update") or {}
                if first is None and event["type"] == "thread.item.updated" and update.get("delta"):
                    first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no text delta in the answer")
    return first, created


async def customer(base: str, pacing: Pacing, firsts: list[float]) -> None:
    await pacing.arrive()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{base}/chat/") as page:
            await page.read()
        token = session.cookie_jar.filter_cookies(URL(base))["csrftoken"].value
        headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
        signed_in = {"email": "rjohnson@company.com", "order_id": "ORD-79001"}
        async with session.post(f"{base}/chat/session", json=signed_in, headers=headers) as signed:
            if signed.status != 200:
                raise RuntimeError(f"sign-in {signed.status}")
        thread_id = None
        for index, text in enumerate(TURNS):
            if index:
                await pacing.read_answer()
            content = [{"type": "input_text", "text": text}]
            message = {"content": content, "attachments": [], "inference_options": {}}
            body = (
                {"type": "threads.create", "params": {"input": message}}
                if thread_id is None
                else {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": message}}
            )
            first, created = await first_text_delta(session, f"{base}/chatkit", body, headers)
            firsts.append(first)
            thread_id = thread_id or created["thread"]["id"]


async def model_floor(fake_url: str, samples: int) -> list[float]:
    """The fake model's own time to its first token, asked directly (what no engine can beat)."""
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(samples):
            started = time.perf_counter()
            body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(f"{fake_url}/v1/chat/completions", json=body) as response:
                async for line in response.content:
                    if b'"content": "' in line and b'"content": ""' not in line:
                        times.append(time.perf_counter() - started)
                        break
                await response.read()
    return times


async def run(base: str, fake_url: str, size: int, pacing: Pacing) -> dict:
    floor = await model_floor(fake_url, 20)
    firsts: list[float] = []
    started = time.perf_counter()
    results = await asyncio.gather(*(customer(base, pacing, firsts) for _ in range(size)), return_exceptions=True)
    return {
        "size": size,
        **crowd_stats(firsts, results),
        "model_p50": statistics.median(floor) * 1000,
        "seconds": time.perf_counter() - started,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--first-token-ms", type=float, default=300.0, help="the fake model's delay to first token")
    parser.add_argument("--web-processes", type=int, default=devstack.web_processes())
    parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX"))
    parser.add_argument("--ramp", type=float, default=3.0)
    args = parser.parse_args()
    pacing = Pacing((args.think[0], args.think[1]), args.ramp)
    with tempfile.TemporaryDirectory() as tmp_dir, FakeOpenAI() as fake:
        fake.default = Step(text=REPLY, first_token_delay=args.first_token_ms / 1000)
        tmp = Path(tmp_dir)
        with devstack.backing_services(tmp / "logs") as service_env:
            env = prepared_env(
                tmp,
                service_env,
                ASSISTANT_ENGINE="llm",
                OPENAI_API_KEY="bench",
                OPENAI_BASE_URL=f"{fake.url}/v1",
                OPENAI_MODEL="fake-model",
            )
            port = devstack.free_port()
            webs = devstack.start_web(env, port, args.web_processes, tmp / "web.log")
            try:
                devstack.wait_for_port(port, webs[0], "daphne")
                row = asyncio.run(run(f"http://127.0.0.1:{port}", fake.url, args.customers, pacing))
            finally:
                for web in webs:
                    devstack.stop_process(web)
    added = row["first_p50"] - row["model_p50"]
    print(
        f"LLM engine, {row['size']} customers typing ({len(TURNS)} turns each, {args.think[0]:g}-{args.think[1]:g} s"
        f" apart), fake model with a {args.first_token_ms:g} ms first-token delay, {args.web_processes} Daphne"
        " processes"
    )
    print(f"{'turns':>6} {'errors':>6} | {'first text p50':>14} {'p99':>8} | {'model alone p50':>15} | added p50")
    print(
        f"{row['turns']:>6} {row['errors']:>6} | {row['first_p50']:>12.1f}ms {row['first_p99']:>6.1f}ms |"
        f" {row['model_p50']:>13.1f}ms | {added:>6.1f}ms   {row['first_error']}"
    )
    ok = row["errors"] == 0 and added <= 30
    print(f"target (added time to the first text delta p50 <= 30 ms, 0 errors): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
