"""Learner words: what learners type for the course's own terms, kept by the course staff.

A learner asks whether the certification "expires" where the course speaks of renewal, or
whether the exam can be taken "from home" where it says online proctoring. Word embeddings
(`retrieval.neighbours`) bring some such words near their course term, but not these: the
everyday word and the course's word are far apart in a small model. Search teams answer
this with a synonyms file of their docs, and so does this project: the course staff keep
`learner-words.toml` in the knowledge folder, one table per course term:

    [[term]]
    course = "renewal"
    learner = ["expire", "lapse", "valid for"]

A learner phrase found in a question (compared without inflection endings, so "expires" is
"expire") adds its course term to what is searched, and counts as that term wherever the
answerer asks whether a passage holds what the question asks. The question itself is
unchanged. Only phrases that mean the same thing belong in the file: "job" for the course's
roles also makes "do they guarantee a job" look answered, so words for what the course never
states (a fee, a pass mark, a trainer) must stay out of it.
The file is read again when it changes; a broken edit is logged and the last good
thesaurus kept, so a typo never takes answers down.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cert_core.errors import LearnerWordsError
from retrieval.lexical import stem, words_of
from retrieval.neighbours import Near

log = logging.getLogger(__name__)

_WORD = re.compile(r"(?u)\b\w+\b")


@dataclass(frozen=True)
class LearnerWords:
    """Learner phrases (as compared, `_forms`) and the course term each stands for.

    >>> words = LearnerWords.parse('[[term]]\\ncourse = "renewal"\\nlearner = ["expire"]')
    >>> words.found("does my cert expire? it expired once")
    [('expire', 'renewal')]
    >>> words = LearnerWords.parse(
    ...     '[[term]]\\ncourse = "data streams"\\nlearner = ["streaming"]\\n'
    ...     '[[term]]\\ncourse = "tracks"\\nlearner = ["streams"]')
    >>> words.found("how many streams"), words.found("is streaming taught")
    ([('streams', 'tracks')], [('streaming', 'data streams')])
    """

    phrases: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)
    # phrases that compare alike but stand for other course terms ("streaming": data streams,
    # "streams": tracks), by their spelling: the one written wins over the first in the file
    spelled: dict[tuple[str, ...], dict[str, tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, name: str = "learner-words.toml") -> LearnerWords:
        """The thesaurus in a TOML text.

        Raises:
            LearnerWordsError: The text is no TOML, or an entry is not a course term with a
                list of learner words; the message names the file and the entry.
        """
        try:
            tables = tomllib.loads(text).get("term", [])
        except tomllib.TOMLDecodeError as error:
            raise LearnerWordsError(f"{name} is not valid TOML: {error}") from error
        if not isinstance(tables, list):
            raise LearnerWordsError(f"{name}: 'term' must be a list of [[term]] tables")
        phrases: dict[tuple[str, ...], tuple[str, str]] = {}
        spelled: dict[tuple[str, ...], dict[str, tuple[str, str]]] = {}
        for number, table in enumerate(tables, start=1):
            if not isinstance(table, dict):
                raise LearnerWordsError(f"{name}: term {number} is not a [[term]] table")
            course, learner = table.get("course"), table.get("learner")
            if not isinstance(course, str) or not course.strip():
                raise LearnerWordsError(f"{name}: term {number} has no 'course' text")
            if not isinstance(learner, list) or not all(isinstance(w, str) for w in learner):
                raise LearnerWordsError(
                    f"{name}: term {number} ({course!r}) needs 'learner', a list of words"
                )
            for phrase in learner:
                key = _forms(phrase)
                if key:
                    entry = (phrase.strip().lower(), course.strip())
                    phrases.setdefault(key, entry)
                    spelled.setdefault(key, {}).setdefault(" ".join(_WORD.findall(entry[0])), entry)
        alike = {key: spellings for key, spellings in spelled.items() if len(spellings) > 1}
        return cls(phrases, alike)

    @classmethod
    def read(cls, path: Path) -> LearnerWords:
        """The thesaurus in a file.

        Raises:
            LearnerWordsError: The file cannot be read as UTF-8 text, or `parse` refuses it.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise LearnerWordsError(f"cannot read {path}: {error}") from error
        return cls.parse(text, str(path))

    @property
    def course_terms(self) -> set[str]:
        """The course terms the learner phrases stand for."""
        return {course for _, course in self.phrases.values()}

    def found(self, text: str) -> list[tuple[str, str]]:
        """(learner phrase, course term) for each phrase `text` holds, longest first where
        two overlap ("cloud bill" before "bill"). A phrase counts even when the course uses
        each of its words: "first level" is the Foundation level all the same."""
        tokens = _forms(text)
        words = _WORD.findall(text.lower())
        matches = [  # (rank of the phrase, start): longest phrases first, then file order
            (self._rank[key], start)
            for start, token in enumerate(tokens)
            for key in self._by_first.get(token, ())
            if tokens[start : start + len(key)] == key
        ]
        taken = [False] * len(tokens)
        found = []
        for rank, start in sorted(matches):
            key = self._ordered[rank]
            span = range(start, start + len(key))
            if not any(taken[i] for i in span):
                for i in span:
                    taken[i] = True
                written = " ".join(words[start : start + len(key)])
                found.append(self.spelled.get(key, {}).get(written, self.phrases[key]))
        return list(dict.fromkeys(found))

    @cached_property
    def _ordered(self) -> list[tuple[str, ...]]:
        """The phrases longest first, in file order where equally long."""
        return sorted(self.phrases, key=len, reverse=True)

    @cached_property
    def _rank(self) -> dict[tuple[str, ...], int]:
        return {key: rank for rank, key in enumerate(self._ordered)}

    @cached_property
    def _by_first(self) -> dict[str, list[tuple[str, ...]]]:
        """The phrases by their first word: a question is scanned once, not once a phrase."""
        index: dict[str, list[tuple[str, ...]]] = {}
        for key in self._ordered:
            index.setdefault(key[0], []).append(key)
        return index


def expand(text: str, found: list[tuple[str, str]]) -> str:
    """`text` with the course term of each learner phrase found in it appended.

    >>> expand("can i take it from home", [("from home", "online proctoring")])
    'can i take it from home online proctoring'
    """
    lowered = text.lower()
    added = [course for _, course in found if course.lower() not in lowered]
    return " ".join([text, *dict.fromkeys(added)])


_PLACE = 0xE000  # Unicode's private use area: a place held for a course term, no word character


def canonical(text: str, found: list[tuple[str, str]]) -> str:
    """`text` with each learner phrase found in it written as its course term, so that the
    course's named things are recognised by their own names ("the first level vs the top
    level" -> "the Foundation level vs the Advanced level").

    >>> canonical("first level vs top tier, whats the diff",
    ...           [("first level", "Foundation level"), ("top tier", "Advanced level")])
    'Foundation level vs Advanced level, whats the diff'
    >>> canonical("or branching out", [("branch out", "Cross-track"), ("cross", "Cross-track")])
    'or Cross-track'
    """
    # each phrase is matched in the learner's words only, never in a course term written in
    # for another ("branching out" -> "Cross-track expansion", whose "Cross" is no phrase)
    for at, (phrase, _) in enumerate(found):
        words = [re.escape(w) for w in _WORD.findall(phrase)]
        if words:
            pattern = r"\b" + r"\w*[\s-]+".join(words) + r"\w*"
            text = re.sub(pattern, chr(_PLACE + at), text, count=1, flags=re.IGNORECASE)
    held = {chr(_PLACE + at): course for at, (_, course) in enumerate(found)}
    return "".join(held.get(char, char) for char in text)


SAID_SO = 1.0
"""The nearness of a learner word to its course term: the thesaurus says they are one, which
no model similarity reaches."""


def near(found: list[tuple[str, str]]) -> dict[str, Near]:
    """For each content word of the learner phrases found, keyed by its stem: the stems of
    its course term, as near as a word can be (see `retrieval.neighbours.Near`).

    >>> near([("cloud spend", "FinOps")])
    {'cloud': (('finop', 1.0),), 'spend': (('finop', 1.0),)}
    """
    nearest: dict[str, Near] = {}
    for phrase, course in found:
        meant = tuple((term, SAID_SO) for term in dict.fromkeys(stem(words_of(course))))
        for term in stem(words_of(phrase)):
            nearest[term] = tuple(dict.fromkeys(nearest.get(term, ()) + meant))
    return nearest


def _forms(text: str) -> tuple[str, ...]:
    """Words as compared: lower-cased, without a plain inflection ending, so that "expires",
    "expired" and "expiring" are "expire" while "validity" stays apart from "validate" (a
    stemmer makes both "valid").

    >>> _forms("Expires, expired, expiring; validity vs validate; level 1 certs")
    ('expir', 'expir', 'expir', 'validity', 'vs', 'validat', 'level', '1', 'cert')
    >>> _forms("going deeper")
    ('go', 'deeper')
    """
    return tuple(_form(word) for word in _WORD.findall(text.lower()))


_IRREGULAR = {"going": "go", "goes": "go", "went": "go", "gone": "go", "doing": "do", "does": "do"}


def _form(word: str) -> str:
    if word in _IRREGULAR:  # "going deeper" is "go deeper"
        return _IRREGULAR[word]
    if word.endswith("ss"):
        return word
    for ending in ("ing", "ed", "es", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


class LearnerWordsFile:
    """The thesaurus kept in a file, read again when the file changes.

    Args:
        path: `learner-words.toml`; a missing file is an empty thesaurus.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._words = LearnerWords()

    def current(self) -> LearnerWords:
        """The thesaurus as the file holds it now, or the last good one."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                kept = LearnerWords() if stamp is None else self._words
                self._words = self._read(stamp) or kept
            return self._words

    def _read(self, stamp: tuple[int, int] | None) -> LearnerWords | None:
        if stamp is None:
            return None
        try:
            return LearnerWords.read(self.path)
        except LearnerWordsError as error:
            log.error("keeping the last good learner words: %s", error)
            return None
