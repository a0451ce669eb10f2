"""GET /metrics: off by default, behind a bearer token, and counting what operators watch.

The app answers from the tiny course (real Chroma, fake embedder), so answers, refusals, the
index generation and its chunk count are real; the scrape is parsed with prometheus-client's
own parser.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cert_assistant.api import create_app
from cert_core.settings import Settings
from ingest import ChunkStore
from retrieval import Assistant, HybridRetriever

TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def make_client(
    tiny_index: ChunkStore, fake_embedder: Any, tmp_path: Path
) -> Callable[..., TestClient]:
    """`make_client(**settings)`: a started app over the tiny course."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(
            data_dir=tmp_path / "data",
            feedback_db=tmp_path / "feedback.sqlite3",
            rate_limit_per_minute=0,
            **overrides,
        )
        retriever = HybridRetriever(store=tiny_index, embedder=fake_embedder)
        client = TestClient(create_app(settings, Assistant(retriever, settings)))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`{(sample name, sorted labels): value}` of one scrape."""
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_are_off_by_default(make_client) -> None:
    client = make_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"],
)
def test_a_missing_or_wrong_token_gets_401_and_nothing_else(
    make_client, header: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(metrics_token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "cert_assistant_" not in response.text
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert TOKEN not in caplog.text


def test_requests_answers_refusals_feedback_and_the_index_are_counted(make_client) -> None:
    client = make_client(metrics_token=TOKEN)
    conversation = str(uuid.uuid4())
    answered = client.post(
        "/api/chat", json={"question": "How hard is the exam?", "conversation_id": conversation}
    ).json()
    assert not answered["refused"]
    assert client.post("/api/chat", json={"question": "give me a pasta recipe"}).json()["refused"]
    stream = client.post("/api/chat/stream", json={"question": "Which tools do the labs use?"})
    assert stream.status_code == 200
    ids = {k: answered[k] for k in ("interaction_id", "conversation_id")}
    for rating in ("down", "up", "down"):
        assert client.post("/api/feedback", json={**ids, "rating": rating}).status_code == 200
    assert client.post("/api/chat", json={"question": "   "}).status_code == 422
    assert client.get("/no/such/page/123").status_code == 404

    scrape = samples(client)

    def requests(route: str, method: str, status: int) -> float:
        key = (("method", method), ("route", route), ("status", str(status)))
        return scrape.get(("cert_assistant_http_requests_total", key), 0.0)

    assert requests("/api/chat", "POST", 200) == 2
    assert requests("/api/chat", "POST", 422) == 1
    assert requests("/api/chat/stream", "POST", 200) == 1
    assert requests("/api/feedback", "POST", 200) == 3
    assert requests("unmatched", "GET", 404) == 1  # a path, however odd, is never a label
    latency = (("method", "POST"), ("route", "/api/chat"), ("status", "200"))
    assert scrape[("cert_assistant_http_request_duration_seconds_count", latency)] == 2
    assert scrape[("cert_assistant_http_request_duration_seconds_sum", latency)] > 0
    assert scrape[("cert_assistant_answers_total", (("outcome", "answered"),))] == 2
    assert scrape[("cert_assistant_answers_total", (("outcome", "refused"),))] == 1
    assert scrape[("cert_assistant_feedback_total", (("rating", "down"),))] == 2
    assert scrape[("cert_assistant_feedback_total", (("rating", "up"),))] == 1
    assert scrape[("cert_assistant_index_generation", ())] >= 1
    assert scrape[("cert_assistant_index_chunks", ())] > 5


def test_the_index_gauges_follow_an_ingest(
    make_client, tiny_index: ChunkStore, tiny_course: Path, fake_embedder: Any
) -> None:
    from conftest import TINY_MODEL

    from ingest import ingest

    client = make_client(metrics_token=TOKEN)
    before = samples(client)
    extra = "## Refunds\n\nRefunds are not covered here.\n\nA second paragraph on refunds.\n"
    (tiny_course / "refunds.md").write_text(f"---\ntitle: R\npage: /r\n---\n\n{extra}", "utf-8")
    ingest([tiny_course], tiny_index, fake_embedder, model=TINY_MODEL, progress=False)

    after = samples(client)
    index = ("cert_assistant_index_generation", "cert_assistant_index_version")
    # A new generation, or (updated in place) a new version of the same one.
    assert [after[(name, ())] for name in index] > [before[(name, ())] for name in index]
    chunks = ("cert_assistant_index_chunks", ())
    assert after[chunks] > before[chunks]
