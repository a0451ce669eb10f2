"""HTTP API: every endpoint, streaming, CORS, rate and size limits, and errors without traces.

Most tests run the real assistant over the session's real index (`real_index`); a few hand
`create_app` a stand-in assistant to reach error paths (a crash, a slow answer).
"""

from __future__ import annotations

import doctest
import importlib
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cert_assistant.api import create_app
from cert_assistant.api.errors import INTERNAL_ERROR, error_response
from cert_assistant.api.pages import SWAGGER_CDN
from cert_assistant.feedback import FeedbackStore
from cert_core.settings import Settings
from retrieval import Answer, Assistant, DoneEvent, HybridRetriever, TextEvent

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
COURSE_SITE = "https://course.example.org"
FAQ_QUESTION = "How hard is the Certified MLOps Architect exam?"
ANSWER_KEYS = {"answer", "citations", "refused", "suggestions"}
SECRET = "db-password-hunter2 in /srv/secret/config.py"
HEX_ID = re.compile(r"[0-9a-f]{32}")


def _settings(data_dir: Path, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "knowledge_dir": ROOT / "knowledge",
        "feedback_db": tmp_path / "feedback.sqlite3",
        "demo_dir": ROOT / "demo",
        "allowed_origins": [COURSE_SITE],
        "rate_limit_per_minute": 10_000,
        "rate_limit_burst": 10_000,
    }
    return Settings(**{**values, **overrides})


def _assistant(settings: Settings, embedder: Any) -> Assistant:
    """An assistant over `settings`' index that reuses the session's loaded model."""
    from ingest import make_store

    retriever = HybridRetriever(
        store=make_store(settings), embedder=embedder, site_base_url=settings.site_base_url
    )
    return Assistant(retriever, settings)


@pytest.fixture(scope="module")
def real_assistant(real_index: Path, real_embedder: Any, tmp_path_factory) -> Assistant:
    return _assistant(_settings(real_index, tmp_path_factory.mktemp("x")), real_embedder)


@pytest.fixture
def make_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    """`make_client(assistant=..., **settings)`: a started app (lifespan run).

    By default the app gets the real assistant on the real index; the model and index are
    loaded only for tests that do not bring a stand-in.
    """
    with ExitStack() as stack:

        def make(assistant: Any = "real", **overrides: Any) -> TestClient:
            data_dir = tmp_path / "data"
            if assistant == "real":
                assistant = request.getfixturevalue("real_assistant")
                data_dir = request.getfixturevalue("real_index")
            settings = _settings(data_dir, tmp_path, **overrides)
            app = create_app(settings, assistant=assistant)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """`(event, data)` pairs of a text/event-stream body (keep-alive comments skipped)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def _without_ids(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in {"interaction_id", "request_id"}}


# --- chat ---------------------------------------------------------------------------------


def test_chat_returns_the_ask_json_with_ids(client: TestClient, real_assistant) -> None:
    response = client.post("/api/chat", json={"question": FAQ_QUESTION})

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ANSWER_KEYS} == real_assistant.ask(FAQ_QUESTION).to_json()
    assert not body["refused"] and "moderately difficult" in body["answer"]
    assert body["citations"][0]["url"].endswith(
        "/faq#how-hard-is-the-certified-mlops-architect-exam"
    )
    assert HEX_ID.fullmatch(body["interaction_id"])
    assert uuid.UUID(body["conversation_id"])
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_chat_keeps_the_conversation_id_and_logs_the_answer(client: TestClient, tmp_path) -> None:
    conversation = str(uuid.uuid4())
    body = client.post(
        "/api/chat", json={"question": FAQ_QUESTION, "conversation_id": conversation}
    ).json()

    assert body["conversation_id"] == conversation
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        row = db.execute(
            "SELECT conversation_id, question, answer FROM interactions WHERE public_id = ?",
            (body["interaction_id"],),
        ).fetchone()
    assert row == (conversation, FAQ_QUESTION, body["answer"])


def test_chat_follows_up_on_the_history(client: TestClient, tmp_path: Path) -> None:
    history = [
        {"role": "user", "content": "What are the common mistakes at the Foundation level?"},
        {"role": "assistant", "content": "Skipping data validation checks. [1]"},
    ]
    response = client.post(
        "/api/chat", json={"question": "How long does its preparation take?", "history": history}
    )
    assert response.status_code == 200
    assert response.json()["answer"]
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:  # the search kept for staff
        (query,) = db.execute("SELECT query FROM interactions").fetchone()
    assert "Foundation" in query


def test_a_refusal_is_an_answer_with_refused_set(client: TestClient) -> None:
    body = client.post("/api/chat", json={"question": "What is the capital of Mongolia?"}).json()
    assert body["refused"] is True and body["citations"] == []


def test_stream_sends_text_then_citations_then_the_chat_answer(client: TestClient) -> None:
    chat = client.post("/api/chat", json={"question": FAQ_QUESTION}).json()
    response = client.post("/api/chat/stream", json={"question": FAQ_QUESTION})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"text"}
    texts = [data["text"] for name, data in events if name == "text"]
    done = events[-1][1]
    assert " ".join(texts) == done["answer"]
    assert events[-2][1] == {k: done[k] for k in ("citations", "suggestions", "refused")}
    assert _without_ids(done) == {**_without_ids(chat), "conversation_id": done["conversation_id"]}
    assert done["request_id"] == response.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(done["interaction_id"])
    assert done["interaction_id"] != chat["interaction_id"]


# --- feedback -----------------------------------------------------------------------------


class Canned:
    """Answers every question at once with the same sentence: feedback tests need no model."""

    def ask(self, question: str, history: Any = None) -> Answer:
        return Answer("The exam is taken online.")

    def stream(self, question: str, history: Any = None) -> Iterator[Any]:
        yield TextEvent("The exam is taken online.")
        yield DoneEvent(Answer("The exam is taken online."))


@pytest.fixture
def canned(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(assistant=Canned())


def _answered(client: TestClient) -> dict[str, Any]:
    """A new conversation's first answer."""
    conversation = str(uuid.uuid4())
    return client.post(
        "/api/chat", json={"question": FAQ_QUESTION, "conversation_id": conversation}
    ).json()


def _rate(client: TestClient, answer: dict[str, Any], **fields: Any) -> Any:
    body = {k: answer[k] for k in ("interaction_id", "conversation_id")}
    return client.post("/api/feedback", json={**body, "rating": "up", **fields})


def _rating(db: Path, interaction_id: str) -> tuple[str | None, str | None]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT rating, comment FROM interactions WHERE public_id = ?", (interaction_id,)
        ).fetchone()


def test_feedback_is_stored_in_the_sqlite_file(client: TestClient, tmp_path: Path) -> None:
    answer = client.post("/api/chat", json={"question": FAQ_QUESTION}).json()

    response = _rate(client, answer, rating="down", comment="Too short")

    assert response.status_code == 200
    assert response.json()["status"] == "recorded"
    assert _rating(tmp_path / "feedback.sqlite3", answer["interaction_id"]) == ("down", "Too short")
    assert FeedbackStore(tmp_path / "feedback.sqlite3").summary()["thumbs_down"] == 1


def test_a_streamed_answer_is_rated_by_its_done_event(canned: TestClient, tmp_path: Path) -> None:
    conversation = str(uuid.uuid4())
    response = canned.post(
        "/api/chat/stream", json={"question": FAQ_QUESTION, "conversation_id": conversation}
    )
    done = sse_events(response.text)[-1][1]

    assert HEX_ID.fullmatch(done["interaction_id"]) and done["conversation_id"] == conversation
    assert _rate(canned, done, rating="down").status_code == 200
    assert _rating(tmp_path / "feedback.sqlite3", done["interaction_id"]) == ("down", None)


def test_interaction_ids_differ_per_answer(canned: TestClient) -> None:
    ids = {_answered(canned)["interaction_id"] for _ in range(5)}
    assert len(ids) == 5 and all(HEX_ID.fullmatch(i) for i in ids)


def test_another_conversation_cannot_rate_an_answer(canned: TestClient, tmp_path: Path) -> None:
    answer = _answered(canned)
    assert _rate(canned, answer, comment="Clear").status_code == 200

    forged = _rate(
        canned, {**answer, "conversation_id": str(uuid.uuid4())}, rating="down", comment="Bad"
    )

    assert forged.status_code == 404
    assert _rating(tmp_path / "feedback.sqlite3", answer["interaction_id"]) == ("up", "Clear")


def test_a_guessed_id_is_the_same_404_as_another_conversations(canned: TestClient) -> None:
    answer = _answered(canned)
    mine = answer["conversation_id"]
    guesses = [f"{n:032x}" for n in range(1, 4)] + ["0" * 32, "f" * 32]

    replies = [_rate(canned, {**answer, "interaction_id": guess}) for guess in guesses]
    replies.append(_rate(canned, {**answer, "conversation_id": str(uuid.uuid4())}))

    assert {r.status_code for r in replies} == {404}
    bodies = [{k: v for k, v in r.json().items() if k != "request_id"} for r in replies]
    assert all(body == bodies[0] for body in bodies)  # nothing tells which id exists
    assert "field" not in bodies[0] and "interaction_id" in bodies[0]["error"]
    assert answer["interaction_id"] not in replies[-1].text and mine not in replies[-1].text


def test_rating_twice_keeps_both_and_shows_the_latest(canned: TestClient, tmp_path: Path) -> None:
    answer = _answered(canned)
    db = tmp_path / "feedback.sqlite3"

    assert _rate(canned, answer, rating="down", comment="Too short").status_code == 200
    assert _rate(canned, answer, rating="up").status_code == 200

    assert _rating(db, answer["interaction_id"]) == ("up", None)
    with sqlite3.connect(db) as conn:
        events = conn.execute(
            "SELECT r.rating, r.comment FROM ratings AS r JOIN interactions AS i"
            " ON i.id = r.interaction WHERE i.public_id = ? ORDER BY r.id",
            (answer["interaction_id"],),
        ).fetchall()
    assert events == [("down", "Too short"), ("up", None)]


UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
CONVERSATION = "5f0c6c8e-4c3b-4a51-9d8e-2f1a7b6c9d0e"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"interaction_id": 99999999999999999999999}, "interaction_id"),  # was a 500
        ({"interaction_id": 1}, "interaction_id"),
        ({"interaction_id": "one"}, "interaction_id"),
        ({"interaction_id": UNKNOWN_ID.upper()}, "interaction_id"),
        ({"interaction_id": UNKNOWN_ID + "0"}, "interaction_id"),
        ({"interaction_id": None}, "interaction_id"),
        ({"conversation_id": None}, "conversation_id"),
        ({"conversation_id": "abc"}, "conversation_id"),
        ({"rating": "meh"}, "rating"),
        ({"comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field(
    canned: TestClient, payload: dict, field: str
) -> None:
    body = {"interaction_id": UNKNOWN_ID, "conversation_id": CONVERSATION, "rating": "up"}
    body = {k: v for k, v in {**body, **payload}.items() if v is not None}

    response = canned.post("/api/feedback", json=body)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")


# --- health, schema, widget, demo ------------------------------------------------------------


def test_healthz_reports_the_loaded_index(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["index_loaded"] is True
    assert body["chunks"] > 20
    assert "knowledge/faq.md" in body["documents"]


def test_healthz_and_chat_answer_503_without_an_index(
    make_client: Callable[..., TestClient], real_embedder: Any, tmp_path: Path
) -> None:
    empty = _settings(tmp_path / "empty-data", tmp_path)
    client = make_client(assistant=_assistant(empty, real_embedder))

    health = client.get("/healthz")
    chat = client.post("/api/chat", json={"question": FAQ_QUESTION})
    stream = client.post("/api/chat/stream", json={"question": FAQ_QUESTION})

    assert health.status_code == 503
    assert health.json()["index_loaded"] is False
    assert "cert-assistant ingest" in health.json()["error"]
    assert chat.status_code == 503 and "cert-assistant ingest" in chat.json()["error"]
    # The stream is refused before it starts, with the same JSON error as the chat.
    assert stream.status_code == 503
    assert stream.headers["content-type"] == "application/json"
    assert {k: v for k, v in stream.json().items() if k != "request_id"} == {
        k: v for k, v in chat.json().items() if k != "request_id"
    }
    assert stream.json()["request_id"] == stream.headers["X-Request-ID"]


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/chat", "/api/chat/stream", "/api/feedback", "/healthz"} <= set(spec["paths"])
    stream = spec["paths"]["/api/chat/stream"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in stream
    assert "429" in spec["paths"]["/api/chat"]["post"]["responses"]
    feedback = spec["paths"]["/api/feedback"]["post"]["responses"]
    assert "same reply" in feedback["404"]["description"]
    assert "32 lowercase hex" in feedback["422"]["description"]


def test_openapi_states_the_limits_of_the_settings(make_client) -> None:
    client = make_client(assistant=Canned(), max_question_chars=300, max_history_turns=4)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    question = schemas["ChatRequest"]["properties"]["question"]
    history = schemas["ChatRequest"]["properties"]["history"]

    assert (question["minLength"], question["maxLength"], history["maxItems"]) == (1, 300, 4)
    assert "pattern" in question["not"]  # a question of spaces only is refused too
    assert schemas["FeedbackRequest"]["properties"]["comment"]["anyOf"][0]["maxLength"] == 2000


def test_the_streams_errors_are_documented_as_they_are_sent(make_client) -> None:
    client = make_client(assistant=BrokenAssistant())
    stream = client.get("/openapi.json").json()["paths"]["/api/chat/stream"]["post"]
    refused = client.post("/api/chat/stream", json={"question": "   "})
    failed = sse_events(client.post("/api/chat/stream", json={"question": FAQ_QUESTION}).text)

    error = {"$ref": "#/components/schemas/ErrorOut"}
    for status in ("413", "422", "429", "500", "503", "504"):
        assert stream["responses"][status]["content"] == {"application/json": {"schema": error}}
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/json"
    events = stream["responses"]["200"]["content"]["text/event-stream"]["itemSchema"]["oneOf"]
    documented = {
        e["properties"]["event"]["const"]: e["properties"]["data"]["contentSchema"]["$ref"]
        for e in events
    }
    assert documented == {
        "text": "#/components/schemas/TextPayload",
        "citations": "#/components/schemas/CitationsPayload",
        "done": "#/components/schemas/ChatResponse",
        "error": "#/components/schemas/StreamErrorOut",
    }
    sent = failed[-1]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["StreamErrorOut"]
    assert sent[0] == "error" and set(sent[1]) == set(schema["properties"])


def test_widget_is_served_as_javascript_that_never_uses_inner_html(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    source = response.text
    assert "attachShadow" in source and "customElements.define" in source
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source


def test_widget_head_answers_like_get_without_a_body(canned: TestClient) -> None:
    get = canned.get("/widget.js")
    head = canned.head("/widget.js")

    assert head.status_code == 200 and head.content == b""
    per_request = {"x-request-id"}
    assert {k: v for k, v in head.headers.items() if k not in per_request} == {
        k: v for k, v in get.headers.items() if k not in per_request
    }
    assert int(head.headers["content-length"]) == len(get.content) > 0


def test_widget_is_cached_and_revalidated_by_its_etag(canned: TestClient) -> None:
    first = canned.get("/widget.js")
    etag = first.headers["etag"]

    again = canned.get("/widget.js", headers={"If-None-Match": etag})
    weak = canned.get("/widget.js", headers={"If-None-Match": f'"other", W/{etag}'})
    changed = canned.get("/widget.js", headers={"If-None-Match": '"an-older-widget"'})

    assert "max-age=" in first.headers["cache-control"] and re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == first.headers["cache-control"]
    assert weak.status_code == 304
    assert changed.status_code == 200 and changed.content == first.content


def _policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as `{directive: sources}`."""
    directives = [d.split() for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def test_demo_page_has_a_content_security_policy(canned: TestClient) -> None:
    page = canned.get("/demo/faq")
    policy = _policy(page)

    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]  # the widget talks to this API only
    scripts = policy["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert scripts[0] == "'self'" and len(scripts) == 2  # the widget, and the page's one script
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", scripts[1])
    assert "http" not in page.headers["content-security-policy"]  # no other host


def test_docs_are_off_by_default_and_nothing_loads_from_other_hosts(canned: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = canned.get(path)
        assert response.status_code == 404
        assert SWAGGER_CDN not in response.text
        assert _policy(response)["frame-ancestors"] == ["'none'"]
        assert _policy(response)["default-src"] == ["'none'"]
    assert canned.get("/openapi.json").status_code == 200  # the contract itself stays


def test_docs_turned_on_load_only_what_their_policy_names(make_client) -> None:
    docs = make_client(assistant=Canned(), api_docs=True).get("/docs")
    policy = _policy(docs)
    loaded = re.findall(r'(?:src|href)="([^"]+)"', docs.text)

    assert docs.status_code == 200
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"][0] == SWAGGER_CDN and policy["style-src"] == [SWAGGER_CDN]
    assert loaded and all(url.startswith((f"{SWAGGER_CDN}/", "data:")) for url in loaded)


def test_json_responses_carry_a_policy_that_loads_nothing(canned: TestClient) -> None:
    for response in (canned.get("/healthz"), canned.post("/api/chat", json={})):
        assert _policy(response)["default-src"] == ["'none'"]
        assert _policy(response)["frame-ancestors"] == ["'none'"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_demo_page_is_served_under_demo(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    redirect = client.get("/demo", follow_redirects=False)
    assert redirect.status_code in (307, 308) and redirect.headers["location"] == "/demo/"
    for path in ("/demo/", "/demo/faq"):
        page = client.get(path)
        assert page.status_code == 200 and '<script src="/widget.js" defer>' in page.text
    assert make_client(demo_dir=None).get("/demo/").status_code == 404


# --- CORS ---------------------------------------------------------------------------------


def _preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/api/chat/stream",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_allows_the_course_site(client: TestClient) -> None:
    preflight = _preflight(client, COURSE_SITE)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == COURSE_SITE

    response = client.post(
        "/api/chat", json={"question": FAQ_QUESTION}, headers={"Origin": COURSE_SITE}
    )
    assert response.headers["access-control-allow-origin"] == COURSE_SITE
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]


def test_cors_refuses_other_origins(client: TestClient) -> None:
    preflight = _preflight(client, "https://evil.example")
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["X-Request-ID"]

    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_defaults_to_the_origin_of_the_site_base_url(make_client) -> None:
    client = make_client(allowed_origins=[], site_base_url="https://learn.example.net/course/x")
    assert _preflight(client, "https://learn.example.net").status_code == 200
    assert _preflight(client, COURSE_SITE).status_code == 400


# --- abuse limits ---------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(make_client) -> None:
    client = make_client(rate_limit_per_minute=3, rate_limit_burst=3)
    statuses = [
        client.post("/api/chat", json={"question": FAQ_QUESTION}).status_code for _ in range(3)
    ]
    refused = client.post("/api/chat/stream", json={"question": FAQ_QUESTION})

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["request_id"] == refused.headers["X-Request-ID"]
    assert "try again" in refused.json()["error"]
    assert client.get("/healthz").status_code == 200  # health checks are never limited


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
@pytest.mark.parametrize(
    ("payload", "status", "field", "words"),
    [
        ({"question": "x" * 2001}, 413, "question", "limit is 2000"),
        (
            {"question": "Why?", "history": [{"role": "user", "content": "a"}] * 21},
            413,
            "history",
            "limit is 20",
        ),
        ({"question": "   "}, 422, "question", "empty"),
        ({"question": 42}, 422, "question", "valid string"),
        ({}, 422, "question", "required"),
        ({"question": "Why?", "history": "none"}, 422, "history", "valid list"),
        (
            {"question": "Why?", "history": [{"role": "system", "content": "x"}]},
            422,
            "history.0.role",
            "'user' or 'assistant'",
        ),  # fmt: skip
        ({"question": "Why?", "conversation_id": "abc"}, 422, "conversation_id", "UUID"),
    ],
)
def test_bad_questions_are_refused_naming_the_field(
    client: TestClient, path: str, payload: dict, status: int, field: str, words: str
) -> None:
    response = client.post(path, json=payload)
    assert response.status_code == status
    body = response.json()
    assert body["field"] == field
    assert words in body["error"]
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_malformed_json_is_a_422_with_a_clear_message(client: TestClient) -> None:
    response = client.post(
        "/api/chat", content=b'{"question": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "The request body is not valid JSON."


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"question": "Caf\xe9?"}'.encode("latin-1"), "not UTF-8"),
        (b'{"question": "Why?", "x": ' + b"[" * 33 + b"]" * 33 + b"}", "more than 32 levels"),
        (b"[" * 100_000 + b"]" * 100_000, "more than 32 levels"),  # was a RecursionError
    ],
)
@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream", "/api/feedback"])
def test_bodies_not_utf8_or_nested_too_deep_are_a_422(
    make_client, caplog, path: str, body: bytes, words: str
) -> None:
    client = make_client(assistant=Canned(), max_body_bytes=256_000)

    response = client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert words in response.json()["error"]
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_body_nested_32_levels_deep_is_read(canned: TestClient) -> None:
    body = b'{"question": "Why?", "x": ' + b"[" * 31 + b"]" * 31 + b"}"  # 32 with the object
    response = canned.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/chat", {"question": "Why \ud800?"}, "question"),
        ("/api/chat/stream", {"question": "\ud800"}, "question"),
        (
            "/api/chat",
            {"question": "Why?", "history": [{"role": "user", "content": "\udfff"}]},
            "history.0.content",
        ),
        (
            "/api/feedback",
            {
                "interaction_id": "0" * 32,
                "conversation_id": CONVERSATION,
                "rating": "up",
                "comment": "\ud800",
            },
            "comment",
        ),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(
    client: TestClient, caplog, path: str, payload: dict, field: str
) -> None:
    raw = json.dumps(payload).encode()  # escaped as JSON allows: "\\ud800"

    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert "Unicode" in response.json()["error"] and "\\ud800" in response.json()["error"]
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # nor a traceback


def test_an_error_message_quoting_a_lone_surrogate_can_still_be_sent() -> None:
    response = error_response("rid-12345678", 422, "conversation_id: found `\ud800`")
    assert json.loads(response.body)["error"] == "conversation_id: found `\\ud800`"


def test_oversized_bodies_are_refused_before_reading(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    body = json.dumps({"question": "Why?", "history": [{"role": "user", "content": "y" * 4000}]})
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["error"]
    assert response.json()["request_id"] == response.headers["X-Request-ID"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield body[:1000].encode()
        yield body[1000:].encode()

    chunked = client.post(
        "/api/chat", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


def test_a_well_formed_request_id_from_a_proxy_is_kept(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "proxy-1234abcd"})
    assert response.headers["X-Request-ID"] == "proxy-1234abcd"
    odd = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert odd.headers["X-Request-ID"] != "<script>"


# --- stand-in assistants for failures ------------------------------------------------------


class BrokenAssistant:
    """Fails the way a bug would: with an exception whose text must never reach a client."""

    def ask(self, question: str, history: Any = None) -> Answer:
        raise RuntimeError(SECRET)

    def stream(self, question: str, history: Any = None) -> Iterator[Any]:
        yield TextEvent("The first sentence is fine.")
        raise RuntimeError(SECRET)

    def info(self) -> Any:
        raise RuntimeError(SECRET)


class SlowAssistant:
    """Answers questions containing "slow" only after `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def ask(self, question: str, history: Any = None) -> Answer:
        if "slow" in question:
            time.sleep(self.seconds)
        return Answer("Done. [1]")

    def stream(self, question: str, history: Any = None) -> Iterator[Any]:
        yield TextEvent("Thinking.")
        if "slow" in question:
            time.sleep(self.seconds)
        yield DoneEvent(Answer("Thinking."))


def test_an_internal_error_returns_a_request_id_and_no_trace(make_client, caplog) -> None:
    client = make_client(assistant=BrokenAssistant())

    response = client.post("/api/chat", json={"question": FAQ_QUESTION})

    assert response.status_code == 500
    assert response.json() == {
        "error": INTERNAL_ERROR,
        "request_id": response.headers["X-Request-ID"],
    }
    for leak in ("hunter2", "Traceback", "RuntimeError", "secret"):
        assert leak not in response.text
    logged = [r for r in caplog.records if response.headers["X-Request-ID"] in r.getMessage()]
    assert logged and logged[0].exc_info and SECRET in str(logged[0].exc_info[1])


def test_a_failing_stream_ends_with_an_error_event_and_no_trace(make_client, caplog) -> None:
    client = make_client(assistant=BrokenAssistant())

    response = client.post("/api/chat/stream", json={"question": FAQ_QUESTION})

    events = sse_events(response.text)
    assert [name for name, _ in events] == ["text", "error"]
    error = events[-1][1]
    assert error == {
        "error": INTERNAL_ERROR,
        "request_id": response.headers["X-Request-ID"],
        "status": 500,
    }
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert any(error["request_id"] in r.getMessage() for r in caplog.records)


def test_an_answer_past_the_timeout_is_a_504(make_client) -> None:
    client = make_client(assistant=SlowAssistant(3), request_timeout_seconds=0.5)

    started = time.monotonic()
    response = client.post("/api/chat", json={"question": "a slow one"})
    stream = sse_events(client.post("/api/chat/stream", json={"question": "a slow one"}).text)

    assert time.monotonic() - started < 2.5  # given up on, not waited for
    assert response.status_code == 504
    assert "0.5 s" in response.json()["error"]
    assert stream[0][0] == "text" and stream[-1][0] == "error"
    assert stream[-1][1]["status"] == 504


def test_requests_run_concurrently_off_the_event_loop(make_client) -> None:
    """Two answers that each wait for the other can only finish if neither blocks the loop."""
    barrier = threading.Barrier(2, timeout=10)

    class Waiting:
        def ask(self, question: str, history: Any = None) -> Answer:
            if "wait" in question:
                barrier.wait()
            return Answer("Both arrived.")

    client = make_client(assistant=Waiting())
    results: list[int] = []

    def ask() -> None:
        results.append(client.post("/api/chat", json={"question": "wait"}).status_code)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert results == [200, 200]


def test_the_assistant_is_built_once_at_startup_and_rebuilt_after_a_failure(
    make_client, real_assistant, monkeypatch
) -> None:
    import retrieval
    from cert_core.errors import StoreUnavailableError

    calls: list[int] = []

    def flaky_make_assistant(settings: Settings) -> Assistant:
        calls.append(1)
        if len(calls) <= 2:  # down at startup and at the first health check
            raise StoreUnavailableError("Cannot reach the Chroma server at http://10.0.0.9:8000")
        return real_assistant

    monkeypatch.setattr(retrieval, "make_assistant", flaky_make_assistant)
    client = make_client(assistant=None)

    down = client.get("/healthz")
    assert down.status_code == 503 and "10.0.0.9" not in down.text
    for _ in range(3):
        assert client.post("/api/chat", json={"question": FAQ_QUESTION}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert len(calls) == 3  # built once it could be, then shared


# --- doctests -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["body", "headers", "limits", "openapi", "pages", "schemas"])
def test_the_api_doctests_pass(name: str) -> None:
    module = importlib.import_module(f"cert_assistant.api.{name}")
    failed, attempted = doctest.testmod(module, verbose=False, report=True)
    assert attempted > 0 and failed == 0
