"""Bounded load on loopback: 20 concurrent clients, ~300 eval questions, one API process.

Asserts that nothing fails and every answer is complete; latency is reported, not asserted
(the machine is shared). Figures go to the test output and `test-artifacts/load.json`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_process import api_env, running_api

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "evals" / "dev.jsonl"
REPORT = ROOT / "test-artifacts" / "load.json"
CLIENTS = 20
QUESTIONS = 300
TIME_BOUND = 60.0  # seconds: no new question is sent after this
STREAM_EVERY = 3  # every third question uses the SSE endpoint


def _questions() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line]
    items = [{"question": r["question"], "history": r.get("history") or []} for r in rows]
    return [items[n % len(items)] for n in range(QUESTIONS)]


def _done_payload(body: str) -> dict[str, Any] | None:
    """The `done` event's data of an SSE body, or None (an `error` event counts as failure)."""
    for block in body.split("\n\n"):
        lines = block.splitlines()
        if "event: done" in lines:
            return json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
    return None


def _complete(answer: dict[str, Any] | None) -> bool:
    if not answer or not answer.get("answer", "").strip():
        return False
    return bool(answer["citations"]) or answer["refused"] is True


async def _run(url: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
    for item in enumerate(questions):
        queue.put_nowait(item)
    latencies: list[float] = []
    failures: list[str] = []
    started = time.monotonic()

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty() and time.monotonic() - started < TIME_BOUND:
            number, item = queue.get_nowait()
            stream = number % STREAM_EVERY == 0
            sent = time.monotonic()
            try:
                path = "/api/chat/stream" if stream else "/api/chat"
                response = await http.post(f"{url}{path}", json=item)
                ok = response.status_code == 200
                answer = _done_payload(response.text) if stream and ok else None
                if ok and not stream:
                    answer = response.json()
            except httpx.HTTPError as error:
                failures.append(f"{number}: {error!r}")
                continue
            latencies.append(time.monotonic() - sent)
            if not ok:
                failures.append(f"{number}: HTTP {response.status_code} {response.text[:200]}")
            elif not _complete(answer):
                failures.append(f"{number}: incomplete answer {response.text[:200]}")

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    seconds = time.monotonic() - started
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "clients": CLIENTS,
        "planned": len(questions),
        "answered": len(latencies),
        "failures": failures,
        "seconds": round(seconds, 2),
        "throughput_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(quantiles[49] * 1000),
        "p95_ms": round(quantiles[94] * 1000),
        "max_ms": round(max(latencies, default=0) * 1000),
        "stopped_at_time_bound": len(latencies) < len(questions),
    }


def test_twenty_clients_get_complete_answers_without_errors(
    real_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = api_env(
        data_dir=real_index,
        feedback_db=tmp_path / "feedback.sqlite3",
        rate_limit_per_minute=1_000_000,  # one client address sends everything here
        rate_limit_burst=1_000_000,
    )
    with running_api(env, tmp_path / "api.log") as api:
        figures = asyncio.run(_run(api.url, _questions()))
        log = api.log_text()

    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    with capsys.disabled():
        print(
            f"\nload: {figures['answered']}/{figures['planned']} answers from {CLIENTS} clients "
            f"in {figures['seconds']} s ({figures['throughput_per_s']}/s); "
            f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, max {figures['max_ms']} ms"
            + (" (stopped at the time bound)" if figures["stopped_at_time_bound"] else "")
        )
    assert figures["failures"] == []
    assert figures["answered"] > 0
    assert "Traceback" not in log
