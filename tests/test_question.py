"""Question analysis: the kind of answer a question wants (count, amount, duration, list,
comparison with its two sides, yes/no), what a count counts, a follow-up's own words, and
how much each word weighs when coverage is measured."""

from __future__ import annotations

import pytest

from retrieval.lexical import TermWeights, Vocabulary, covered, weighted_terms
from retrieval.question import NEEDS, analyze, need_of

# A corpus where "exam" is in one passage of four, so it is not a common word left out.
CORPUS = [
    "The exam is rated moderately difficult.",
    "The Foundation level introduces data pipelines.",
    "The Professional level preparation takes about 60 days.",
    "The labs use DVC for data versioning.",
]


@pytest.fixture
def weights() -> TermWeights:
    return TermWeights(CORPUS)


@pytest.mark.parametrize(
    "question",
    [
        "how much does the exam cost",
        "what's the fee",
        "whats the fee",
        "price of the professional cert",
        "what are the fees",
        "how much is the exam fee",
        "how much do they charge for the exam",
        "how much will I pay for the professional level",
        "what does the exam cost",
        "what do people with it earn",
    ],
)
def test_an_amount_of_money_is_a_count_of_money(question: str) -> None:
    asked = analyze(question)
    assert (asked.need, asked.counted) == ("count", "money")


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("how many tracks are there", "track"),
        ("how many levels does the course have", "level"),
        ("Number of learning paths?", "path"),
        ("how many attempts do i get for the foundation exam", "attempt"),
        # a score or a share is a number too: the course must state one to answer
        ("what score do i need to pass the professional one", "score"),
        ("what % of people pass on the first try", "score"),
        ("whats the pass rate", "score"),
    ],
)
def test_a_count_names_the_stem_of_what_it_counts(question: str, counted: str) -> None:
    asked = analyze(question)
    assert (asked.need, asked.counted) == ("count", counted)


@pytest.mark.parametrize(
    "question",
    [
        "how long does the foundation prep take",
        "how many weeks is the professional level",
        "how much time does prep take",
        "how many hours does a lab take",
        "when does the certification expire",
    ],
)
def test_durations_win_over_counts(question: str) -> None:
    assert analyze(question).need == "duration"


@pytest.mark.parametrize(
    "question",
    ["how much time does prep take", "what does the FinOps path say about cost optimisation"],
)
def test_time_and_the_topic_of_cost_are_not_money(question: str) -> None:
    assert analyze(question).counted != "money"


@pytest.mark.parametrize(
    "question",
    [
        "list the learning paths",
        "what are all the tracks",
        "which tools do the labs use",
        "what types of labs are there",
        "what tracks exist",
    ],
)
def test_list_questions(question: str) -> None:
    assert analyze(question).need == "list"


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("foundation vs professional level", ("foundation", "professional level")),
        ("SRE path versus FinOps path", ("SRE path", "FinOps path")),
        (
            "difference between the SRE path and the FinOps path",
            ("SRE path", "FinOps path"),
        ),
        (
            "what is the difference between foundation and professional",
            ("foundation", "professional"),
        ),
        ("which comes first, foundation or professional", ("foundation", "professional")),
        (
            "how does the foundation level compare to the professional level",
            ("foundation level", "professional level"),
        ),
        # "between them" names no side: the sides are on either side of "vs"
        (
            "devops path vs devsecops path, whats the diff between them",
            ("devops path", "devsecops path"),
        ),
        ("sre path or the dataops one.. how do they differ?", ("sre path", "dataops")),
        ("dataopsschool or finopsschool, whats the difference", ("dataopsschool", "finopsschool")),
        # "X or Y, which ...": the choice is asked after the sides
        ("sre path or finops path which should i pick", ("sre path", "finops path")),
        # what sets them apart, whether they are the same, what each one covers
        (
            "what seperates the devsecops path from the sre path?",
            ("devsecops path", "sre path"),
        ),
        ("governance or mlops core, what sets them apart", ("governance", "mlops core")),
        # "between X and Y vs Z": the vs sets the sides, Y against Z
        (
            "whats the diff between staying put and going deeper vs branching out",
            ("going deeper", "branching out"),
        ),
        ("sre path or dataops path, do they teach the same", ("sre path", "dataops path")),
        (
            "data automation or quality control, what does each cover",
            ("data automation", "quality control"),
        ),
    ],
)
def test_a_comparison_carries_both_sides(question: str, sides: tuple[str, str]) -> None:
    asked = analyze(question)
    assert (asked.need, asked.sides) == ("comparison", sides)


def test_a_question_with_one_side_is_not_a_comparison() -> None:
    asked = analyze("tell me about the SRE path")
    assert asked.sides == ()
    assert asked.need == "general"
    assert analyze("does the cert make a difference for my career").sides == ()


@pytest.mark.parametrize(
    "question",
    ["is the exam online", "can I take the exam from home", "hey, is the exam online?"],
)
def test_yes_no_questions(question: str) -> None:
    assert analyze(question).need == "yes_no"


@pytest.mark.parametrize(
    "question", ["What is DVC used for", "tell me about the SRE path", "why validate data"]
)
def test_other_questions_want_a_general_statement(question: str) -> None:
    assert analyze(question).need == "general"


def test_need_of_is_always_one_of_the_needs() -> None:
    assert need_of("") in NEEDS
    assert need_of("   ") == "general"


def test_need_of_takes_a_comparison_only_with_two_sides() -> None:
    assert need_of("foundation or professional, which is better", has_sides=True) == "comparison"
    assert need_of("foundation or professional, which is better", has_sides=False) != "comparison"


def test_a_follow_up_keeps_its_own_words_apart_from_the_borrowed_subject() -> None:
    asked = analyze("how much does the professional level cost", own="what do they cost")
    assert "profession" in asked.terms
    assert asked.own_terms == ("cost",)


def test_a_first_question_s_own_words_are_all_its_words() -> None:
    asked = analyze("how hard is the exam")
    assert asked.own_terms == asked.terms


def test_chat_filler_the_course_lacks_weighs_nothing_but_fee_does(weights: TermWeights) -> None:
    weighted = {t: w for t, w in weighted_terms("ok the one good way to get the exam fee", weights)}
    for filler in ("one", "good", "way", "get"):
        assert weighted[filler] == pytest.approx(0.0)
    assert weighted["fee"] > weighted["exam"] > 0


@pytest.mark.parametrize(
    ("typed", "telling"),
    [
        ("so it doesnt matter which country im in", {"matter", "countri"}),
        ("why tho", set()),
        ("how difficult is the exam realistically, be honest", {"difficult"}),
    ],
)
def test_contractions_and_asides_are_no_words_the_course_lacks(
    weights: TermWeights, typed: str, telling: set[str]
) -> None:
    # "doesnt" or "honest" counted as asked for made a refusal of what the course answers
    mended = Vocabulary(["the exam is moderately difficult"]).mend(typed)
    assert {t for t, _ in weighted_terms(mended, weights)} - {"exam"} == telling


def test_missing_filler_does_not_make_a_passage_miss_the_question(weights: TermWeights) -> None:
    weighted = weighted_terms("ok the one good way to get the exam fee", weights)
    assert covered(weighted, {"exam", "fee"}) == pytest.approx(1.0)
    # Without the fee, most of what is asked is missing.
    assert covered(weighted, {"exam"}) < 0.5


def test_analyze_weighs_the_question_and_the_follow_up_s_own_words(weights: TermWeights) -> None:
    asked = analyze("how much does the professional level cost", "what do they cost", weights)
    assert {t for t, _ in asked.own_weighted} == {"cost"}
    assert "profession" in {t for t, _ in asked.weighted}


def test_analyze_without_weights_weighs_nothing() -> None:
    asked = analyze("how hard is the exam")
    assert asked.weighted == () and asked.own_weighted == ()


def test_nothing_telling_asked_is_fully_covered() -> None:
    assert covered([], set()) == 1.0
