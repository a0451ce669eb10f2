"""The HTTP API keeps the contract its OpenAPI document states, checked by Schemathesis.

The real app (routes, limits, errors, middleware) answers over HTTP on loopback from an
in-process uvicorn, with an assistant on the tiny course and the fake embedder, so each
generated request is answered in milliseconds. Schemathesis runs its example, coverage and
fuzzing phases on every operation, at most `MAX_EXAMPLES` generated cases each (the same
ones every run; raise it locally to explore further), and checks every response: no 5xx,
documented statuses, content types, bodies and stream events, schema-valid requests accepted
and schema-invalid ones refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from cert_assistant.api import create_app
from cert_core.settings import Settings
from ingest import ChunkStore
from retrieval import Assistant, HybridRetriever

MAX_EXAMPLES = 60
START_SECONDS = 20


def contract_settings(folder: Path, **overrides: Any) -> Settings:
    """The app under test: no rate limit (one client sends every request), no demo page."""
    values: dict[str, Any] = {
        "data_dir": folder / "data",
        "feedback_db": folder / "feedback.sqlite3",
        "rate_limit_per_minute": 0,
        "demo_dir": None,
    }
    return Settings(**{**values, **overrides})


def tiny_app(store: ChunkStore, embedder: Any, settings: Settings) -> FastAPI:
    """The real app, answering from the tiny course through the fake embedder."""
    retriever = HybridRetriever(store=store, embedder=embedder)
    return create_app(settings, assistant=Assistant(retriever, settings))


def _document() -> dict[str, Any]:
    """The OpenAPI document the app under test serves (`test_the_served_document_is_tested`).

    Built when pytest collects this module: Schemathesis makes one test per operation then,
    and its fixture-based loader does not run under this pytest. Building the app reads
    nothing from disk.
    """
    return create_app(contract_settings(Path("unused"))).openapi()


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES},
        # A question or history over its limit is a documented 413 (`field` names which),
        # not the 400/422 Schemathesis expects by default for schema-invalid requests.
        "checks": {
            "negative_data_rejection": {"expected-statuses": ["413", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@pytest.fixture
def api_url(tiny_index: ChunkStore, fake_embedder, tmp_path: Path) -> Iterator[str]:
    """Base URL of the app, served by uvicorn on a free loopback port until the test ends."""
    app = tiny_app(tiny_index, fake_embedder, contract_settings(tmp_path))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start the app under test")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_served_document_is_tested(api_url: str) -> None:
    served = httpx.get(f"{api_url}/openapi.json", timeout=10).json()
    assert served == _document()


@pytest.mark.timeout(90)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a gate that never flakes
    database=None,  # nothing kept between runs
    # One server for all the cases of an operation, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, api_url: str) -> None:
    case.call_and_validate(base_url=api_url, timeout=10)


def test_the_documented_limits_are_the_enforced_ones(
    tiny_index: ChunkStore, fake_embedder, tmp_path: Path
) -> None:
    """Both sides of each limit, which generated cases may not reach."""
    limits = contract_settings(tmp_path, max_question_chars=40, max_history_turns=3)
    turn = {"role": "user", "content": "What are the levels?"}
    with TestClient(tiny_app(tiny_index, fake_embedder, limits)) as client:
        request = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
        longest = request["properties"]["question"]["maxLength"]
        most = request["properties"]["history"]["maxItems"]

        def status(question: str, turns: int = 0) -> int:
            body = {"question": question, "history": [turn] * turns}
            return client.post("/api/chat", json=body).status_code

        assert (longest, most) == (40, 3)
        assert status("  " + "x" * (longest - 2)) == 200
        assert status("  " + "x" * (longest - 1)) == 413  # spaces count, as sent
        assert status("Which levels are there?", turns=most) == 200
        assert status("Which levels are there?", turns=most + 1) == 413
        assert status(" \t\u3000") == 422  # blank to the schema's `not` pattern too
