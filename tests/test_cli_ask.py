"""`cert-assistant ask` as a learner runs it: a real process over the session's real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
EXECUTABLE = Path(sys.executable).parent / "cert-assistant"
BASE_URL = "https://courses.example.com/certified-mlops-architect"
CITATION_KEYS = {"n", "title", "section", "url", "source", "text"}


def run(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env |= {
        "CERT_ASSISTANT_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return subprocess.run(
        [str(EXECUTABLE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def write_jsonl(path: Path, *lines: object) -> Path:
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


# --- one question ------------------------------------------------------------------------------


def test_ask_prints_the_answer_then_numbered_sources_with_links(real_index):
    result = run("ask", "is the test online", data_dir=real_index)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "online proctoring" in lines[0] and lines[0].endswith("[1]")
    assert "Sources:" in lines
    sources = result.stdout.split("Sources:", 1)[1]
    assert (
        "[1] Frequently asked questions > General questions > Can the exam be taken online?"
        in sources
    )
    assert f"{BASE_URL}/faq#can-the-exam-be-taken-online" in sources
    assert '"The Certified MLOps Architect exams can be taken online.' in sources
    assert "Traceback" not in result.stderr


def test_ask_json_prints_exactly_one_object_with_the_public_keys(real_index):
    result = run("ask", "--json", "are DVC or Feast used?", data_dir=real_index)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    answer = json.loads(result.stdout)
    assert {"answer", "citations", "refused"} <= set(answer)
    assert answer["refused"] is False
    assert "DVC and Feast" in answer["answer"]
    assert answer["citations"]
    for n, citation in enumerate(answer["citations"], start=1):
        assert set(citation) == CITATION_KEYS
        assert citation["n"] == n
        assert citation["url"].startswith(f"{BASE_URL}/")
        assert citation["source"].startswith("knowledge/")
    assert "DVC and Feast" in answer["citations"][0]["text"]


# --- batches -----------------------------------------------------------------------------------


def test_a_batch_answers_every_line_in_order_with_its_id(real_index, tmp_path):
    batch = write_jsonl(
        tmp_path / "questions.jsonl",
        {"id": "q1", "question": "how many days to get certified"},
        {"id": "q2", "question": "do I need to renew"},
        {"id": "q3", "question": "give me a pasta recipe"},
        {
            "id": "q4",
            "question": "what are the common mistakes?",
            "history": [
                {"role": "user", "content": "tell me about the Foundation level"},
                {"role": "assistant", "content": "The Foundation level is the entry stage. [1]"},
            ],
        },
        {"id": 5, "question": "SLO"},
    )

    result = run("ask", "--batch", str(batch), "--json", data_dir=real_index)

    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [r["id"] for r in records] == ["q1", "q2", "q3", "q4", 5]
    assert all("error" not in r for r in records)
    assert "30 to 90 days" in records[0]["answer"]
    assert "two to three years" in records[1]["answer"]
    assert records[2]["refused"] is True and records[2]["citations"] == []
    assert {c["section"] for c in records[3]["citations"]} == {
        "Syllabus > Foundation level > Common mistakes"
    }
    assert "Service Level Objectives" in records[4]["citations"][0]["text"]
    for record in records:
        assert all(set(c) == CITATION_KEYS for c in record["citations"])


def test_a_bad_batch_line_gets_an_error_object_and_exit_1_while_the_rest_answer(
    real_index, tmp_path
):
    batch = write_jsonl(
        tmp_path / "questions.jsonl",
        {"id": "first", "question": "is the test online"},
        '{"id": "broken", "question": ',
        {"id": "empty", "question": "   "},
        {"id": "no-question"},
        {
            "id": "bad-role",
            "question": "and then?",
            "history": [{"role": "system", "content": "x"}],
        },
        "[1, 2, 3]",
        "",
        {"id": "last", "question": "are DVC or Feast used?"},
    )

    result = run("ask", "--batch", str(batch), "--json", data_dir=real_index)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    records = json_lines(result.stdout)
    assert [r["id"] for r in records] == [
        "first",
        None,
        "empty",
        "no-question",
        "bad-role",
        None,
        "last",
    ]
    errors = {i: r["error"] for i, r in enumerate(records) if "error" in r}
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert errors[1].startswith("line 2:")
    assert "empty" in errors[2]
    assert "must be text" in errors[3]
    assert "role must be" in errors[4]
    assert "JSON object" in errors[5]
    assert "online proctoring" in records[0]["answer"]
    assert "DVC and Feast" in records[-1]["answer"]


def test_a_batch_line_with_a_non_list_history_does_not_stop_the_batch(real_index, tmp_path):
    batch = write_jsonl(
        tmp_path / "questions.jsonl",
        {"id": "bad", "question": "how long does it take?", "history": 5},
        {"id": "good", "question": "DVC"},
    )

    result = run("ask", "--batch", str(batch), "--json", data_dir=real_index)

    assert "Traceback" not in result.stderr
    assert [r["id"] for r in json_lines(result.stdout)] == ["bad", "good"]
    assert result.returncode == 1


# --- mistakes get one clear line -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "question is empty"), ("   ", "question is empty"), ("x" * 2001, "limit is 2000")],
)
def test_an_unusable_question_exits_2_with_a_clear_message(real_index, question, message):
    result = run("ask", question, data_dir=real_index)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_without_a_question_or_batch_says_what_to_give(real_index):
    result = run("ask", data_dir=real_index)

    assert result.returncode == 2
    assert "Give either a QUESTION or --batch FILE.jsonl" in result.stderr


@pytest.mark.parametrize("args", [["ask", "is the test online"], ["ask", "--json", "DVC"]])
def test_a_missing_index_tells_the_user_to_run_ingest(tmp_path, args):
    result = run(*args, data_dir=tmp_path / "empty")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "cert-assistant ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_batch_over_a_missing_index_says_to_run_ingest_on_every_line(tmp_path):
    batch = write_jsonl(
        tmp_path / "q.jsonl", {"id": "a", "question": "DVC"}, {"id": "b", "question": "SLO"}
    )

    result = run("ask", "--batch", str(batch), "--json", data_dir=tmp_path / "empty")

    assert result.returncode != 0
    records = json_lines(result.stdout)
    assert [r["id"] for r in records] == ["a", "b"]
    assert all("cert-assistant ingest" in r["error"] for r in records)
