"""Selection on hand-built passages: a lead-in brings the list it announces, a list question
gathers the whole list, a comparison quotes each side alone, and a count, amount or duration
prefers a unit that gives a number of the asked kind.

The scorer is set by hand to rank units by their similarity alone (probability 0.98 at 0.9,
0.5 at 0.5, 0.02 at 0.1), so every expected selection follows from the similarities given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from ingest.documents import Chunk, ChunkKind
from ingest.units import Unit, split_units
from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights, terms
from retrieval.question import analyze
from retrieval.scorer import Scorer
from retrieval.select import (
    UNIT_FEATURES,
    Candidate,
    gives_number,
    has_number,
    is_lead_in,
    select,
)


def scorer(intercept: float = -5.0, **coef: float) -> Scorer:
    """A selection scorer on raw (unstandardised) features with the given coefficients."""
    coef = coef or {"unit_sim": 10.0}
    count = len(UNIT_FEATURES)
    return Scorer(
        UNIT_FEATURES,
        tuple(coef.get(name, 0.0) for name in UNIT_FEATURES),
        intercept,
        (0.0,) * count,
        (1.0,) * count,
    )


BY_SIMILARITY = scorer()


def passage(
    text: str, similarities: Sequence[float], section: str, kind: ChunkKind = "text"
) -> ScoredChunk:
    """A retrieved chunk whose units have the given similarities, in order."""
    chunk = Chunk(
        f"{section}/{text[:30]}",
        text,
        "knowledge/syllabus.md",
        "Syllabus",
        section,
        section.split(" > ")[-1].lower().replace(" ", "-"),
        "/syllabus",
        kind,
    )
    units = split_units(chunk)
    assert len(units) == len(similarities), [u.text for u in units]
    return ScoredChunk(
        chunk,
        score=0.0,
        dense=0.5,
        bm25=1.0,
        unit=max(similarities),
        units=tuple(zip(units, similarities, strict=True)),
    )


def chosen(question: str, passages: Sequence[ScoredChunk]) -> list[str]:
    """Texts of the units `select` quotes for a question, in order."""
    weights = TermWeights(p.chunk.embedding_text for p in passages)
    asked = analyze(question, None, weights)
    return [c.unit.text for c in select(asked, passages, weights, BY_SIMILARITY)]


RULES = (
    "The exam is delivered online. The rules below apply on exam day:\n"
    "- Bring a photo ID.\n"
    "- Keep your phone in another room."
)


def test_a_lead_in_sentence_brings_the_items_it_announces() -> None:
    rules = passage(RULES, [0.3, 0.9, 0.1, 0.1], "FAQ > Exam day")
    other = passage("- Labs use DVC.", [0.1], "Guide > Labs")
    assert chosen("exam day rules", [rules, other]) == [
        "The rules below apply on exam day:",
        "Bring a photo ID.",
        "Keep your phone in another room.",
    ]


def test_a_plain_sentence_does_not_bring_the_items_after_it() -> None:
    text = RULES.replace("The rules below apply on exam day:", "Rules apply on exam day.")
    rules = passage(text, [0.3, 0.9, 0.1, 0.1], "FAQ > Exam day")
    assert chosen("exam day rules", [rules]) == ["Rules apply on exam day."]


def test_a_lead_in_brings_the_table_rows_of_its_section() -> None:
    lead = passage("The table below maps each track to its level.", [0.9], "Syllabus > Tracks")
    core = passage("Track: Core; Level: Foundation", [0.1], "Syllabus > Tracks", "table_row")
    governance = passage(
        "Track: Governance; Level: Professional", [0.1], "Syllabus > Tracks", "table_row"
    )
    elsewhere = passage("Role: SRE; Path: SRE path", [0.1], "Guide > Roles", "table_row")
    assert chosen("track levels", [lead, core, governance, elsewhere]) == [
        "The table below maps each track to its level.",
        "Track: Core; Level: Foundation",
        "Track: Governance; Level: Professional",
    ]


def test_a_list_question_gathers_every_item_of_the_best_unit_s_list() -> None:
    mistakes = passage(
        "Watch out for these.\n"
        "- Skipping data validation.\n"
        "- Leaving datasets without version control.\n"
        "- Training on stale features.\n"
        "- Ignoring drift in production.",
        [0.2, 0.3, 0.9, 0.1, 0.1],
        "Syllabus > Foundation level > Common mistakes",
    )
    other = passage("- Labs use DVC.", [0.3], "Guide > Labs")
    texts = chosen("what are the common mistakes", [mistakes, other])
    assert texts[0] == "Leaving datasets without version control."
    assert sorted(texts) == sorted(
        [
            "Skipping data validation.",
            "Leaving datasets without version control.",
            "Training on stale features.",
            "Ignoring drift in production.",
        ]
    )


def test_a_general_question_quotes_only_what_scores_close_to_the_best() -> None:
    mistakes = passage(
        "- Skipping data validation.\n- Leaving datasets without version control.",
        [0.9, 0.1],
        "Syllabus > Foundation level > Common mistakes",
    )
    assert chosen("why skip data validation", [mistakes]) == ["Skipping data validation."]


def test_a_comparison_quotes_units_about_each_side_alone() -> None:
    both = passage(
        "Both the Foundation and the Professional level end with an exam.",
        [0.9],
        "Syllabus > Levels",
    )
    foundation = passage(
        "It introduces data pipelines for machine learning.", [0.5], "Syllabus > Foundation level"
    )
    professional = passage(
        "The Professional level teaches feature stores.", [0.6], "Syllabus > Professional level"
    )
    texts = chosen("foundation vs professional level", [both, foundation, professional])
    assert texts == [
        "It introduces data pipelines for machine learning.",  # named by its heading
        "The Professional level teaches feature stores.",
    ]


def test_a_comparison_that_names_no_aspect_quotes_how_each_side_s_section_opens() -> None:
    foundation = passage(
        "The Foundation level is the entry stage. It introduces data pipelines. "
        "It needs no prior background. It ends with an exam. It suits data engineers.",
        [0.3, 0.3, 0.9, 0.9, 0.2],
        "Syllabus > Foundation level",
    )
    professional = passage(
        "The Professional level goes deep into automation. It covers feature stores. "
        "It is hands-on. It has two tracks. It suits architects.",
        [0.3, 0.3, 0.9, 0.9, 0.2],
        "Syllabus > Professional level",
    )
    texts = chosen("foundation vs professional lvl whats the diff", [foundation, professional])
    assert texts == [  # what each is, in the course's order, not what matches the words
        "The Foundation level is the entry stage.",
        "It introduces data pipelines.",
        "It needs no prior background.",
        "It ends with an exam.",
        "The Professional level goes deep into automation.",
        "It covers feature stores.",
        "It is hands-on.",
        "It has two tracks.",
    ]
    # words the sides' sections never use name no aspect ("basically the same thing")
    texts = chosen(
        "foundation vs professional, basically the same thing?", [foundation, professional]
    )
    assert texts[0] == "The Foundation level is the entry stage."
    # an aspect named ("which needs more background") leads with what matches it
    texts = chosen(
        "foundation vs professional, which needs more background", [foundation, professional]
    )
    assert texts[0] == "It needs no prior background."
    assert "The Foundation level is the entry stage." in texts


def test_a_comparison_of_two_table_rows_quotes_each_side_s_row() -> None:
    automation_row = passage(
        "Track: Data Automation; Level: Professional; Skills: Feature Stores",
        [0.4],
        "Syllabus > Certification tracks",
        "table_row",
    )
    quality_row = passage(
        "Track: Quality Control; Level: Professional; Skills: Validation Gates",
        [0.4],
        "Syllabus > Certification tracks",
        "table_row",
    )
    automation = passage(
        "The Data Automation track sits at the Professional level. "
        "The Data Automation track is aimed at Data Architects.",
        [0.9, 0.8],
        "Syllabus > Certification tracks > Data Automation track",
    )
    quality = passage(
        "The Quality Control track sits at the Professional level. "
        "The Quality Control track is aimed at Data Engineers.",
        [0.9, 0.8],
        "Syllabus > Certification tracks > Quality Control track",
    )
    texts = chosen(
        "data automation vs quality control track",
        [automation_row, quality_row, automation, quality],
    )
    assert len(texts) == 4
    assert "Feature Stores" in texts[0] and "Validation Gates" in texts[2]  # each side's record


def test_a_follow_up_does_not_quote_again_what_the_last_answer_said() -> None:
    overview = passage(
        "The SRE path covers reliability of models in production. "
        "It teaches service level objectives for predictions.",
        [0.9, 0.6],
        "Guide > SRE path",
    )
    weights = TermWeights([overview.chunk.embedding_text])
    asked = analyze("tell me more about the sre path", None, weights)
    first = select(asked, [overview], weights, BY_SIMILARITY)[0].unit.text
    said = "The SRE path covers the reliability of models in production [1]."
    again = replace(asked, said=frozenset(terms(said)))
    follow_up = select(again, [overview], weights, BY_SIMILARITY)[0].unit.text
    assert (first, follow_up) == (
        "The SRE path covers reliability of models in production.",
        "It teaches service level objectives for predictions.",
    )


def test_a_follow_up_naming_a_new_thing_is_answered_about_that_thing() -> None:
    overall = passage("Most learners take 30 to 90 days.", [0.9], "FAQ > How long")
    plan = passage("Most reach the Foundation level within 20 days.", [0.6], "Syllabus > Plan")
    weights = TermWeights(p.chunk.embedding_text for p in (overall, plan))
    standalone = "how long does it take to get certified (Foundation level)"
    first = analyze("how long does it take to get certified", None, weights)
    follow_up = analyze(
        standalone, "and just the foundation one?", weights, subjects=(("foundat",),)
    )
    assert select(first, [overall, plan], weights, BY_SIMILARITY)[0].unit.text.startswith("Most l")
    best = select(follow_up, [overall, plan], weights, BY_SIMILARITY)[0]
    assert best.unit.text == "Most reach the Foundation level within 20 days."


def test_a_duration_is_the_one_of_the_named_thing_whoever_named_it() -> None:
    overall = passage("Most learners take 30 to 90 days.", [0.9], "FAQ > How long")
    plan = passage("Most reach the Foundation level within 20 days.", [0.6], "Syllabus > Plan")
    weights = TermWeights(p.chunk.embedding_text for p in (overall, plan))
    # "how long does that take" after an answer about the Foundation level
    borrowed = analyze(
        "how long does that take (Foundation level)",
        "how long does that take",
        weights,
        subjects=(("foundat",),),
    )
    best = select(borrowed, [overall, plan], weights, BY_SIMILARITY)[0]
    assert best.unit.text == "Most reach the Foundation level within 20 days."


def test_a_count_is_given_in_the_courses_word_for_the_counted_things() -> None:
    unit = Unit("c", 0, "Nine providers offer training for it.", "sentence", "Guide > Providers")
    asked = analyze("how many training companies back this cert")
    assert asked.counted == "compani"
    assert not gives_number(asked, unit)
    assert gives_number(replace(asked, counted_as=frozenset({"provid"})), unit)


def test_a_question_about_one_named_thing_does_not_quote_its_neighbours() -> None:
    roles = passage(
        "A DevOps Engineer takes Foundation and Automation. "
        "A Cloud Engineer takes Infrastructure and Foundation. "
        "A Data Engineer takes Foundation and DataOps.",
        [0.8, 0.9, 0.8],
        "Guide > Certifications by role",
    )
    weights = TermWeights([roles.chunk.embedding_text])
    asked = analyze(
        "whats recommended for a cloud engineer", None, weights, subjects=(("cloud", "engin"),)
    )
    texts = [c.unit.text for c in select(asked, [roles], weights, BY_SIMILARITY)]
    assert texts == ["A Cloud Engineer takes Infrastructure and Foundation."]
    # without a named thing, the close neighbours still come along
    general = analyze("which engineer takes foundation", None, weights)
    assert len(select(general, [roles], weights, BY_SIMILARITY)) == 3


def test_a_comparison_with_one_side_missing_falls_back_to_the_best_unit() -> None:
    both = passage(
        "Both the Foundation and the Professional level end with an exam.",
        [0.9],
        "Syllabus > Levels",
    )
    foundation = passage("It introduces data pipelines.", [0.5], "Syllabus > Foundation level")
    texts = chosen("foundation vs professional level", [both, foundation])
    assert texts[0] == "Both the Foundation and the Professional level end with an exam."


def test_a_duration_prefers_a_unit_that_gives_a_time() -> None:
    prep = passage(
        "Foundation prep is self-paced. The Foundation level has 3 modules.",
        [0.9, 0.8],
        "Syllabus > Foundation level",
    )
    plan = passage(
        "Most learners finish the Foundation prep in 20 days.",
        [0.7],
        "Syllabus > Foundation level > Preparation plan",
    )
    texts = chosen("how long does the foundation prep take", [prep, plan])
    assert texts == ["Most learners finish the Foundation prep in 20 days."]


def test_a_weak_unit_with_a_number_does_not_beat_a_strong_one() -> None:
    prep = passage("Foundation prep is self-paced.", [0.9], "Syllabus > Foundation level")
    plan = passage("Some finish in 20 days.", [0.2], "Syllabus > Foundation level > Plan")
    texts = chosen("how long does the foundation prep take", [prep, plan])
    assert texts[0] == "Foundation prep is self-paced."


def test_an_amount_prefers_a_unit_with_a_currency() -> None:
    exam = passage(
        "The exam has 60 questions. The exam costs $200 per attempt.", [0.9, 0.7], "FAQ > Exam"
    )
    texts = chosen("how much does the exam cost", [exam])
    assert texts[0] == "The exam costs $200 per attempt."


def test_a_count_prefers_a_number_of_the_counted_thing() -> None:
    levels = passage("The course has two levels.", [0.9], "Syllabus > Levels")
    tracks = passage("The course offers four tracks.", [0.7], "Syllabus > Overview")
    texts = chosen("how many tracks are there", [levels, tracks])
    assert texts[0] == "The course offers four tracks."


def test_a_count_is_answered_by_the_list_under_a_heading_naming_the_counted_thing() -> None:
    levels = passage("The course has two levels.", [0.9], "Syllabus > Levels")
    tracks = passage("- Core\n- Governance\n- Security", [0.6, 0.3, 0.3], "Syllabus > Tracks")
    assert chosen("how many tracks are there", [levels, tracks]) == [
        "Core",
        "Governance",
        "Security",
    ]


def test_no_passages_select_nothing() -> None:
    weights = TermWeights(["The exam is online."])
    assert select(analyze("is the exam online", None, weights), [], weights, BY_SIMILARITY) == []


def test_the_scorer_s_coefficients_decide_the_best_unit() -> None:
    faq = passage("The exam is rated moderately difficult.", [0.5], "FAQ > How hard", "faq")
    text = passage("The exam covers automation and data.", [0.6], "Guide > Exam")
    weights = TermWeights(p.chunk.embedding_text for p in (faq, text))
    asked = analyze("how hard is the exam", None, weights)
    prefers_faq = scorer(intercept=0.0, faq=5.0)
    best = select(asked, [text, faq], weights, prefers_faq)[0]
    assert isinstance(best, Candidate)
    assert best.unit.kind == "faq" and best.features["faq"] == 1.0
    assert best.probability == pytest.approx(prefers_faq.probability(best.features))


def unit(text: str, kind: str = "sentence", section: str = "Syllabus > Overview") -> Unit:
    return Unit("c", 0, text, kind, section)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "text", "section", "gives"),
    [
        ("how long does it take", "Most learners take 30 to 90 days.", "FAQ > Time", True),
        ("how long does it take", "The Foundation level has 3 modules.", "FAQ > Time", False),
        ("how many hours does a lab take", "Each lab takes about two hours.", "Labs", True),
        ("how many hours does a lab take", "Preparation takes 20 days.", "Labs", False),
        ("how much does the exam cost", "The exam costs $200.", "FAQ > Exam", True),
        ("how much does the exam cost", "The exam costs 200 USD.", "FAQ > Exam", True),
        ("how much does the exam cost", "The exam has 60 questions.", "FAQ > Exam", False),
        ("how many tracks are there", "There are four tracks.", "Syllabus", True),
        ("how many tracks are there", "There are two levels.", "Syllabus", False),
        ("how many tracks are there", "There are four of them.", "Syllabus > Tracks", True),
        ("what is the pass mark", "The pass mark is 70 percent.", "FAQ > Exam", True),
        ("what is the pass mark", "The exam is hard.", "FAQ > Exam", False),
        ("is the exam online", "The exam is delivered online.", "FAQ > Exam", True),
    ],
)
def test_gives_number(question: str, text: str, section: str, gives: bool) -> None:
    assert gives_number(analyze(question), unit(text, section=section)) is gives


def test_a_list_item_under_the_counted_thing_s_heading_gives_the_count() -> None:
    item = unit("Governance", kind="item", section="Syllabus > Tracks")
    assert gives_number(analyze("how many tracks are there"), item)
    assert not gives_number(analyze("how many levels are there"), item)


def test_a_table_row_keyed_by_the_counted_thing_is_one_of_them() -> None:
    row = unit("Role: SRE; Recommended: Foundation", kind="row", section="Guide > By job")
    assert gives_number(analyze("how many job roles get a recommendation"), row)
    assert not gives_number(analyze("how many tracks are there"), row)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Most learners finish in 20 days.", True),
        ("It takes two to three years.", True),
        ("Take the Foundation level first.", True),
        ("The exam is delivered online.", False),
        ("Each lab uses DVC.", False),
    ],
)
def test_has_number(text: str, expected: bool) -> None:
    assert has_number(text) is expected


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("The table below lists the tracks.", "sentence", True),
        ("The course has these levels:", "sentence", True),
        ("The following tools are used in the labs.", "sentence", True),
        ("This table maps each role to a path.", "sentence", True),
        ("The exam is delivered online.", "sentence", False),
        ("Data validation: check inputs before training:", "item", False),
        ("The table below lists the tracks.", "faq", False),
        ("The course guide also explains why the skill matters.", "sentence", True),
        ("The full track table is in the syllabus.", "sentence", True),
        ("The guide is updated frequently.", "sentence", False),
    ],
)
def test_is_lead_in(text: str, kind: str, expected: bool) -> None:
    assert is_lead_in(unit(text, kind=kind)) is expected


def test_a_signpost_is_not_the_answer_but_says_where_to_look() -> None:
    """With a scorer that holds lead-ins against a unit, as the trained one does."""
    intro = passage("The course guide explains why the skill matters.", [0.9], "Guide > Intro")
    why = passage("The skill matters because data drives decisions.", [0.6], "Guide > Why")
    table = passage("The full track table is in the syllabus.", [0.7], "Guide > Tracks")
    wary = scorer(unit_sim=10.0, lead_in=-5.0)

    def first(question: str, passages: list[ScoredChunk]) -> str:
        weights = TermWeights(p.chunk.embedding_text for p in passages)
        return select(analyze(question, None, weights), passages, weights, wary)[0].unit.text

    assert first("why does the skill matter", [intro, why]) == why.chunk.text
    assert first("where do i find the full track table", [table, why]) == table.chunk.text


def _row(role: str, certs: str, similarity: float) -> ScoredChunk:
    return passage(
        f"Role: {role}; Certifications: {certs}", [similarity], "Guide > By role", "table_row"
    )


def test_a_list_over_a_table_takes_every_row_and_a_named_row_alone() -> None:
    rows = [
        _row("SRE", "Foundation and SRE Specialist", 0.9),
        _row("Data Engineer", "Foundation and DataOps Specialist", 0.5),
        _row("Cloud Engineer", "Professional Infrastructure", 0.2),
    ]
    every = chosen("which roles get certification recommendations", rows)
    assert len(every) == 3  # however weakly a row scores, the list is the whole table

    weights = TermWeights(p.chunk.embedding_text for p in rows)
    sre = analyze("which certifications should an SRE take", None, weights, subjects=(("sre",),))
    picked = select(sre, rows, weights, BY_SIMILARITY)
    assert [c.unit.text for c in picked] == [
        "Role: SRE; Certifications: Foundation and SRE Specialist"
    ]


def test_a_list_over_a_table_qualified_by_a_named_thing_keeps_the_rows_it_qualifies() -> None:
    def track(name: str, level: str, prerequisite: str, similarity: float) -> ScoredChunk:
        return passage(
            f"Track: {name}; Level: {level} level; Prerequisites: {prerequisite} Level",
            [similarity],
            "Syllabus > Tracks",
            "table_row",
        )

    rows = [
        track("Governance", "Advanced", "Professional", 0.9),  # needs it, is not at it
        track("Data Automation", "Professional", "Foundation", 0.6),
        track("Core", "Foundation", "no", 0.5),
    ]
    weights = TermWeights(p.chunk.embedding_text for p in rows)
    asked = analyze("which tracks are at the professional level", None, weights)
    asked = replace(asked, subjects=(("profession",),))

    picked = [c.unit.text for c in select(asked, rows, weights, BY_SIMILARITY)]

    assert picked == [rows[1].chunk.text]  # its Level is Professional; Governance's is not


def test_a_named_row_with_a_column_of_what_is_asked_is_the_answer() -> None:
    careers = passage(
        "Data engineers who certify often become platform architects.", [0.8], "FAQ > Careers"
    )
    row = _row("Data Engineer", "Foundation and DataOps Specialist", 0.5)
    weights = TermWeights(p.chunk.embedding_text for p in (careers, row))

    def first(question: str) -> str:
        asked = analyze(question, None, weights, subjects=(("data", "engin"),))
        return select(asked, [careers, row], weights, BY_SIMILARITY)[0].unit.text

    # "certs" is the row's column: the row answers, though the FAQ scores higher
    assert first("what certifications should a data engineer go for") == row.chunk.text
    # a question that asks nothing the row's columns hold keeps the best-scoring unit
    assert first("what do data engineers become") == careers.chunk.text


def test_a_list_about_a_thing_comes_from_its_own_section_unless_another_says_what_is_asked():
    aligned = passage(
        "The program is aligned with modern DataOps practices: data-as-code and lineage.",
        [0.9],
        "Guide > What the certification is",
    )
    path = passage(
        "The DataOps path builds automated pipelines for data cleaning and versioning.",
        [0.6],
        "Guide > Learning paths > DataOps path",
    )
    others = ["The exam is taken online.", "Renewal comes every two years.", "Labs use DVC."]
    weights = TermWeights([*(p.chunk.embedding_text for p in (aligned, path)), *others])

    def first(question: str) -> str:
        asked = analyze(question, None, weights, subjects=(("dataop",),))
        return select(asked, [aligned, path], weights, BY_SIMILARITY)[0].unit.text

    # what the DataOps path covers is in its own section, though another unit scores higher
    assert first("list what the dataops path covers") == path.chunk.text
    # the practices the program is aligned with are where the course says so
    assert first("which modern dataops practices is the program aligned with, list them") == (
        aligned.chunk.text
    )


def test_a_comparison_of_sides_in_generic_words_quotes_each_side() -> None:
    same = passage("Same-track progression means going deeper.", [0.6], "Guide > Same-track")
    cross = passage("Cross-track expansion means going wider.", [0.5], "Guide > Cross-track")
    both = passage("Learners grow same-track or cross-track.", [0.9], "Guide > Next")
    texts = chosen("same-track vs cross-track, whats the diff", [both, same, cross])
    assert texts == [
        "Same-track progression means going deeper.",
        "Cross-track expansion means going wider.",
    ]
