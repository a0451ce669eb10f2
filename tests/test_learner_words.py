"""The course's thesaurus of learner words: phrases found stem by stem, course terms added to
the search, a broken edit reported by name and never taking answers down, and the shipped
thesaurus in step with the course text."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from cert_core.errors import LearnerWordsError
from retrieval.learner_words import LearnerWords, LearnerWordsFile, expand, near

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "knowledge" / "learner-words.toml"

THESAURUS = """
[[term]]
course = "online proctoring"
learner = ["from home", "remotely", "from my couch"]

[[term]]
course = "renewal"
learner = ["expire", "lapse"]

[[term]]
course = "FinOps"
learner = ["cloud bill", "cloud spend"]
"""


@pytest.fixture
def words() -> LearnerWords:
    return LearnerWords.parse(THESAURUS)


def test_phrases_are_found_in_any_inflection_and_only_whole(words: LearnerWords):
    assert words.found("does it EXPIRE or lapses after a while?") == [
        ("expire", "renewal"),
        ("lapse", "renewal"),
    ]
    assert words.found("it expired, has my cert lapsed") == [
        ("expire", "renewal"),
        ("lapse", "renewal"),
    ]
    assert words.found("can i sit it from my couch") == [("from my couch", "online proctoring")]
    assert words.found("our cloud bills are huge") == [("cloud bill", "FinOps")]
    assert words.found("is there homework") == []  # "home" alone is no phrase
    assert words.found("what does the exam cost") == []


def test_a_longer_phrase_wins_over_one_inside_it_wherever_each_is_written():
    words = LearnerWords.parse(
        '[[term]]\ncourse = "cost"\nlearner = ["bill"]\n'
        '[[term]]\ncourse = "FinOps"\nlearner = ["cloud bill", "bill down"]\n'
    )
    assert words.found("our cloud bill") == [("cloud bill", "FinOps")]
    assert words.found("a bill, then the cloud bill") == [
        ("cloud bill", "FinOps"),
        ("bill", "cost"),
    ]
    # two equally long phrases overlapping: the one written first in the file wins
    assert words.found("get the cloud bill down") == [("cloud bill", "FinOps")]


def test_a_phrase_means_its_course_term_even_when_the_course_uses_each_word():
    words = LearnerWords.parse('[[term]]\ncourse = "Foundation level"\nlearner = ["first level"]')
    assert words.found("do i need data science for the first level") == [
        ("first level", "Foundation level")
    ]
    assert words.found("is the level of the first exam high") == []


def test_the_course_term_joins_the_search_but_not_twice(words: LearnerWords):
    def expanded(question: str) -> str:
        return expand(question, words.found(question))

    assert expanded("can i take it remotely") == "can i take it remotely online proctoring"
    assert expanded("renewal: does it expire") == "renewal: does it expire"
    assert expanded("how hard is it") == "how hard is it"


def test_a_learner_word_counts_as_its_course_term(words: LearnerWords):
    assert near(words.found("keeping cloud spend down")) == {
        "cloud": (("finop", 1.0),),
        "spend": (("finop", 1.0),),
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[term]\ncourse = 1", "not valid TOML"),
        ('term = "renewal"', "'term' must be a list"),
        ("term = [1]", "term 1 is not a [[term]] table"),
        ('[[term]]\nlearner = ["expire"]', "term 1 has no 'course' text"),
        ('[[term]]\ncourse = "renewal"\nlearner = "expire"', "term 1 ('renewal') needs 'learner'"),
    ],
)
def test_a_broken_thesaurus_is_reported_by_file_and_entry(text: str, says: str):
    with pytest.raises(LearnerWordsError, match="learner-words.toml") as raised:
        LearnerWords.parse(text)
    assert says in str(raised.value)


def test_the_file_is_read_again_when_it_changes_and_a_broken_edit_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "learner-words.toml"
    thesaurus = LearnerWordsFile(path)
    assert thesaurus.current().found("does it expire") == []  # no file: no learner words

    path.write_text(THESAURUS, encoding="utf-8")
    assert thesaurus.current().found("does it expire") == [("expire", "renewal")]

    path.write_text(THESAURUS + "\n[[term]\n", encoding="utf-8")
    _touch_later(path)
    assert thesaurus.current().found("does it expire") == [("expire", "renewal")]
    assert "keeping the last good learner words" in caplog.text
    assert "not valid TOML" in caplog.text

    path.write_text('[[term]]\ncourse = "renewal"\nlearner = ["run out"]\n', encoding="utf-8")
    _touch_later(path)
    assert thesaurus.current().found("does it expire") == []
    assert thesaurus.current().found("when does it run out") == [("run out", "renewal")]

    path.unlink()
    assert thesaurus.current().found("when does it run out") == []


def _touch_later(path: Path) -> None:
    """Move the file's time on, as a save a moment later does on a coarse clock."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


# --- the thesaurus the course ships ------------------------------------------------------------


def _course_text() -> str:
    return " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "knowledge").glob("*.md"))


def test_the_shipped_thesaurus_names_only_terms_the_course_uses():
    text = _course_text().lower()
    terms = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))["term"]
    missing = [t["course"] for t in terms if t["course"].lower() not in text]
    assert missing == []
    assert len(LearnerWords.parse(SHIPPED.read_text(encoding="utf-8")).phrases) >= 100


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("how much does the exam cost", "cost"),
        ("whats the fee", "fee"),
        ("what's the price of the pro level", "price"),
        ("what is the pass mark", "pass mark"),
        ("how many questions are on the test", "questions"),
        ("who is the trainer", "trainer"),
        ("what salary can i expect", "salary"),
    ],
)
def test_the_shipped_thesaurus_never_maps_what_the_course_does_not_say(question, missing):
    """A fee, a pass mark or a salary must stay missing from the course, so that the
    assistant keeps refusing them rather than answering about something near ("test" may
    still be the exam)."""
    words = LearnerWords.parse(SHIPPED.read_text(encoding="utf-8"))
    assert [phrase for phrase, _ in words.found(question) if missing in phrase] == []


# --- on the real course, with the real model ---------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "fact", "anchor"),
    [
        (
            "will my certificate expire eventually",
            "two to three years",
            "how-often-does-the-certification-need-renewing",
        ),
        (  # the retrained scorers answer "total fresher, where do i start" without it too
            "total noob with zero experience, can i start",
            "no formal prerequisites",
            "does-the-foundation-level-have-any-prerequisites",
        ),
    ],
)
def test_a_question_in_learner_words_is_answered_that_was_refused_without_them(
    real_index: Path, tmp_path: Path, question: str, fact: str, anchor: str
):
    from cert_core.settings import Settings
    from retrieval import make_assistant

    without = make_assistant(Settings(data_dir=real_index, knowledge_dir=tmp_path))
    shipped = make_assistant(Settings(data_dir=real_index, knowledge_dir=ROOT / "knowledge"))
    try:
        assert without.ask(question).citations == []  # refused: the course never says it so

        answer = shipped.ask(question)
        assert fact in answer.answer
        assert any(fact in c.text and c.url.endswith(f"#{anchor}") for c in answer.citations)
    finally:
        for assistant in (without, shipped):
            assistant.retriever.store.client.close()
