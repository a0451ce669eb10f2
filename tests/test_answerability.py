"""Answerability on hand-built passages: a count, amount or duration with no fitting number is
refused whatever the scorer says, otherwise the scorer and its threshold decide, and a
follow-up is judged on the learner's own words, not the subject it borrowed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import pytest

from ingest.documents import Chunk
from ingest.units import Unit, split_units
from retrieval.answerability import (
    ANSWER_FEATURES,
    answer_features,
    answerable,
    lacks_asked_kind,
)
from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights
from retrieval.question import Question, analyze
from retrieval.scorer import Scorer
from retrieval.select import UNIT_FEATURES, Candidate, select

COURSE = [
    "The Professional level teaches feature stores and automated validation.",
    "The Foundation level introduces data pipelines for machine learning.",
    "The exam is delivered through secure online proctoring.",
    "The labs use DVC for data versioning.",
]


def scorer(
    features: Sequence[str], intercept: float, threshold: float = 0.5, **coef: float
) -> Scorer:
    """A scorer on raw (unstandardised) features."""
    return Scorer(
        tuple(features),
        tuple(coef.get(name, 0.0) for name in features),
        intercept,
        (0.0,) * len(features),
        (1.0,) * len(features),
        threshold,
    )


BY_SIMILARITY = scorer(UNIT_FEATURES, -5.0, unit_sim=10.0)
ALWAYS = scorer(ANSWER_FEATURES, 50.0)
NEVER = scorer(ANSWER_FEATURES, -50.0)


def passage(text: str, similarity: float, section: str = "FAQ > Exam") -> ScoredChunk:
    chunk = Chunk(f"id-{text[:20]}", text, "knowledge/faq.md", "FAQ", section, "exam", "/faq")
    units = split_units(chunk)
    return ScoredChunk(
        chunk,
        score=0.0,
        dense=similarity,
        bm25=1.0,
        unit=similarity,
        units=tuple((u, similarity) for u in units),
    )


@pytest.fixture
def weights() -> TermWeights:
    return TermWeights(COURSE)


def decide(
    question: Question, passages: Sequence[ScoredChunk], weights: TermWeights, judge: Scorer
) -> bool:
    chosen = select(question, passages, weights, BY_SIMILARITY)
    return answerable(question, passages, chosen, weights, judge)


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("how much does the exam cost", "The exam has 60 questions and is taken online."),
        ("what's the fee", "The exam is delivered through secure online proctoring."),
        ("how long does the foundation prep take", "The Foundation prep has 3 modules."),
        ("how many tracks are there", "The course has two levels."),
    ],
)
def test_a_count_or_duration_without_a_fitting_number_is_refused_whatever_the_scorer(
    question: str, text: str, weights: TermWeights
) -> None:
    asked = analyze(question, None, weights)
    assert not decide(asked, [passage(text, 0.9)], weights, ALWAYS)


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("how much does the exam cost", "The exam costs $200 per attempt."),
        ("how long does the foundation prep take", "Foundation prep takes about 20 days."),
        ("how many tracks are there", "The course has four tracks."),
    ],
)
def test_a_fitting_number_leaves_the_decision_to_the_scorer(
    question: str, text: str, weights: TermWeights
) -> None:
    asked = analyze(question, None, weights)
    assert decide(asked, [passage(text, 0.9)], weights, ALWAYS)
    assert not decide(asked, [passage(text, 0.9)], weights, NEVER)


PLAN = (
    "The plan shows how long each stage of getting ready takes.\n"
    "- 7-14 days: read the modules.\n"
    "- 30 days: finish the labs.\n"
    "- 60 days: sit the exam."
)


def test_a_count_of_things_is_answered_by_the_list_that_names_them(weights: TermWeights) -> None:
    plan = passage(PLAN, 0.9, "Syllabus > Preparation plan")
    asked = analyze("how many stages r in the study plan", None, weights)
    assert decide(asked, [plan], weights, ALWAYS)
    # a list that never names the counted things does not count them
    asked = analyze("how many questions are on the exam", None, weights)
    assert not decide(asked, [plan], weights, ALWAYS)


def test_other_questions_are_decided_by_the_scorer(weights: TermWeights) -> None:
    asked = analyze("is the exam online", None, weights)
    online = [passage("The exam is delivered through secure online proctoring.", 0.8)]
    assert decide(asked, online, weights, ALWAYS)
    assert not decide(asked, online, weights, NEVER)


def test_the_threshold_decides(weights: TermWeights) -> None:
    asked = analyze("is the exam online", None, weights)
    online = [passage("The exam is delivered through secure online proctoring.", 0.4)]
    probability = 1 / (1 + math.exp(-0.4))  # 0.599: the unit's similarity alone
    assert 0.55 < probability < 0.65
    assert decide(asked, online, weights, scorer(ANSWER_FEATURES, 0.0, 0.55, unit_sim=1.0))
    assert not decide(asked, online, weights, scorer(ANSWER_FEATURES, 0.0, 0.65, unit_sim=1.0))


def test_nothing_chosen_is_refused(weights: TermWeights) -> None:
    asked = analyze("is the exam online", None, weights)
    assert not answerable(asked, [], [], weights, ALWAYS)


def features_for(question: Question, text: str, weights: TermWeights) -> dict[str, float]:
    passages = [passage(text, 0.7, section="Syllabus > Professional level")]
    chosen: list[Candidate] = select(question, passages, weights, BY_SIMILARITY)
    return answer_features(question, passages, chosen, weights)


def test_a_follow_up_is_judged_on_its_own_words(weights: TermWeights) -> None:
    text = "The Professional level teaches feature stores and automated validation."
    standalone = "what does the professional level cost"
    follow_up = analyze(standalone, "what do they cost", weights)
    first = analyze(standalone, None, weights)
    own = features_for(follow_up, text, weights)
    whole = features_for(first, text, weights)
    # The passage names the subject the follow-up borrowed, not what it asks.
    assert whole["passage_coverage"] > 0
    assert own["passage_coverage"] == 0
    assert own["unit_coverage"] == 0
    assert own["unknown_share"] == pytest.approx(1.0)
    assert own["few_terms"] == 1.0 and whole["few_terms"] == 0.0


def test_answer_features_are_the_declared_features(weights: TermWeights) -> None:
    text = "The exam is delivered through secure online proctoring."
    values = features_for(analyze("is the exam online", None, weights), text, weights)
    assert tuple(values) == ANSWER_FEATURES
    assert values["number_missing"] == 0.0
    assert values["unit_sim"] == values["chunk_sim"] == values["top_closeness"] == 0.7


def test_a_count_in_other_words_is_covered_by_the_course_words_it_counts_as() -> None:
    course = TermWeights([*COURSE, "The certification has three levels."])
    text = "The certification has three levels: Foundation, Professional and Advanced."
    asked = analyze("how many tiers are there", None, course)
    assert asked.counted == "tier"
    alone = features_for(asked, text, course)
    counted = features_for(replace(asked, counted_as=frozenset({"level"})), text, course)
    # "tiers" is a word the course never uses; counted as levels, the passage holds it
    assert alone["unit_coverage"] < 0.1 and alone["unknown_share"] > 0.9
    assert counted["unit_coverage"] > 0.9 and counted["unknown_share"] < 0.1


def test_number_missing_marks_an_unanswered_amount(weights: TermWeights) -> None:
    text = "The exam is delivered through secure online proctoring."
    values = features_for(analyze("how much does the exam cost", None, weights), text, weights)
    assert values["number_missing"] == 1.0


@pytest.mark.parametrize(
    ("question", "quoted", "lacks"),
    [
        ("is the exam in hindi", "The exams can be taken online.", True),
        ("is the exam in hindi", "The exam is offered in Hindi and English.", False),
        ("can i retake it if i fail", "The exam is rated moderately difficult.", True),
        ("can i retake it if i fail", "Two attempts are included.", False),
        ("is it open book", "The exams can be taken online.", True),
        ("can i keep notes open during the test or its closed book", "Exams are online.", True),
        ("is there a free trial on the platform", "Aiopsschool is the main provider.", True),
        ("any demo class before i pay", "Aiopsschool is the main provider.", True),
        ("is there a free trial", "A 7-day free trial is offered.", False),
        ("do they guarantee a job", "Graduates become AI Data Engineers.", True),
        ("what feast version do the labs run", "The labs use Feast and DVC.", True),
        ("which dvc version is it", "The labs use DVC 3.1 for versioning.", False),
        ("any exam dates in march", "The exams can be taken online.", True),
        # the words alone do not ask for the detail
        ("how is the exam rated", "The exam is rated moderately difficult.", False),
        ("what does the course cover", "The course covers lineage.", False),
        ("do they teach version control", "The labs use DVC.", False),
        ("which versions of the datasets are kept", "Datasets are versioned.", False),
        ("whats the next exam after foundation", "Professional comes next.", False),
    ],
)
def test_a_detail_the_course_never_states_is_asked_for_only_by_its_own_words(
    question: str, quoted: str, lacks: bool
) -> None:
    unit = Unit("c", 0, quoted, "sentence", "FAQ > Exam")
    chosen = [Candidate(unit, 0, {}, 0.9)]

    assert lacks_asked_kind(analyze(question), chosen) is lacks
