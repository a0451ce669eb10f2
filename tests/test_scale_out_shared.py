"""Scale-out with shared state: two API hosts on one Chroma, one PostgreSQL and one Redis.

The layout of the README's "Scale-out": every `cert-assistant serve` process reads the index
from a Chroma server, writes questions, answers and ratings to one PostgreSQL database
(CERT_ASSISTANT_DATABASE_URL) and counts each client's requests in one Redis
(CERT_ASSISTANT_RATE_LIMIT_STORAGE_URL). Then the staff dashboard sees the questions of both
hosts, and a client gets one budget however the load balancer spreads its requests.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from api_process import api_env, running_api
from prometheus_client.parser import text_string_to_metric_families
from streamlit.testing.v1 import AppTest

from cert_assistant import staff_access
from cert_assistant.feedback import FeedbackStore

pytestmark = [pytest.mark.server, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 6  # chat requests a minute per client, shared by both hosts
TOKEN = "scale-out-metrics-token-0123"
PASSWORD = "correct horse battery staple"
QUESTIONS = {
    "a": "How hard is the Certified MLOps Architect exam?",
    "b": "What is the capital of Mongolia?",
}


def _ingest(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cert_assistant.cli", "ingest", str(ROOT / "knowledge"), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _chat(url: str, question: str, client_ip: str):
    body = {"question": question, "conversation_id": str(uuid.uuid4())}
    # The API trusts X-Forwarded-For from 127.0.0.1 (the default proxy): the load balancer.
    headers = {"X-Forwarded-For": client_ip}
    return httpx.post(f"{url}/api/chat", json=body, headers=headers, timeout=60)


def _answers(url: str) -> dict[str, float]:
    scrape = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert scrape.status_code == 200, scrape.text
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(scrape.text)
        for s in family.samples
        if s.name == "cert_assistant_answers_total"
    }


def _staff_dashboard_text(postgres_url: str, tmp_path: Path, monkeypatch) -> str:
    """What the staff dashboard shows, signed in, with the database of the two hosts."""
    from ui.resources import load_feedback_store, load_settings, load_sign_in_throttle

    monkeypatch.syspath_prepend(str(ROOT))
    for name, value in {
        "DATA_DIR": tmp_path / "staff-data",
        "DATABASE_URL": postgres_url,
        "STAFF_PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(f"CERT_ASSISTANT_{name}", str(value))
    monkeypatch.setattr(staff_access, "auth_secrets", lambda: None)  # no provider: password
    for cache in (load_settings, load_feedback_store, load_sign_in_throttle):
        cache.clear()
    at = AppTest.from_file(str(ROOT / "ui" / "staff_app.py"), default_timeout=120)
    at.run()
    at.text_input(key="staff-password").input(PASSWORD)
    at.button(key="staff-sign-in-button").click().run()
    assert not at.exception
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    shown += [str(df.value) for df in at.dataframe]
    return "\n".join(shown)


def test_two_hosts_share_the_feedback_database_and_one_rate_budget(
    chroma_server: tuple[str, int],
    redis_url: str,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, port = chroma_server
    env = api_env(
        chroma_host=host,
        chroma_port=port,
        collection=f"shared-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        rate_limit_storage_url=redis_url,
        rate_limit_per_minute=BUDGET,
        rate_limit_burst=BUDGET,
        metrics_token=TOKEN,
    )
    _ingest(env)
    report: list[str] = []

    with ExitStack() as stack:
        apis = {
            name: stack.enter_context(running_api(env, tmp_path / f"api-{name}.log"))
            for name in ("a", "b")
        }
        # One learner per host; the learner on host A rates the answer through host B.
        asked = {name: _chat(api.url, QUESTIONS[name], f"198.51.100.{n}").json()
                 for n, (name, api) in enumerate(apis.items(), start=1)}  # fmt: skip
        rated = httpx.post(
            f"{apis['b'].url}/api/feedback",
            json={
                "interaction_id": asked["a"]["interaction_id"],
                "conversation_id": asked["a"]["conversation_id"],
                "rating": "down",
                "comment": "rated through host B",
            },
            timeout=30,
        )
        assert rated.status_code == 200, rated.text
        assert not asked["a"]["refused"] and asked["b"]["refused"]

        # One client, its requests spread over both hosts: one budget between them.
        client = f"203.0.113.{uuid.uuid4().int % 250}"
        order = ["a", "b"] * (BUDGET // 2 + 1)
        spread = [(n, _chat(apis[n].url, QUESTIONS["a"], client)) for n in order]
        statuses = [response.status_code for _, response in spread]
        over = _chat(apis["b"].url, QUESTIONS["a"], client)
        other_client = _chat(apis["a"].url, QUESTIONS["a"], "203.0.113.251")
        metrics = {name: _answers(api.url) for name, api in apis.items()}
        for api in apis.values():
            assert "Traceback" not in api.log_text()

    assert statuses == [200] * BUDGET + [429, 429]
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert other_client.status_code == 200  # the budget is per client, not per deployment
    # Each host counts what it answered itself; Prometheus sums the hosts.
    assert metrics["a"]["answered"] == 1 + BUDGET // 2 + 1
    assert metrics["b"]["answered"] == BUDGET // 2 and metrics["b"]["refused"] == 1

    # Which host served each conversation, to tell the staff store's rows apart.
    served = {answer["conversation_id"]: name for name, answer in asked.items()}
    served.update({r.json()["conversation_id"]: n for n, r in spread if r.status_code == 200})
    served[other_client.json()["conversation_id"]] = "a"
    staff = FeedbackStore(postgres_url)
    rows = staff.recent(limit=100)
    questions = [row["question"] for row in rows]
    assert {served[row["conversation_id"]] for row in rows} == {"a", "b"}
    assert set(QUESTIONS.values()) <= set(questions)
    assert len(questions) == 2 + BUDGET + 1  # every answered request, from either host
    assert [r["comment"] for r in staff.thumbs_down()] == ["rated through host B"]
    assert staff.refused_groups()[0]["question"] == QUESTIONS["b"]
    dashboard = _staff_dashboard_text(postgres_url, tmp_path, monkeypatch)
    assert QUESTIONS["a"] in dashboard and QUESTIONS["b"] in dashboard
    assert "rated through host B" in dashboard

    report += [
        f"hosts: A {apis['a'].url}, B {apis['b'].url}; feedback {staff.location}; "
        f"rate budgets {redis_url}",
        f"asked on host A: {QUESTIONS['a']!r} -> refused={asked['a']['refused']}",
        f"asked on host B: {QUESTIONS['b']!r} -> refused={asked['b']['refused']}",
        "the staff store (the dashboard's, on PostgreSQL) sees, newest first:",
        *[
            f"  {r['time']}  host {served[r['conversation_id']].upper()}  {r['question']!r}"
            f"  refused={r['refused']} rating={r['rating']}"
            for r in rows
        ],
        f"summary: {staff.summary()}",
        f"one client ({client}) alternating A,B,A,B… with {BUDGET}/minute shared in Redis: "
        f"{list(zip(order, statuses, strict=True))}, then B: {over.status_code} "
        f"(Retry-After {over.headers['Retry-After']} s)",
        f"another client on host A meanwhile: {other_client.status_code}",
        f"cert_assistant_answers_total per host: {metrics}",
        "staff dashboard (AppTest, signed in) shows both hosts' questions: "
        f"{QUESTIONS['a'] in dashboard and QUESTIONS['b'] in dashboard}",
    ]
    print("\n".join(["", "--- two hosts, one PostgreSQL, one Redis ---", *report]))
