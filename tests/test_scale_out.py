"""Scale-out: two API processes on one Chroma server follow an ingest made while they run.

The layout under test: a `chroma run` server holds the index; several `cert-assistant
serve` processes read it (CERT_ASSISTANT_CHROMA_HOST/PORT); `cert-assistant ingest` writes
a new generation and switches the manifest; each API process follows the manifest on its
next question and rebuilds its BM25 side for the new generation.
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

pytestmark = [pytest.mark.server, pytest.mark.integration]

QUESTION = "How long does it usually take to get certified?"
OLD_FACT = "30 to 90 days"
NEW_FACT = "45 to 120 days"
INGEST_SECONDS = 300


def _ingest(knowledge: Path, env: dict[str, str]) -> str:
    """Run `cert-assistant ingest` against the server, as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "cert_assistant.cli", "ingest", str(knowledge), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=INGEST_SECONDS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _ask(url: str) -> dict:
    response = httpx.post(f"{url}/api/chat", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_api_processes_answer_from_the_new_text_after_an_ingest(
    chroma_server: tuple[str, int], knowledge_copy: Path, tmp_path: Path
) -> None:
    host, port = chroma_server
    env = api_env(
        chroma_host=host,
        chroma_port=port,
        collection=f"scaleout-{uuid.uuid4().hex[:8]}",  # the server is shared by the session
        data_dir=tmp_path / "data",
        feedback_db=tmp_path / "feedback.sqlite3",  # one store, as on a single host
    )
    faq = knowledge_copy / "faq.md"
    assert OLD_FACT in faq.read_text(encoding="utf-8")
    _ingest(knowledge_copy, env)

    with ExitStack() as stack:
        apis = [stack.enter_context(running_api(env, tmp_path / f"api-{n}.log")) for n in (1, 2)]
        before = [_ask(api.url) for api in apis]
        for answer in before:
            assert OLD_FACT in answer["answer"] and not answer["refused"]

        faq.write_text(faq.read_text(encoding="utf-8").replace(OLD_FACT, NEW_FACT), "utf-8")
        report = _ingest(knowledge_copy, env)
        assert "1 updated" in report, report

        for api in apis:
            after = _ask(api.url)
            assert NEW_FACT in after["answer"], (api.url, after["answer"])
            assert OLD_FACT not in after["answer"]
            assert any(NEW_FACT in c["text"] for c in after["citations"])
            assert httpx.get(f"{api.url}/healthz", timeout=30).json()["index_loaded"]
        for api in apis:
            assert "Traceback" not in api.log_text()
