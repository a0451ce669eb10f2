"""Eval metrics on tiny hand-made runs whose values are worked out by hand: strict facts,
accuracy, bootstrap intervals, the report per split, failing cases, before/after, and the
shipped splits."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from evals.bootstrap import bootstrap_intervals
from evals.compare import BaselineError, format_comparison, load_baseline
from evals.dataset import SPLITS, DatasetError, load_dataset, load_split, load_splits
from evals.failures import format_failure, problems
from evals.metrics import (
    HEADLINE_METRICS,
    METRICS,
    case_accuracy,
    check_citations,
    f1,
    fact_found,
    fact_grounded,
    fact_recall,
    is_verbatim,
    markers,
    percentile,
    ranked_doc_ids,
    refusal_scores,
    retrieval_scores,
    sentences,
    supports,
)
from evals.report import Report, build_report, retriever_report, summarize
from evals.results import CaseResult, Run
from evals.tables import format_failing, format_table, to_markdown
from ingest import load_documents, split_documents

# --- retrieval (ranx) ----------------------------------------------------------------------------

# q1: answers a and b; a at rank 2, b at rank 4.
# q2: answer c at rank 1.
# q3: answer d, nothing retrieved.
# q4: answer e at rank 6 (outside the top 5, inside the top 10).
EXPECTED = {"q1": ["a", "b"], "q2": ["c"], "q3": ["d"], "q4": ["e"]}
RANKINGS = {
    "q1": ["x", "a", "y", "b"],
    "q2": ["c", "x"],
    "q3": [],
    "q4": ["v", "w", "x", "y", "z", "e"],
}
# nDCG@10 of q1: DCG = 1/log2(3) + 1/log2(5); ideal DCG = 1 + 1/log2(3).
NDCG_Q1 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
BY_HAND = {
    "q1": {"hit_rate@1": 0, "hit_rate@5": 1, "recall@5": 1, "mrr@10": 1 / 2, "ndcg@10": NDCG_Q1},
    "q2": {"hit_rate@1": 1, "hit_rate@5": 1, "recall@5": 1, "mrr@10": 1, "ndcg@10": 1},
    "q3": {"hit_rate@1": 0, "hit_rate@5": 0, "recall@5": 0, "mrr@10": 0, "ndcg@10": 0},
    "q4": {
        "hit_rate@1": 0,
        "hit_rate@5": 0,
        "recall@5": 0,
        "mrr@10": 1 / 6,
        "ndcg@10": 1 / math.log2(7),
    },
}


def test_retrieval_scores_match_hand_computed_values():
    scores = retrieval_scores(EXPECTED, RANKINGS)

    assert set(scores) == set(EXPECTED)
    for query, expected in BY_HAND.items():
        for metric, value in expected.items():
            assert scores[query][metric] == pytest.approx(value), (query, metric)


def test_recall_counts_each_expected_section():
    scores = retrieval_scores({"q": ["a", "b"]}, {"q": ["a", "x", "y"]})

    assert scores["q"]["recall@5"] == pytest.approx(0.5)
    assert scores["q"]["hit_rate@1"] == 1


def test_chunks_of_one_section_count_once_so_rechunking_does_not_matter():
    one_chunk = ranked_doc_ids([("faq.md", "a"), ("guide.md", "b")])
    three_chunks = ranked_doc_ids([("faq.md", "a"), ("faq.md", "a"), ("faq.md", "a"),
                                   ("guide.md", "b")])  # fmt: skip

    assert one_chunk == three_chunks == ["faq.md#a", "guide.md#b"]
    assert retrieval_scores({"q": ["guide.md#b"]}, {"q": three_chunks})["q"]["mrr@10"] == 0.5


def test_retrieval_scores_ignore_rankings_of_unexpected_queries():
    assert retrieval_scores({}, {"q": ["a"]}) == {}
    assert set(retrieval_scores({"q": ["a"]}, {"q": ["a"], "other": ["b"]})) == {"q"}


# --- facts ---------------------------------------------------------------------------------------


def test_plain_facts_are_case_insensitive_substrings():
    assert fact_found("Moderately Difficult", "The exam is moderately difficult.")
    assert not fact_found("moderately difficult", "The exam is difficult.")


def test_re_facts_are_case_insensitive_regular_expressions():
    fact = r"re:two to three years|2\s*(-|–|to)\s*3 years"
    assert fact_found(fact, "Renew every 2-3 years.")
    assert fact_found(fact, "Renew every Two to Three years.")
    assert not fact_found(fact, "Renew every 5 years.")


def test_fact_recall_is_the_share_of_facts_stated_in_the_answer_and_in_a_cited_quote():
    facts = ["Foundation", "Professional", "re:Advanced|Specialist"]
    quotes = ["Take Foundation first.", "Then Professional, then Advanced."]
    assert fact_recall(facts, "Foundation, then Professional, then Advanced.", quotes) == 1.0
    assert fact_recall(facts, "Start with Foundation.", quotes) == pytest.approx(1 / 3)
    assert fact_recall(facts, "", quotes) == 0.0
    assert fact_recall([], "anything", []) == 1.0


def test_a_fact_in_the_answer_but_in_no_quote_does_not_count():
    answer = "The labs use DVC and Feast. [1]"

    assert fact_found("Feast", answer)
    assert not fact_grounded("Feast", answer, ["The labs use DVC for data versioning."])
    assert fact_grounded("Feast", answer, ["DVC.", "Feast is the feature store."])
    assert not fact_grounded("Feast", "The labs use DVC. [1]", ["Feast is the feature store."])
    assert fact_recall(["DVC", "Feast"], answer, ["The labs use DVC."]) == 0.5
    assert fact_recall(["DVC"], answer, []) == 0.0  # no citations: nothing is grounded


@pytest.mark.parametrize(
    ("refuse", "refused", "grounded", "accuracy"),
    [
        (True, True, [], 1.0),  # refused what it should
        (True, False, [], 0.0),  # answered instead of refusing
        (False, True, [False], 0.0),  # refused an answerable case
        (False, False, [True, True], 1.0),  # every fact in the answer and a quote
        (False, False, [True, False], 0.0),  # one fact short
    ],
)
def test_accuracy_is_one_only_for_a_case_handled_right(refuse, refused, grounded, accuracy):
    assert case_accuracy(refuse, refused, grounded) == accuracy


# --- citations -----------------------------------------------------------------------------------


def test_answers_split_into_sentences_with_their_markers():
    answer = "The exam is online. It is proctored. [1] Renew every 2 years. [2][3]"

    assert sentences(answer) == [
        "The exam is online.",
        "It is proctored. [1]",
        "Renew every 2 years. [2][3]",
    ]
    assert [markers(s) for s in sentences(answer)] == [[], [1], [2, 3]]


def test_support_is_half_of_the_sentences_content_terms():
    assert supports("DVC versioning. [1]", "DVC.")  # 1 of 2 terms: exactly the minimum
    assert not supports("DVC versioning and Feast. [1]", "DVC.")  # 1 of 3
    assert not supports("It is. [1]", "It is.")  # no content terms: nothing is supported


def test_verbatim_allows_line_breaks_but_no_changed_words():
    chunk = "The labs use DVC.\nThey also use Feast."
    assert is_verbatim("The labs use DVC. They also use Feast.", [chunk])
    assert not is_verbatim("The labs use DVC and Feast.", [chunk])
    assert not is_verbatim("", [chunk])
    assert not is_verbatim("The labs use DVC.", [])


def test_citation_precision_and_coverage_on_a_hand_made_answer():
    answer = (
        "The labs use DVC for data versioning. [1] "  # supported by 1
        "Renewal happens every two years. [2] "  # 2 quotes something else
        "The exam is online."  # no marker
    )
    quotes = {1: "The labs use DVC for data versioning.", 2: "Feast is the feature store."}
    check = check_citations(answer, quotes, {1: True, 2: True})

    assert (check.citations, check.supported) == (2, 1)
    assert (check.sentences, check.covered) == (3, 1)


def test_a_quote_not_found_verbatim_supports_nothing():
    answer = "The labs use DVC for data versioning. [1]"
    quotes = {1: "The labs use DVC for data versioning."}

    check = check_citations(answer, quotes, {1: False})

    assert (check.supported, check.covered) == (0, 0)


def test_a_citation_must_support_every_sentence_that_carries_it():
    answer = "The labs use DVC for data versioning. [1] Renewal happens every two years. [1]"
    quotes = {1: "The labs use DVC for data versioning."}

    check = check_citations(answer, quotes, {1: True})

    assert (check.citations, check.supported) == (1, 0)
    assert (check.sentences, check.covered) == (2, 1)


def test_unused_citations_and_dangling_markers_count_against_the_answer():
    answer = "The labs use DVC for data versioning. [3]"
    quotes = {1: "The labs use DVC for data versioning."}

    check = check_citations(answer, quotes, {1: True})

    assert (check.citations, check.supported, check.sentences, check.covered) == (1, 0, 1, 0)


# --- refusals, percentiles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "predicted", "precision", "recall"),
    [
        ([True, True, False, False], [True, False, True, False], 0.5, 0.5),
        ([True, True, False], [True, True, False], 1.0, 1.0),
        ([True, False, False], [True, True, True], 1 / 3, 1.0),
        ([True, False], [False, False], 0.0, 0.0),  # nothing refused, something should be
        ([False, False], [False, False], None, None),  # nothing to refuse, nothing refused
        ([False, False], [True, False], 0.0, None),  # every refusal is a false alarm
    ],
)
def test_refusal_precision_and_recall(expected, predicted, precision, recall):
    assert refusal_scores(expected, predicted) == (
        pytest.approx(precision) if precision is not None else None,
        pytest.approx(recall) if recall is not None else None,
    )


def test_f1_is_zero_when_undefined():
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(None, 1.0) == f1(0.0, 0.0) == 0.0


def test_percentiles_interpolate_and_handle_edges():
    assert percentile([10.0], 95) == 10.0
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([], 50) is None


# --- aggregation ---------------------------------------------------------------------------------

RETRIEVED = {"hit_rate@1": 1.0, "hit_rate@5": 1.0, "recall@5": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}
MISSED = dict.fromkeys(RETRIEVED, 0.0)


def result(case_id: str, category: str, refuse: bool, refused: bool, **fields) -> CaseResult:
    fields.setdefault("answer", "answer")
    fields.setdefault("question", f"question {case_id}?")
    if not refuse:
        facts = fields.setdefault("facts", ["fact"])
        fields.setdefault("facts_in_answer", [not refused] * len(facts))
        fields.setdefault("facts_in_quotes", [not refused] * len(facts))
        fields.setdefault("expected_sections", ["faq.md#a"])
        fields.setdefault("retrieval", RETRIEVED)
        fields.setdefault("retrieval_ms", 10.0)
    answer = fields.pop("answer")
    return CaseResult(case_id, category, refuse, refused, answer, "query", 10.0, **fields)


def test_summary_pools_citations_and_counts_refused_answers_as_stating_no_facts():
    results = [
        result(
            "a",
            "faq",
            False,
            False,
            facts=["DVC", "Feast"],
            facts_in_answer=[True, True],
            facts_in_quotes=[True, False],  # Feast is said but no quote backs it
            citations=2,
            supported=2,
            sentences=2,
            covered=1,
            retrieval_ms=5.0,
        ),
        result("b", "faq", False, True, retrieval=MISSED, retrieval_ms=15.0),
        result("c", "off_topic", True, True),
        result("d", "off_topic", True, False, citations=1, supported=0, sentences=1, covered=0),
    ]

    summary = summarize(results)

    assert [r.accuracy for r in results] == [0.0, 0.0, 1.0, 0.0]
    assert summary["accuracy"] == 0.25
    assert summary["hit_rate@1"] == summary["mrr@10"] == 0.5
    assert summary["fact_recall"] == pytest.approx((0.5 + 0.0) / 2)
    assert summary["citation_precision"] == pytest.approx(2 / 3)
    assert summary["citation_coverage"] == pytest.approx(1 / 3)
    assert (summary["refusal_precision"], summary["refusal_recall"]) == (0.5, 0.5)
    assert summary["ask_p50_ms"] == 10.0
    assert summary["retrieval_p50_ms"] == 10.0
    assert list(summary) == list(METRICS)

    report = retriever_report(results)
    assert set(report.categories) == {"faq", "off_topic"}
    assert report.categories["off_topic"]["hit_rate@1"] is None
    assert report.categories["off_topic"]["refusal_recall"] == 0.5
    assert report.categories["off_topic"]["accuracy"] == 0.5


def mixed_results() -> list[CaseResult]:
    """40 cases: 30 answerable (20 right, 6 refused, 4 missing a fact), 10 to refuse (8 refused)."""
    results = []
    for i in range(30):
        refused, grounded = i % 5 == 0, i % 7 != 3
        results.append(
            result(
                f"a{i}",
                "faq",
                False,
                refused,
                facts_in_answer=[not refused],
                facts_in_quotes=[not refused and grounded],
                retrieval=RETRIEVED if i % 4 else {**MISSED, "mrr@10": 1 / 6},
            )
        )
    results += [result(f"r{i}", "off_topic", True, i < 8) for i in range(10)]
    return results


def test_headline_metrics_get_bootstrap_intervals_that_hold_them_and_repeat_exactly():
    results = mixed_results()

    report = retriever_report(results)

    assert set(report.intervals) == set(HEADLINE_METRICS)
    for metric in HEADLINE_METRICS:
        low, high = report.intervals[metric]
        assert low <= report.metrics[metric] <= high, metric
        assert low < high, metric  # the cases vary, so the interval has width
    assert retriever_report(results).intervals == report.intervals  # fixed seed
    assert retriever_report(results[::-1]).intervals != report.intervals  # other cases drawn


def test_bootstrap_intervals_of_constant_and_undefined_metrics():
    def statistic(drawn):
        return {"one": 1.0, "never": None}

    assert bootstrap_intervals(5, statistic, ["one", "never"]) == {"one": (1.0, 1.0), "never": None}
    assert bootstrap_intervals(0, statistic, ["one"]) == {"one": None}

    values = [0.0, 1.0] * 10

    def mean(drawn):
        return {"m": sum(values[i] for i in drawn) / len(drawn)}

    wide = bootstrap_intervals(20, mean, ["m"])["m"]
    assert wide == bootstrap_intervals(20, mean, ["m"])["m"]
    assert wide != bootstrap_intervals(20, mean, ["m"], seed=1)["m"]
    assert 0.2 < wide[0] < 0.5 < wide[1] < 0.8


def make_report(splits: dict[str, list[CaseResult]], retrievers=("hybrid",)) -> Report:
    run = Run(
        {name: {r: results for r in retrievers} for name, results in splits.items()},
        {name: f"evals/{name}.jsonl" for name in splits},
        "2026-01-01T00:00:00+00:00",
        2.5,
    )
    return build_report(run)


def test_the_report_holds_each_split_per_retriever_with_intervals_and_every_case():
    report = make_report(
        {"dev": mixed_results(), "test": [result("t", "casual", False, False)]},
        ("hybrid", "dense", "bm25"),
    )

    data = json.loads(json.dumps(report.to_json()))

    assert list(data["splits"]) == ["dev", "test"]
    dev = data["splits"]["dev"]
    assert (dev["dataset"], dev["cases"]) == ("evals/dev.jsonl", 40)
    assert list(dev["retrievers"]) == ["hybrid", "dense", "bm25"]
    hybrid = dev["retrievers"]["hybrid"]
    assert set(hybrid["metrics"]) == set(METRICS)
    assert set(hybrid["intervals"]) == set(HEADLINE_METRICS)
    assert len(hybrid["intervals"]["accuracy"]) == 2
    assert set(hybrid["categories"]) == {"faq", "off_topic"}
    assert len(hybrid["cases"]) == 40
    first = hybrid["cases"][0]
    assert (first["id"], first["accuracy"]) == ("a0", 0.0)
    assert first["problems"] == ["refused", "no expected section in the top 5"]
    assert data["splits"]["test"]["retrievers"]["bm25"]["metrics"]["accuracy"] == 1.0


def test_tables_show_each_split_with_every_retriever_side_by_side_and_intervals():
    results = [result("a", "faq", False, False)]
    report = make_report({"dev": results, "test": results}, ("hybrid", "dense", "bm25"))

    lines = format_table(report).splitlines()
    markdown = to_markdown(report, chart="report.png")

    assert lines[0] == "dev: 1 cases (evals/dev.jsonl)"
    assert lines[1].split() == ["metric", "hybrid", "dense", "bm25"]
    assert "test: 1 cases (evals/test.jsonl)" in lines
    accuracy = next(line for line in lines if line.startswith("accuracy"))
    assert accuracy.split("  ")[-1].strip() == "1.000 [1.000, 1.000]"
    assert "| accuracy | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] |" in markdown
    assert "| fact_recall | 1.000 [1.000, 1.000] |" in markdown
    assert "| citation_precision | n/a | n/a | n/a |" in markdown  # no interval
    assert "![metrics per split and retriever](report.png)" in markdown
    assert "## dev" in markdown and "## test" in markdown
    assert "### test, dense: per category" in markdown
    assert "### dev, hybrid: failing cases (0)" in markdown


# --- failing cases -------------------------------------------------------------------------------


def failing_results() -> list[CaseResult]:
    return [
        result("right", "faq", False, False),
        result("refused", "count", False, True, answer="Sorry, the course doesn't cover that."),
        result("answered", "off_topic", True, False, answer="It will rain."),
        result(
            "facts",
            "list",
            False,
            False,
            facts=["DVC", "Feast", "Kubeflow"],
            facts_in_answer=[True, False, True],
            facts_in_quotes=[False, False, True],
            answer="x" * 300,
        ),
        result("missed", "keyword", False, False, retrieval=MISSED),
        result(
            "follow",
            "follow_up",
            False,
            True,
            question="how long does it take?",
            last_turn="assistant: The Foundation level is the entry stage.",
            expected_sections=["knowledge/syllabus.md#preparation-plan"],
        ),
    ]


def test_each_failing_case_says_what_went_wrong():
    found = {r.id: problems(r) for r in failing_results()}

    assert found == {
        "right": [],
        "refused": ["refused"],
        "answered": ["answered instead of refusing"],
        "facts": [
            "facts missing from the answer: 'Feast'",
            "facts missing from every cited quote: 'DVC'",
        ],
        "missed": ["no expected section in the top 5"],
        "follow": ["refused"],
    }


def test_a_failing_case_shows_its_question_conversation_sections_and_the_answers_start():
    by_id = {r.id: r for r in failing_results()}

    follow = format_failure(by_id["follow"]).splitlines()
    facts = format_failure(by_id["facts"])

    assert follow == [
        "- `follow` (follow_up): refused",
        '  - question: "how long does it take?" (after assistant: The Foundation level is the '
        "entry stage.)",
        "  - expected: knowledge/syllabus.md#preparation-plan",
        '  - answer: "answer"',
    ]
    assert f'answer: "{"x" * 200}…"' in facts


def test_the_report_lists_failing_cases_of_each_split_and_the_printout_the_test_ones():
    report = make_report({"dev": failing_results(), "test": failing_results()})

    markdown = to_markdown(report)
    printed = format_failing(report, listed_in_report=("dev",))

    assert "### dev, hybrid: failing cases (5)" in markdown
    assert "### test, hybrid: failing cases (5)" in markdown
    assert "`right`" not in markdown and "- `missed` (keyword)" in markdown
    dev, test = printed.split("\n\n")
    assert dev == "dev: 5 of 6 cases failing with hybrid (listed in report.md)"
    assert test.splitlines()[0] == "test: 5 of 6 cases failing with hybrid"
    assert "- `answered` (off_topic): answered instead of refusing" in test


# --- before / after ------------------------------------------------------------------------------


def test_before_and_after_shows_every_quality_metric_with_its_change_and_each_category():
    before = make_report({"dev": [result("a", "faq", False, True), result("r", "inj", True, True)]})
    after = make_report({"dev": [result("a", "faq", False, False), result("r", "inj", True, False)],
                         "test": [result("t", "casual", False, False)]})  # fmt: skip

    text = format_comparison(before.to_json(), after.to_json())
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}

    assert text.startswith("dev: hybrid before (baseline, 2 cases, 2026-01-01T00:00:00+00:00)")
    assert rows["metric"] == ["metric", "before", "now", "change"]
    assert rows["accuracy"] == ["accuracy", "0.500", "0.500", "+0.000"]
    assert rows["fact_recall"] == ["fact_recall", "0.000", "1.000", "+1.000"]
    assert rows["refusal_recall"] == ["refusal_recall", "1.000", "0.000", "-1.000"]
    assert rows["refusal_precision"][1:] == ["0.500", "0.000", "-0.500"]
    assert rows["category"] == ["category", "cases", "accuracy", "fact_recall", "refusal_recall"]
    assert rows["faq"] == ["faq", "1", "0.000", "→", "1.000", "0.000", "→", "1.000", "n/a", "→",
                           "n/a"]  # fmt: skip
    assert rows["inj"][2:5] == ["1.000", "→", "0.000"]
    assert "test: the baseline has no hybrid results; nothing to compare." in text


def test_a_missing_baseline_is_none_and_a_broken_one_an_error(tmp_path):
    assert load_baseline(tmp_path / "baseline.json") is None

    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(BaselineError, match="Cannot read the baseline"):
        load_baseline(tmp_path / "bad.json")

    (tmp_path / "old.json").write_text('{"retrievers": {}}', encoding="utf-8")
    with pytest.raises(BaselineError, match="not an eval report with splits"):
        load_baseline(tmp_path / "old.json")

    report = make_report({"dev": [result("a", "faq", False, False)]})
    (tmp_path / "good.json").write_text(json.dumps(report.to_json()), encoding="utf-8")
    assert list(load_baseline(tmp_path / "good.json")["splits"]) == ["dev"]


# --- the dataset ---------------------------------------------------------------------------------

GOOD = {
    "id": "faq-exam-difficulty",
    "category": "faq_wording",
    "question": "How hard is the exam?",
    "history": [],
    "expected_sections": [{"source": "knowledge/faq.md", "anchor": "how-hard"}],
    "facts": ["moderately difficult"],
    "refuse": False,
}


def write_cases(path: Path, *cases: dict | str) -> Path:
    lines = [c if isinstance(c, str) else json.dumps(c) for c in cases]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def documented_categories() -> set[str]:
    """The category names in the Categories table of evals/DATASET.md."""
    text = (SPLITS["dev"].parent / "DATASET.md").read_text(encoding="utf-8")
    table = text.split("## Categories", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def test_the_shipped_splits_load_with_documented_categories_and_share_no_id():
    splits = {split.name: split for split in load_splits()}

    assert list(splits) == list(SPLITS) == ["dev", "test"]
    assert len(splits["dev"].cases) >= 129 and splits["test"].cases
    for split in splits.values():
        assert {c.category for c in split.cases} <= documented_categories(), split.name
    assert not {c.id for c in splits["dev"].cases} & {c.id for c in splits["test"].cases}


def test_no_question_is_asked_in_both_splits():
    dev, test = ({c.question.lower() for c in split.cases} for split in load_splits())

    assert not dev & test


def test_a_file_is_a_split_named_after_it_and_unknown_splits_are_refused(tmp_path):
    split = load_split(write_cases(tmp_path / "last-week.jsonl", GOOD))

    assert (split.name, len(split.cases)) == ("last-week", 1)
    with pytest.raises(DatasetError, match="Unknown split 'train'; choose from dev, test"):
        load_splits(["train"])


@pytest.mark.parametrize("name", list(SPLITS))
def test_every_expected_section_of_a_shipped_split_exists_in_the_knowledge_base(monkeypatch, name):
    root = SPLITS[name].parents[1]
    monkeypatch.chdir(root)  # sources are recorded relative to the working folder
    loaded = load_documents([root / "knowledge"])
    sections = {(c.source, c.anchor) for c in split_documents(loaded.documents, 900, 120)}

    missing = {
        (case.id, s.doc_id)
        for case in load_dataset(SPLITS[name])
        for s in case.expected_sections
        if (s.source, s.anchor) not in sections
    }

    assert not missing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"facts": ["re:(unclosed"]}, "line 2: field 'facts[0]': bad regular expression"),
        ({"refuse": "no"}, "line 2: field 'refuse': must be true or false"),
        ({"question": "  "}, "line 2: field 'question': must be non-empty text"),
        ({"expected_sections": [{"source": "faq.md"}]}, "line 2: field 'expected_sections[0]'"),
        ({"expected_sections": []}, "line 2: field 'expected_sections': needs at least one"),
        ({"refuse": True}, "line 2: field 'expected_sections'/'facts': must be empty"),
        ({"history": [{"role": "assistant", "content": "hi"}]}, "field 'history[0]': role"),
        ({"history": [{"role": "user", "content": "hi"}]}, "must end with an assistant turn"),
        ({"fact": ["x"]}, "line 2: field 'fact' is unknown"),
    ],
)
def test_a_malformed_case_is_reported_with_its_line_and_field(tmp_path, change, message):
    bad = {**GOOD, "id": "second", **change}
    path = write_cases(tmp_path / "cases.jsonl", GOOD, bad)

    with pytest.raises(DatasetError, match="cases.jsonl") as error:
        load_dataset(path)

    assert message in str(error.value)


def test_missing_fields_bad_json_and_duplicate_ids_are_reported(tmp_path):
    no_facts = {k: v for k, v in GOOD.items() if k != "facts"}
    cases = [
        (no_facts, "line 1: field 'facts' is missing"),
        ('{"id": "x",', "line 1: not valid JSON"),
        ("[1, 2]", "line 1: a case must be a JSON object"),
    ]
    for case, message in cases:
        with pytest.raises(DatasetError, match=message):
            load_dataset(write_cases(tmp_path / "cases.jsonl", case))

    with pytest.raises(DatasetError, match="line 3: field 'id': 'faq-exam-difficulty' is already"):
        load_dataset(write_cases(tmp_path / "cases.jsonl", GOOD, "", GOOD))

    with pytest.raises(DatasetError, match="no cases"):
        load_dataset(write_cases(tmp_path / "cases.jsonl", ""))

    with pytest.raises(DatasetError, match="Cannot read"):
        load_dataset(tmp_path / "missing.jsonl")
