"""Soft matching with hand-made 3-d vectors: a word the course never uses finds the course
words near it in meaning (as stems, at or above `MIN_SIMILARITY`), none when nothing is near,
and an empty vocabulary finds nothing."""

from __future__ import annotations

import math

from retrieval.neighbours import MIN_SIMILARITY, Neighbours


def at_angle(cosine: float) -> list[float]:
    """A unit vector in the x-y plane whose cosine similarity to (1, 0, 0) is `cosine`."""
    return [cosine, math.sqrt(1 - cosine * cosine), 0.0]


VOCABULARY = [
    ("difficult", [1.0, 0.0, 0.0]),
    ("challenges", at_angle(0.9)),
    ("proctoring", [0.0, 0.0, 1.0]),
    ("weeks", [0.0, -1.0, 0.0]),
]


def test_a_word_finds_the_course_words_near_it_as_stems() -> None:
    found = Neighbours(VOCABULARY).of({"tough": [1.0, 0.0, 0.0]})
    assert found == {"tough": frozenset({"difficult", "challeng"})}


def test_similarity_is_cosine_whatever_the_vector_lengths() -> None:
    longer = [(w, [10 * x for x in v]) for w, v in VOCABULARY]
    assert Neighbours(longer).of({"tough": [0.2, 0.0, 0.0]}) == Neighbours(VOCABULARY).of(
        {"tough": [1.0, 0.0, 0.0]}
    )


def test_only_words_at_or_above_the_least_similarity_count() -> None:
    words = [("above", at_angle(MIN_SIMILARITY + 0.01)), ("below", at_angle(MIN_SIMILARITY - 0.01))]
    assert Neighbours(words).of({"query": [1.0, 0.0, 0.0]}) == {"query": frozenset({"abov"})}


def test_a_word_with_nothing_near_finds_nothing() -> None:
    found = Neighbours(VOCABULARY).of({"fee": at_angle(-0.5), "refund": [0.0, 0.0, 0.0]})
    assert found == {"fee": frozenset(), "refund": frozenset()}


def test_each_word_gets_at_most_top_neighbours() -> None:
    close = [(f"word{i}", at_angle(0.99 - i / 100)) for i in range(4)]
    found = Neighbours(close, top=2).of({"query": [1.0, 0.0, 0.0]})
    assert found == {"query": frozenset({"word0", "word1"})}


def test_a_lower_least_similarity_lets_farther_words_in() -> None:
    found = Neighbours(VOCABULARY, min_similarity=-1.0, top=10).of({"tough": [1.0, 0.0, 0.0]})
    assert found["tough"] == frozenset({"difficult", "challeng", "proctor", "week"})


def test_no_words_asked_finds_nothing() -> None:
    assert Neighbours(VOCABULARY).of({}) == {}


def test_an_empty_vocabulary_finds_nothing_for_every_word() -> None:
    found = Neighbours([]).of({"tough": [1.0, 0.0, 0.0], "fee": [0.0, 1.0, 0.0]})
    assert found == {"tough": frozenset(), "fee": frozenset()}
