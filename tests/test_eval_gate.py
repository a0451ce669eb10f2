"""The quality gate: thresholds file, verdicts, and `eval --gate` exit codes on a tiny course
(fake embedder, real Chroma) where a shuffled retriever fails and the real one passes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import retrieval
from cert_assistant.cli import main
from cert_assistant.settings import Settings
from evals import (
    DEFAULT_THRESHOLDS,
    QUALITY_METRICS,
    Shortfall,
    ThresholdsError,
    check_gate,
    format_gate,
    load_thresholds,
)
from ingest import ingest
from retrieval import Assistant, HybridRetriever

# --- thresholds ----------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_thresholds_gate_every_quality_metric_and_say_how_they_were_measured():
    thresholds = load_thresholds()

    assert set(thresholds) == set(QUALITY_METRICS)
    assert all(0 < minimum < 1 for minimum in thresholds.values())
    assert DEFAULT_THRESHOLDS.read_text(encoding="utf-8").startswith("# Measured")


def test_thresholds_are_read_from_toml(tmp_path):
    path = write(tmp_path / "t.toml", '# comment\n"hit_rate@1" = 0.75\nfact_recall = 1\n')

    assert load_thresholds(path) == {"hit_rate@1": 0.75, "fact_recall": 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"hit_rate@3" = 0.5\n', "unknown metric 'hit_rate@3'"),
        ("fact_recall = 'high'\n", "must be a number"),
        ("fact_recall = true\n", "must be a number"),
        ("fact_recall = 70\n", "between 0 and 1"),
        ("fact_recall = \n", "Cannot read the thresholds"),
        ("# nothing\n", "sets no thresholds"),
    ],
)
def test_bad_thresholds_files_are_refused(tmp_path, text, message):
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(write(tmp_path / "t.toml", text))


def test_the_gate_lists_every_metric_below_its_minimum():
    metrics = {"hit_rate@1": 0.9, "mrr@10": 0.5, "fact_recall": 0.59, "refusal_recall": None}
    thresholds = {"hit_rate@1": 0.9, "mrr@10": 0.6, "fact_recall": 0.6, "refusal_recall": 0.9}

    shortfalls = check_gate(metrics, thresholds)
    text = format_gate(shortfalls, thresholds)

    assert [s.metric for s in shortfalls] == ["mrr@10", "fact_recall", "refusal_recall"]
    assert "gate FAILED: 3 of 4" in text
    assert "mrr@10: 0.500 < 0.60" in text
    assert "refusal_recall: n/a (not measurable on this dataset) < 0.90" in text


def test_the_gate_passes_when_every_minimum_is_reached():
    thresholds = {"hit_rate@1": 0.9}

    assert check_gate({"hit_rate@1": 0.9}, thresholds) == []
    assert format_gate([], thresholds) == "gate passed: hybrid meets all 1 thresholds"
    assert str(Shortfall("mrr@10", 0.1234, 0.5)) == "mrr@10: 0.123 < 0.50"


# --- `eval --gate` on a tiny course --------------------------------------------------------------

COURSE = {
    "exam.md": "# The exam\n\n## Format\n\nThe exam is taken online with remote proctoring.\n\n"
    "## Retakes\n\nA failed exam can be retaken after fourteen days.\n",
    "labs.md": "# Labs\n\n## Tools\n\nThe labs use DVC for data versioning and Feast as the "
    "feature store.\n\n## Duration\n\nEach lab takes about two hours on a laptop.\n",
    "renewal.md": "# Renewal\n\n## Renewal cycle\n\nThe certificate is renewed every three "
    "years through continuing education credits.\n",
}
CASES = [
    ("format", "Is the exam taken online with proctoring?", "exam.md", "format", "proctoring"),
    ("retakes", "When can a failed exam be retaken?", "exam.md", "retakes", "fourteen days"),
    ("tools", "Which tools do the labs use?", "labs.md", "tools", "Feast"),
    ("duration", "How long does each lab take?", "labs.md", "duration", "two hours"),
    ("renewal", "How often is the certificate renewed?", "renewal.md", "renewal-cycle", "three"),
]
THRESHOLDS = '"hit_rate@1" = 0.8\n"mrr@10" = 0.8\nfact_recall = 0.8\nrefusal_recall = 0.9\n'


class ShuffledRetriever(HybridRetriever):
    """A broken retriever: the right candidates, in a random order."""

    def search(self, query: str, k: int | None = None) -> list:
        hits = super().search(query, 100)
        random.Random(query).shuffle(hits)
        return hits[: k or self.k]


@pytest.fixture
def tiny_course(tmp_path, monkeypatch, chunk_store, fake_embedder) -> Path:
    """The course ingested with the fake embedder, a dataset over it, and a thresholds file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "course").mkdir()
    for name, text in COURSE.items():
        (tmp_path / "course" / name).write_text(text, encoding="utf-8")
    ingest([tmp_path / "course"], chunk_store, fake_embedder, model="fake", progress=False)
    lines = [
        {"id": i, "category": "faq_wording", "question": q, "history": [],
         "expected_sections": [{"source": f"course/{s}", "anchor": a}], "facts": [f],
         "refuse": False}
        for i, q, s, a, f in CASES
    ] + [
        {"id": "weather", "category": "off_topic", "question": "Will it rain in Paris tomorrow?",
         "history": [], "expected_sections": [], "facts": [], "refuse": True},
    ]  # fmt: skip
    (tmp_path / "cases.jsonl").write_text("\n".join(json.dumps(c) for c in lines) + "\n")
    (tmp_path / "thresholds.toml").write_text(THRESHOLDS)
    return tmp_path


def use_retriever(monkeypatch, kind: type[HybridRetriever], store, embedder) -> None:
    """Make the CLI's `make_assistant` build an assistant over the tiny course."""

    def make_assistant(settings: Settings) -> Assistant:
        return Assistant(kind(store=store, embedder=embedder), settings)

    monkeypatch.setattr(retrieval, "make_assistant", make_assistant)


def run_gate(folder: Path) -> int:
    return main(
        ["eval", "--dataset", str(folder / "cases.jsonl"), "--gate",
         "--thresholds", str(folder / "thresholds.toml"), "--report", str(folder / "report")]
    )  # fmt: skip


def test_the_real_retriever_passes_the_gate(tiny_course, monkeypatch, chunk_store, fake_embedder,
                                            capsys):  # fmt: skip
    use_retriever(monkeypatch, HybridRetriever, chunk_store, fake_embedder)

    assert run_gate(tiny_course) == 0
    assert "gate passed: hybrid meets all 4 thresholds" in capsys.readouterr().out


def test_a_shuffled_retriever_fails_the_gate_naming_the_metrics(
    tiny_course, monkeypatch, chunk_store, fake_embedder, capsys
):
    use_retriever(monkeypatch, ShuffledRetriever, chunk_store, fake_embedder)

    assert run_gate(tiny_course) == 1
    out = capsys.readouterr().out
    assert "gate FAILED" in out
    assert "hit_rate@1:" in out and "mrr@10:" in out


def test_a_malformed_dataset_is_one_clear_error_line(tiny_course, capsys):
    (tiny_course / "bad.jsonl").write_text('{"id": "x"}\n')

    assert main(["eval", "--dataset", str(tiny_course / "bad.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 1: field 'category' is missing" in err
