"""Words as the lexical side sees them: tokenised, stop words dropped, stemmed."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_CHAT_WORDS = {"tell", "please", "explain", "would", "could", "know", "want", "like", "hi", "hello"}


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer has no type hints
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _CHAT_WORDS


def stem(words: Iterable[str]) -> list[str]:
    """Stems of lower-case words; acronym plurals lose their "s" too ("slos" -> "slo").

    >>> stem(["mistakes", "learning", "slos", "class"])
    ['mistak', 'learn', 'slo', 'class']
    """
    words = list(words)
    return [_plural(w, s) for w, s in zip(words, _stemmer().stemWords(words), strict=True)]


def _plural(word: str, stemmed: str) -> str:
    # Snowball leaves short plurals such as "slos" or "dvcs" alone; learners type the singular.
    if stemmed == word and len(word) >= 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return stemmed


def terms(text: str) -> list[str]:
    """Content terms of a text: lower-cased, stop words and chat filler dropped, stemmed.

    >>> terms("What are the common mistakes at the Foundation level?")
    ['common', 'mistak', 'foundat', 'level']
    """
    return list(_cached_terms(text))


@lru_cache(maxsize=8192)
def _cached_terms(text: str) -> tuple[str, ...]:
    # Chunk texts come back query after query: stem each once.
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _stopwords()]
    return tuple(stem(words))


class TermWeights:
    """Inverse document frequencies over a corpus; unseen terms weigh most.

    Args:
        documents: Texts of the corpus.
    """

    def __init__(self, documents: Iterable[str]) -> None:
        frequencies: Counter[str] = Counter()
        count = 0
        for document in documents:
            count += 1
            frequencies.update(set(terms(document)))
        self._idf = {t: math.log(1 + count / df) for t, df in frequencies.items()}
        self._unseen = math.log(1 + count) + 1.0

    def idf(self, term: str) -> float:
        """Weight of a term: rare terms weigh more, terms not in the corpus most."""
        return self._idf.get(term, self._unseen)

    def known(self, term: str) -> bool:
        """Whether the corpus contains the term."""
        return term in self._idf

    def coverage(self, query_terms: Iterable[str], text_terms: set[str]) -> float:
        """Weighted share of the query's terms that the text contains (0 to 1, 1 if empty)."""
        query = set(query_terms)
        total = sum(self.idf(t) for t in query)
        if not total:
            return 1.0
        return sum(self.idf(t) for t in query if t in text_terms) / total
