"""Rate budgets through `limits`: per process in memory, one budget per client with Redis.

The fast tests use the in-memory storage; the `server` ones a real `redis-server` started on
loopback (tests/servers.py), with two limiters or two apps standing for two API hosts.
"""

from __future__ import annotations

import doctest
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cert_assistant.api import create_app
from cert_assistant.api.errors import APIError
from cert_assistant.api.limits import RateLimiter, make_rate_limit_storage
from cert_assistant.feedback import FeedbackStore
from cert_core.settings import Settings
from retrieval import Answer


def _limiter(per_minute: int, burst: int, url: str | None = None, name: str = "chat"):
    settings = Settings(rate_limit_storage_url=url)
    return RateLimiter(per_minute, burst, make_rate_limit_storage(settings), name)


def test_the_budget_examples_hold() -> None:
    import cert_assistant.api.limits

    result = doctest.testmod(cert_assistant.api.limits)
    assert result.attempted == 2 and result.failed == 0


def test_a_client_gets_its_budget_then_waits_while_others_go_on() -> None:
    limiter = _limiter(per_minute=3, burst=3)

    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("10.0.0.1")
    assert 55 < wait <= 60  # the first of the three leaves the minute's window then
    assert limiter.take("10.0.0.2") == 0.0


def test_a_burst_below_the_rate_is_a_budget_of_its_own() -> None:
    limiter = _limiter(per_minute=60, burst=2)  # 2 in any 2 s, and 60 in any minute

    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    assert 0 < limiter.take("a") <= 2
    time.sleep(2.1)
    assert limiter.take("a") == 0.0


def test_zero_a_minute_is_no_limit_and_chat_and_feedback_count_apart() -> None:
    unlimited = _limiter(per_minute=0, burst=1)
    assert all(unlimited.take("a") == 0.0 for _ in range(100))

    storage = make_rate_limit_storage(Settings())
    chat = RateLimiter(1, 1, storage, "chat")
    feedback = RateLimiter(1, 1, storage, "feedback")
    assert chat.take("a") == 0.0 and chat.take("a") > 0
    assert feedback.take("a") == 0.0


def test_over_budget_is_a_429_with_retry_after_in_whole_seconds() -> None:
    limiter = _limiter(per_minute=1, burst=1)
    limiter.check("a")
    with pytest.raises(APIError) as refused:
        limiter.check("a")
    assert refused.value.status == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    assert "try again in" in refused.value.message


def test_in_memory_budgets_are_per_process() -> None:
    """What the README warns about: two hosts without Redis give a client twice the rate."""
    host_a, host_b = _limiter(2, 2), _limiter(2, 2)
    allowed = [limiter.take("a") == 0.0 for limiter in (host_a, host_b) for _ in range(3)]
    assert allowed.count(True) == 4


@pytest.mark.server
def test_two_hosts_on_one_redis_share_one_budget(redis_url: str) -> None:
    client = f"10.0.0.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"  # fresh on a shared server
    host_a, host_b = _limiter(4, 4, redis_url), _limiter(4, 4, redis_url)

    allowed = [limiter.take(client) == 0.0 for _ in range(3) for limiter in (host_a, host_b)]

    assert allowed == [True, True, True, True, False, False]
    assert 55 < host_a.take(client) <= 60 and 55 < host_b.take(client) <= 60


@pytest.mark.server
def test_redis_down_lets_requests_through_and_logs_without_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from api_process import free_port

    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="cert_assistant.api"):
        limiter = _limiter(1, 1, url)
        assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert "rate-limit storage unavailable (ConnectionError)" in caplog.text
    assert "s3cret-pass" not in caplog.text and "127.0.0.1" not in caplog.text


class Canned:
    """Answers every question at once: the limit is what is under test, not the answer."""

    def ask(self, question: str, history: Any = None) -> Answer:
        return Answer("The exam is taken online.")


@pytest.mark.server
def test_two_apps_on_one_redis_answer_429_once_the_shared_budget_is_spent(
    redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        rate_limit_per_minute=3,
        rate_limit_burst=3,
        rate_limit_storage_url=redis_url,
        collection=f"limits-{uuid.uuid4().hex[:8]}",
    )
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    # A fresh client address per run: TestClient's default "testclient" is shared by tests.
    client_ip = f"192.0.2.{uuid.uuid4().int % 250}"
    apps = [create_app(settings, Canned(), store) for _ in range(2)]
    with (
        TestClient(apps[0], client=(client_ip, 1)) as a,
        TestClient(apps[1], client=(client_ip, 2)) as b,
    ):
        statuses = [
            c.post("/api/chat", json={"question": "Online?"}).status_code for c in (a, b, a)
        ]
        refused = b.post("/api/chat", json={"question": "Online?"})
        assert b.get("/healthz").status_code != 429  # health checks are never limited

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["request_id"] == refused.headers["X-Request-ID"]
