"""Eval metrics on tiny hand-made runs whose values are worked out by hand, and dataset checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evals.dataset import DEFAULT_DATASET, DatasetError, load_dataset
from evals.metrics import (
    check_citations,
    f1,
    fact_found,
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
from evals.report import format_table, retriever_report, summarize, to_markdown
from evals.runner import CaseResult
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


def test_fact_recall_is_the_share_of_facts_stated():
    facts = ["Foundation", "Professional", "re:Advanced|Specialist"]
    assert fact_recall(facts, "Foundation, then Professional, then Advanced.") == 1.0
    assert fact_recall(facts, "Start with Foundation.") == pytest.approx(1 / 3)
    assert fact_recall(facts, "") == 0.0
    assert fact_recall([], "anything") == 1.0


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


def result(case_id: str, category: str, refuse: bool, refused: bool, **fields) -> CaseResult:
    return CaseResult(case_id, category, refuse, refused, "answer", "query", 10.0, **fields)


def test_summary_pools_citations_and_counts_refused_answers_as_stating_no_facts():
    retrieval = {"hit_rate@1": 1.0, "hit_rate@5": 1.0, "recall@5": 1.0, "mrr@10": 1.0,
                 "ndcg@10": 1.0}  # fmt: skip
    missed = dict.fromkeys(retrieval, 0.0)
    results = [
        result(
            "a",
            "faq",
            False,
            False,
            facts_found=[True, False],
            citations=2,
            supported=2,
            sentences=2,
            covered=1,
            retrieval=retrieval,
            retrieval_ms=5.0,
        ),  # fmt: skip
        result("b", "faq", False, True, facts_found=[False], retrieval=missed, retrieval_ms=15.0),
        result("c", "off_topic", True, True),
        result("d", "off_topic", True, False, citations=1, supported=0, sentences=1, covered=0),
    ]

    summary = summarize(results)

    assert summary["hit_rate@1"] == summary["mrr@10"] == 0.5
    assert summary["fact_recall"] == pytest.approx((0.5 + 0.0) / 2)
    assert summary["citation_precision"] == pytest.approx(2 / 3)
    assert summary["citation_coverage"] == pytest.approx(1 / 3)
    assert (summary["refusal_precision"], summary["refusal_recall"]) == (0.5, 0.5)
    assert summary["ask_p50_ms"] == 10.0
    assert summary["retrieval_p50_ms"] == 10.0

    report = retriever_report(results)
    assert set(report.categories) == {"faq", "off_topic"}
    assert report.categories["off_topic"]["hit_rate@1"] is None
    assert report.categories["off_topic"]["refusal_recall"] == 0.5


def test_tables_show_every_retriever_side_by_side():
    from evals.report import Report

    results = [result("a", "faq", False, False, facts_found=[True])]
    report = Report("cases.jsonl", "2026-01-01T00:00:00+00:00", 1)
    report.retrievers = {n: retriever_report(results) for n in ("hybrid", "dense", "bm25")}

    header = format_table(report).splitlines()[0].split()
    markdown = to_markdown(report, chart="report.png")

    assert header == ["metric", "hybrid", "dense", "bm25"]
    assert "| fact_recall | 1.000 | 1.000 | 1.000 |" in markdown
    assert "![metrics per retriever and category](report.png)" in markdown
    assert "## dense: per category" in markdown


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


CATEGORIES = {"faq_wording", "paraphrase", "keyword", "table_row", "multi_section",
              "follow_up", "unanswerable", "off_topic", "injection"}  # fmt: skip
REFUSE_CATEGORIES = {"unanswerable", "off_topic", "injection"}


def test_the_shipped_dataset_loads_with_its_documented_categories():
    cases = load_dataset(DEFAULT_DATASET)

    assert len(cases) >= 129
    assert {c.category for c in cases} == CATEGORIES
    assert all(c.refuse == (c.category in REFUSE_CATEGORIES) for c in cases)


def test_every_expected_section_of_the_shipped_dataset_exists_in_the_knowledge_base(monkeypatch):
    root = DEFAULT_DATASET.parents[1]
    monkeypatch.chdir(root)  # sources are recorded relative to the working folder
    loaded = load_documents([root / "knowledge"])
    sections = {(c.source, c.anchor) for c in split_documents(loaded.documents, 900, 120)}

    missing = {
        (case.id, s.doc_id)
        for case in load_dataset(DEFAULT_DATASET)
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
