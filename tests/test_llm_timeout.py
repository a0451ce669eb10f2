"""An LLM that does not reply in time (issue 11): the follow-up's rewrite and the answer are
made without it, in the assistant as the CLI and Streamlit call it, in `cert-assistant ask`,
and in the Streamlit chat. The model is the real `langchain-openai` client against the fake
OpenAI-compatible server on 127.0.0.1 (`tests/fake_llm_server.py`), made slow."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fake_llm_server import FakeOpenAI, running_fake_openai
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from cert_core.settings import Settings
from ingest import ChunkStore
from retrieval import Assistant, HybridRetriever
from retrieval.llm import make_llm
from retrieval.llm_calls import LLMTimeoutError, TimeLimited, invoke, stream_reply

ROOT = Path(__file__).resolve().parents[1]
HISTORY = [
    {"role": "user", "content": "tell me about the Foundation level"},
    {"role": "assistant", "content": "The Foundation level introduces data pipelines. [1]"},
]
FOLLOW_UP = "how long does it take?"
SAID = (
    "The language model did not reply within 0.5 s (CERT_ASSISTANT_LLM_TIMEOUT_SECONDS); "
    "answering from the course text instead."
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as fake:
        fake.stall = 60  # every reply is held open a minute: the model has stopped writing
        yield fake


def slow_settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return Settings(
        data_dir=tmp_path,
        llm_model="openai:fake-model",
        llm_base_url=fake.url,
        llm_api_key="test-key",
        llm_timeout_seconds=0.5,
    )


def wait_until(condition, seconds: float = 5.0) -> bool:  # noqa: ANN001 - a callable
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_slow_model_is_given_up_and_the_rewrite_and_answer_are_made_without_it(
    tiny_index: ChunkStore, fake_embedder, tmp_path: Path, fake_openai: FakeOpenAI, caplog
):
    retriever = HybridRetriever(store=tiny_index, embedder=fake_embedder)
    settings = slow_settings(tmp_path, fake_openai)
    assistant = Assistant(retriever, settings, llm=make_llm(settings))
    extractive = Assistant(retriever, settings).ask(FOLLOW_UP, HISTORY)

    with caplog.at_level(logging.WARNING, logger="retrieval.llm_calls"):
        answer = assistant.ask(FOLLOW_UP, HISTORY)

    assert [r.get("stream", False) for r in fake_openai.requests] == [False, True]  # both tried
    assert answer.query == "how long does it take? (Foundation level)"  # the rule-based rewrite
    assert answer == extractive and not answer.refused
    assert caplog.messages.count(SAID) == 2  # once for the rewrite, once for the answer
    assert wait_until(lambda: fake_openai.open_connections == 0)  # both calls were closed


class SlowChat(GenericFakeChatModel):
    """Writes nothing for a minute; records each call that was cancelled."""

    cancelled: list[str] = Field(default_factory=list)

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        await self._wait("invoke")

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content="The labs "))
        await self._wait("stream")

    async def _wait(self, call: str) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.append(call)
            raise


@pytest.mark.parametrize("where", ["this thread", "an API worker thread"])
def test_each_call_is_cancelled_at_the_shorter_of_its_limits(where: str):
    chat = SlowChat(messages=iter([]))
    llm = TimeLimited(chat, 0.3)
    pieces: list[str] = []

    def calls() -> None:
        with pytest.raises(LLMTimeoutError, match=r"within 0\.3 s"):
            invoke(llm, [HumanMessage("Rewrite this.")])
        with pytest.raises(LLMTimeoutError, match=r"within 0\.3 s"):
            # the API's request timeout (30 s) is the longer limit here
            pieces.extend(stream_reply(llm, [HumanMessage("Which tools?")], limit=30))

    if where == "this thread":
        calls()
    else:
        anyio.run(anyio.to_thread.run_sync, calls)

    assert pieces == ["The labs "]
    assert wait_until(lambda: chat.cancelled == ["invoke", "stream"])


# --- the command line and the Streamlit chat, over the session's real index --------------------


def llm_env(data_dir: Path, fake: FakeOpenAI, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    return env | {
        "CERT_ASSISTANT_DATA_DIR": str(data_dir),
        "CERT_ASSISTANT_LLM_MODEL": "openai:fake-model",
        "CERT_ASSISTANT_LLM_BASE_URL": fake.url,
        "CERT_ASSISTANT_LLM_API_KEY": "test-key",
        "CERT_ASSISTANT_LLM_TIMEOUT_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1",
        **more,
    }


def ask(env: dict[str, str], question: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "cert-assistant"
    return subprocess.run(
        [str(executable), "ask", question],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.integration
def test_cli_ask_answers_from_the_course_when_the_model_is_too_slow(
    real_index: Path, fake_openai: FakeOpenAI
):
    question = "Is the exam online?"
    without = ask(llm_env(real_index, fake_openai, CERT_ASSISTANT_LLM_MODEL=""), question)

    slow = ask(llm_env(real_index, fake_openai), question)

    assert slow.returncode == 0, slow.stderr
    assert len(fake_openai.requests) == 1  # the model was asked
    assert slow.stdout == without.stdout  # the extractive answer, sources and all
    assert SAID in slow.stderr.splitlines()
    assert "Traceback" not in slow.stderr


@pytest.mark.ui
@pytest.mark.integration
def test_the_streamlit_chat_answers_from_the_course_when_the_model_is_too_slow(
    real_index: Path, fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch, caplog
):
    from streamlit.testing.v1 import AppTest

    from ui.resources import load_assistant, load_feedback_store, load_settings

    for name, value in llm_env(real_index, fake_openai).items():
        if name.startswith("CERT_ASSISTANT_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("CERT_ASSISTANT_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.syspath_prepend(str(ROOT))
    for cached in (load_settings, load_feedback_store, load_assistant):
        cached.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        with caplog.at_level(logging.WARNING, logger="retrieval.llm_calls"):
            at.chat_input(key="question").set_value("Is the exam online?").run()
    finally:
        for cached in (load_settings, load_feedback_store, load_assistant):
            cached.clear()

    assert not at.exception
    assert len(fake_openai.requests) == 1
    answer = "\n".join(m.value for m in at.chat_message[-1].markdown)
    assert "online proctoring" in answer  # the course's own words, quoted
    assert SAID in caplog.messages
