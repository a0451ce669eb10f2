"""The quality gate per split: thresholds file, verdicts, and `eval --gate` exit codes on a tiny
course (fake embedder, real Chroma) where a shuffled retriever fails and the real one passes; and
the before/after table of `eval --baseline`."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

import retrieval
from cert_assistant.cli import main
from cert_core.settings import Settings
from evals import (
    DEFAULT_THRESHOLDS,
    QUALITY_METRICS,
    SPLITS,
    Shortfall,
    ThresholdsError,
    check_gate,
    format_gate,
    load_thresholds,
    minimums_for,
)
from ingest import ingest
from retrieval import Assistant, HybridRetriever

# --- thresholds ----------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_thresholds_gate_every_quality_metric_of_each_split_and_say_how():
    thresholds = load_thresholds()

    assert list(thresholds) == list(SPLITS) == ["dev", "test"]
    for split, minimums in thresholds.items():
        assert set(minimums) == set(QUALITY_METRICS), split
        assert all(0 < minimum < 1 for minimum in minimums.values()), split
    assert "Measured" in DEFAULT_THRESHOLDS.read_text(encoding="utf-8")


def test_thresholds_are_read_per_split_from_toml(tmp_path):
    text = '# comment\n[dev]\n"hit_rate@1" = 0.75\nfact_recall = 1\n\n[test]\naccuracy = 0.5\n'

    assert load_thresholds(write(tmp_path / "t.toml", text)) == {
        "dev": {"hit_rate@1": 0.75, "fact_recall": 1.0},
        "test": {"accuracy": 0.5},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[dev]\n"hit_rate@3" = 0.5\n', "[dev]: unknown metric 'hit_rate@3'"),
        ("[train]\naccuracy = 0.5\n", "unknown split [train] (known: [dev], [test])"),
        ("fact_recall = 0.5\n", "'fact_recall' must sit in a split's table ([dev], [test])"),
        ("[test]\nfact_recall = 'high'\n", "[test]: 'fact_recall' must be a number"),
        ("[dev]\nfact_recall = true\n", "must be a number"),
        ("[dev]\nfact_recall = 70\n", "between 0 and 1"),
        ("[dev]\nfact_recall = \n", "Cannot read the thresholds"),
        ("# nothing\n", "sets no thresholds"),
        ("[dev]\naccuracy = 0.5\n[test]\n", "[test] sets no thresholds"),
    ],
)
def test_bad_thresholds_files_are_refused(tmp_path, text, message):
    with pytest.raises(ThresholdsError, match=re.escape(message)):
        load_thresholds(write(tmp_path / "t.toml", text))


def test_the_gate_lists_every_metric_below_its_minimum_naming_its_split():
    metrics = {
        "dev": {"hit_rate@1": 0.9, "mrr@10": 0.5},
        "test": {"mrr@10": 0.9, "fact_recall": 0.59, "refusal_recall": None},
    }
    thresholds = {
        "dev": {"hit_rate@1": 0.9, "mrr@10": 0.6},
        "test": {"mrr@10": 0.6, "fact_recall": 0.6, "refusal_recall": 0.9},
    }

    shortfalls = check_gate(metrics, thresholds)
    text = format_gate(shortfalls, thresholds, ["dev", "test"])

    assert [(s.split, s.metric) for s in shortfalls] == [
        ("dev", "mrr@10"), ("test", "fact_recall"), ("test", "refusal_recall")
    ]  # fmt: skip
    assert text.splitlines()[0] == (
        "gate FAILED: 3 hybrid metric(s) below minimum, of hybrid thresholds (2 on dev, 3 on test)"
    )
    assert "  dev: mrr@10: 0.500 < 0.60" in text
    assert "  test: fact_recall: 0.590 < 0.60" in text
    assert "  test: refusal_recall: n/a (not measurable on this split) < 0.90" in text


def test_a_split_without_a_table_is_held_to_dev_and_one_without_either_is_refused():
    thresholds = {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.95}}

    assert check_gate({"mine": {"accuracy": 0.9}}, thresholds) == []
    assert check_gate({"test": {"accuracy": 0.9}}, thresholds) == [
        Shortfall("test", "accuracy", 0.9, 0.95)
    ]
    assert format_gate([], thresholds, ["mine", "test"]) == (
        "gate passed: all hybrid thresholds (1 on mine against [dev], 1 on test) met"
    )
    with pytest.raises(ThresholdsError, match="no minimums for the split 'mine'"):
        minimums_for("mine", {"test": {"accuracy": 0.95}})


def test_the_gate_passes_when_every_minimum_is_reached():
    thresholds = {"dev": {"hit_rate@1": 0.9}}

    assert check_gate({"dev": {"hit_rate@1": 0.9}}, thresholds) == []
    assert str(Shortfall("test", "mrr@10", 0.1234, 0.5)) == "test: mrr@10: 0.123 < 0.50"


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
THRESHOLDS = (
    '[dev]\n"hit_rate@1" = 0.8\n"mrr@10" = 0.8\nfact_recall = 0.8\naccuracy = 0.8\n'
    "refusal_recall = 0.9\n"
)


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


def run_gate(
    folder: Path, dataset: str = "cases.jsonl", thresholds: str = "thresholds.toml"
) -> int:
    return main(
        ["eval", "--dataset", str(folder / dataset), "--gate",
         "--thresholds", str(folder / thresholds), "--report", str(folder / "report")]
    )  # fmt: skip


def test_the_real_retriever_passes_the_gate(tiny_course, monkeypatch, chunk_store, fake_embedder,
                                            capsys):  # fmt: skip
    use_retriever(monkeypatch, HybridRetriever, chunk_store, fake_embedder)

    assert run_gate(tiny_course) == 0
    out = capsys.readouterr().out
    assert "gate passed: all hybrid thresholds (5 on cases against [dev]) met" in out
    assert out.splitlines()[0] == "cases: 6 cases (cases.jsonl)"
    assert re.search(r"^accuracy +\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$", out, re.MULTILINE)
    assert re.search(r"^cases: \d of 6 cases failing with hybrid$", out, re.MULTILINE)


def test_a_shuffled_retriever_fails_the_gate_naming_the_split_metrics_and_cases(
    tiny_course, monkeypatch, chunk_store, fake_embedder, capsys
):
    use_retriever(monkeypatch, ShuffledRetriever, chunk_store, fake_embedder)

    assert run_gate(tiny_course) == 1
    out = capsys.readouterr().out
    assert "gate FAILED" in out
    assert "  cases: hit_rate@1:" in out and "  cases: mrr@10:" in out


def test_the_failing_cases_are_printed_with_what_went_wrong(
    tiny_course, monkeypatch, chunk_store, fake_embedder, capsys
):
    use_retriever(monkeypatch, HybridRetriever, chunk_store, fake_embedder)
    wrong = {"id": "wrong-fact", "category": "faq_wording", "question": "Which tools do the labs "
             "use?", "history": [], "expected_sections": [{"source": "course/labs.md",
             "anchor": "tools"}], "facts": ["Kubeflow"], "refuse": False}  # fmt: skip
    (tiny_course / "last-week.jsonl").write_text(json.dumps(wrong) + "\n")

    assert main(["eval", "--dataset", str(tiny_course / "last-week.jsonl")]) == 0
    out = capsys.readouterr().out
    failing = out.split("last-week: 1 of 1 cases failing with hybrid\n", 1)[1].splitlines()
    assert failing[0] in (
        "- `wrong-fact` (faq_wording): facts missing from the answer: 'Kubeflow'",
        "- `wrong-fact` (faq_wording): refused",
    )
    assert failing[1:3] == [
        '  - question: "Which tools do the labs use?"',
        "  - expected: course/labs.md#tools",
    ]
    assert (
        failing[3].startswith('  - answer: "') and len(failing[3]) <= len('  - answer: ""…') + 200
    )


def test_a_split_is_gated_by_its_own_table(tiny_course, monkeypatch, chunk_store, fake_embedder,
                                           capsys):  # fmt: skip
    use_retriever(monkeypatch, ShuffledRetriever, chunk_store, fake_embedder)
    (tiny_course / "test.jsonl").write_text((tiny_course / "cases.jsonl").read_text())
    write(tiny_course / "split.toml", '[dev]\n"hit_rate@1" = 0.0\n[test]\n"hit_rate@1" = 0.99\n')

    assert run_gate(tiny_course, "cases.jsonl", "split.toml") == 0
    assert run_gate(tiny_course, "test.jsonl", "split.toml") == 1
    out = capsys.readouterr().out
    assert "gate passed: all hybrid thresholds (1 on cases against [dev]) met" in out
    assert "  test: hit_rate@1: " in out and "< 0.99" in out


def test_a_missing_baseline_is_one_line_and_not_an_error(
    tiny_course, monkeypatch, chunk_store, fake_embedder, capsys
):
    use_retriever(monkeypatch, HybridRetriever, chunk_store, fake_embedder)
    missing = tiny_course / "missing.json"

    code = main(["eval", "--dataset", str(tiny_course / "cases.jsonl"), "--compare",
                 "--baseline", str(missing), "--report", str(tiny_course / "report")])  # fmt: skip

    assert code == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["metric", "hybrid", "dense", "bm25"]
    assert out.endswith(f"\n\nno baseline at {missing}: before/after skipped\n")
    assert "before (baseline" not in out


def test_before_and_after_against_a_baseline_shows_the_changes(
    tiny_course, monkeypatch, chunk_store, fake_embedder, capsys
):
    use_retriever(monkeypatch, HybridRetriever, chunk_store, fake_embedder)
    args = ["eval", "--dataset", str(tiny_course / "cases.jsonl"), "--report"]
    assert main([*args, str(tiny_course / "before")]) == 0
    baseline = json.loads((tiny_course / "before" / "report.json").read_text())
    baseline["splits"]["cases"]["retrievers"]["hybrid"]["metrics"]["accuracy"] = 0.5
    baseline["splits"]["cases"]["retrievers"]["hybrid"]["categories"]["off_topic"][
        "refusal_recall"
    ] = 0.0
    write(tiny_course / "baseline.json", json.dumps(baseline))
    capsys.readouterr()

    code = main(
        [*args, str(tiny_course / "after"), "--baseline", str(tiny_course / "baseline.json")]
    )

    assert code == 0
    out = capsys.readouterr().out
    now = json.loads((tiny_course / "after" / "report.json").read_text())
    now = now["splits"]["cases"]["retrievers"]["hybrid"]
    comparison = out[out.index("cases: hybrid before (baseline, 6 cases") :].splitlines()
    rows = {line.split()[0]: line.split() for line in comparison[1:] if line.strip()}
    accuracy = now["metrics"]["accuracy"]
    assert rows["accuracy"] == ["accuracy", "0.500", f"{accuracy:.3f}", f"{accuracy - 0.5:+.3f}"]
    assert rows["hit_rate@1"][1] == rows["hit_rate@1"][2] and rows["hit_rate@1"][3] == "+0.000"
    assert set(QUALITY_METRICS) <= set(rows)
    recall = now["categories"]["off_topic"]["refusal_recall"]
    assert rows["off_topic"][:2] == ["off_topic", "1"]
    assert rows["off_topic"][-3:] == ["0.000", "→", f"{recall:.3f}"]
    faq = f"{now['categories']['faq_wording']['accuracy']:.3f}"
    assert rows["faq_wording"][:5] == ["faq_wording", "5", faq, "→", faq]  # the same answers


def test_a_malformed_dataset_is_one_clear_error_line(tiny_course, capsys):
    (tiny_course / "bad.jsonl").write_text('{"id": "x"}\n')

    assert main(["eval", "--dataset", str(tiny_course / "bad.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 1: field 'category' is missing" in err


def test_a_thresholds_file_without_minimums_for_a_split_fails_before_the_run(tiny_course, capsys):
    write(tiny_course / "test-only.toml", "[test]\naccuracy = 0.5\n")

    assert run_gate(tiny_course, thresholds="test-only.toml") == 2
    assert "no minimums for the split 'cases'" in capsys.readouterr().err
