"""Words as the lexical side sees them: tokenised, stop words dropped, stemmed."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

COMMON_SHARE = 0.45
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_CHAT_WORDS = {
    "tell", "please", "explain", "would", "could", "know", "want", "like", "hi", "hello",
    "whats", "thats", "im", "ive", "id", "actually", "even", "really", "ok", "okay", "thanks",
    # Interjections and forms of address that chat adds around a question: they ask nothing.
    "yo", "hey", "heya", "hiya", "nah", "yeah", "yea", "yep", "nope", "bro", "bruh", "dude",
    "guys", "yall", "lol", "lmao", "ngl", "fr", "hmm", "um", "umm", "uh", "oh", "ah", "honestly",
    "literally", "basically", "lowkey", "anyway", "anyways", "pretty", "sure", "just", "stuff",
    # Sentence adverbs and asides that only colour a question ("why tho", "be honest").
    "though", "honest", "realistically", "seriously", "genuinely", "frankly",
    # Words that frame a comparison: `question.need_of` reads the need from the question's
    # wording; no passage answers by containing them.
    "vs", "versus", "compare", "compared", "comparing", "comparison", "difference",
    "differences", "differ",
    # Verbs that ask for an answer ("give me", "show me", "describe"), not for what is in it.
    "give", "show", "describe",
    # Words about the form of the answer ("in one sentence", "tl;dr", "in a nutshell"): they
    # ask for brevity, not for anything the course says.
    "sentence", "tldr", "tl", "dr", "eli5", "nutshell", "summarise", "summarize", "briefly",
}  # fmt: skip
# Chat shorthand learners type, written out so both search sides can match it.
_SHORTHAND = {
    "lvl": "level", "lvls": "levels", "cert": "certification", "certs": "certifications",
    "prereq": "prerequisite", "prereqs": "prerequisites", "reqs": "requirements",
    "mgr": "manager", "yrs": "years", "info": "information", "r": "are", "u": "you",
    "ur": "your", "pls": "please", "abt": "about", "diff": "difference",
    "plz": "please", "ppl": "people", "tho": "though", "wud": "would", "shd": "should",
    "cud": "could", "rn": "now", "em": "them", "w": "with", "wat": "what", "wht": "what",
    "bc": "because", "cuz": "because", "coz": "because", "thx": "thanks", "ty": "thanks",
    "tbh": "honestly", "imo": "opinion", "btw": "by the way", "hw": "how", "wk": "week",
    "wks": "weeks", "mins": "minutes", "hrs": "hours", "mgmt": "management", "eng": "engineer",
    "dev": "developer", "devs": "developers", "exp": "experience", "yr": "year", "n": "and",
    "k": "okay", "idk": "do not know", "dunno": "do not know", "gonna": "going to",
    "wanna": "want to", "gotta": "have to", "kinda": "kind of", "sorta": "sort of",
    "gimme": "give me", "lemme": "let me", "wat's": "what is", "whatre": "what are",
    # Contractions typed without their apostrophe: "doesnt" is no word the course lacks.
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "cant": "can not",
    "wont": "will not", "isnt": "is not", "arent": "are not", "wasnt": "was not",
    "havent": "have not", "hasnt": "has not", "shouldnt": "should not",
    "couldnt": "could not", "wouldnt": "would not", "youre": "you are", "theyre": "they are",
}  # fmt: skip
_WRITTEN_OUT = frozenset(w for expansion in _SHORTHAND.values() for w in expansion.split())
_WORD = re.compile(r"(?u)\b\w+\b")
_STRETCHED = re.compile(r"(\w)\1{2,}")  # "sooo", "pleeease": a letter typed three times or more
EVERYDAY_ZIPF = 5.0  # wordfreq Zipf value from which a word is an everyday English one
ENGLISH_ZIPF = 3.0  # from which a long word is English, not a typo: "qualify" 4.2, "tougher"
# 3.7, "branching" 3.2, against "profesional" 2.1, "diffrence" 1.6, "certifcation" 0


@lru_cache(maxsize=1)
def _zipf():  # noqa: ANN202 - wordfreq's function
    from functools import partial

    from wordfreq import zipf_frequency

    # The small list (words down to about one per million) loads in a tenth of the time of
    # the large one and gives the same informativeness: rarer words score 1 either way.
    return partial(zipf_frequency, wordlist="small")


@lru_cache(maxsize=1)
def _english() -> list[str]:
    """English words of three letters or more, commonest first (wordfreq's small list)."""
    from wordfreq import top_n_list

    return [w for w in top_n_list("en", 30_000, wordlist="small") if w.isalpha() and len(w) > 2]


@lru_cache(maxsize=1)
def _rank() -> dict[str, int]:
    words = _english()
    return {w: len(words) - i for i, w in enumerate(words)}  # commoner words rank higher


def is_everyday(word: str) -> bool:
    """Whether a word is an everyday English one ("real", "final", "online"), not a name or
    a term of some trade ("aws", "kubernetes", "mock").

    >>> is_everyday("final"), is_everyday("kubernetes")
    (True, False)
    """
    return _zipf()(word.lower(), "en") >= EVERYDAY_ZIPF


def is_english(word: str) -> bool:
    """Whether English uses a word at all (`ENGLISH_ZIPF`): "qualify", not "mlops"."""
    return _zipf()(word.lower(), "en") >= ENGLISH_ZIPF


@lru_cache(maxsize=8192)
def informativeness(word: str) -> float:
    """How much a word the course never uses can tell about a question, from 0 to 1.

    The commonest English words ("one", "point", "thing") say little; rarer ones ("fee",
    "refund") name what is asked. The scale is wordfreq's Zipf frequency: 1 at or below
    4 (a word per 100,000), falling to 0 at 6 (one per 1,000).

    >>> informativeness("refund") == 1.0, informativeness("one") == 0.0
    (True, True)
    """
    return min(1.0, max(0.0, (6.0 - _zipf()(word, "en")) / 2.0))


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer has no type hints
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _CHAT_WORDS


def is_stopword(word: str) -> bool:
    """Whether a word is a stop word or chat filler ("the", "this", "pls"), never a term."""
    return word.lower() in _stopwords()


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


WeightedTerm = tuple[str, float]
"""A content term and how telling it is."""


def weighted_terms(text: str, weights: TermWeights) -> list[WeightedTerm]:
    """Content terms of a text with how much each says about what is asked.

    A term the course uses weighs its inverse document frequency; one it never uses
    weighs the unseen weight scaled by its `informativeness`, so common English the corpus
    lacks ("point", "thing") weighs little while "fee" keeps its weight (chat shorthand such
    as "tho" is written out by `Vocabulary.mend` before). Terms found in most passages are
    left out, as in `TermWeights.coverage`.
    """
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _stopwords()]
    weighted: dict[str, WeightedTerm] = {}
    for word, term in zip(words, stem(words), strict=True):
        if weights.common(term):
            continue
        weight = weights.idf(term)
        if not weights.known(term):
            weight *= informativeness(word)
        if term not in weighted or weighted[term][1] < weight:
            weighted[term] = (term, weight)
    return list(weighted.values())


def covered(weighted: list[WeightedTerm], text_terms: set[str]) -> float:
    """Weighted share of the terms that the text contains; 1 when nothing telling is asked.

    >>> covered([("fee", 4.0), ("exam", 1.0)], {"exam", "onlin"})
    0.2
    """
    total = sum(w for _, w in weighted)
    if total <= 0:
        return 1.0
    return sum(w for t, w in weighted if t in text_terms) / total


def words_of(text: str) -> list[str]:
    """Content words of a text as written: lower-cased, stop words dropped, not stemmed.

    >>> words_of("Is the exam tough, 2 be frank? honestly")
    ['exam', 'tough', 'frank']
    """
    words = _TOKEN.findall(text.lower())
    return [w for w in words if w.isalpha() and len(w) >= 3 and w not in _stopwords()]


def terms(text: str) -> list[str]:
    """Content terms of a text: lower-cased, stop words and chat filler dropped, stemmed.

    >>> terms("What are the common mistakes at the Foundation level?")
    ['common', 'mistak', 'foundat', 'level']
    >>> terms("ok so give me all the levels lol")
    ['level']
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
        # Words in most passages (the course's own name) say nothing about whether a
        # passage answers; coverage leaves them out.
        self._common = {t for t, df in frequencies.items() if df > COMMON_SHARE * count}

    def idf(self, term: str) -> float:
        """Weight of a term: rare terms weigh more, terms not in the corpus most."""
        return self._idf.get(term, self._unseen)

    def known(self, term: str) -> bool:
        """Whether the corpus contains the term."""
        return term in self._idf

    def common(self, term: str) -> bool:
        """Whether the term is in most passages (the course's own name)."""
        return term in self._common

    def coverage(self, query_terms: Iterable[str], text_terms: set[str]) -> float:
        """Weighted share of the query's telling terms that the text contains.

        Terms found in most of the corpus are left out unless nothing else is asked.
        Returns 1 for an empty query.
        """
        query = set(query_terms)
        query = (query - self._common) or query
        total = sum(self.idf(t) for t in query)
        if not total:
            return 1.0
        return sum(self.idf(t) for t in query if t in text_terms) / total


class Vocabulary:
    """The words of the corpus, for mending what learners type before it is searched.

    Args:
        documents: Texts of the corpus.
    """

    def __init__(self, documents: Iterable[str]) -> None:
        counts = Counter(w for d in documents for w in _TOKEN.findall(d.lower()))
        self.words = frozenset(counts)
        self._counts = counts
        self._by_initial: dict[str, list[str]] = {}
        self._sorted = sorted(w for w in self.words if w.isalpha() and len(w) >= 3)
        for word in sorted(self.words):
            self._by_initial.setdefault(word[0], []).append(word)

    def mend(self, text: str) -> str:
        """Shorthand written out and misspelt words replaced by the corpus word they resemble.

        Words of six letters or more that the corpus lacks, and English hardly uses, are
        compared with corpus words of the same initial; a close one (difflib ratio >= 0.85)
        replaces them. A word of English is left as typed ("qualify" is not "quality").
        Words of four or five letters are not taken for typos ("tough" is not "though"), but
        for clipped words when a corpus word begins with them ("tech lead" -> "technical").

        >>> Vocabulary(["The professional level and its background"]).mend(
        ...     "wat does the profesional lvl need as backround")
        'what does the professional level need as background'
        >>> Vocabulary(["Technical leads and technical staff"]).mend("tech lead")
        'technical lead'
        >>> Vocabulary(["training providers"]).mend("who do i train with")
        'who do i train with'
        >>> Vocabulary(["data validation"]).mend("how long is it valid")
        'how long is it valid'
        >>> v = Vocabulary(["through the pipeline"])
        >>> v.mend(v.mend("does it help tho"))
        'does it help though'
        >>> Vocabulary(["learning paths and levels"]).mend("sooo how many pahts, is it tough")
        'so how many paths, is it tough'
        >>> Vocabulary(["the quality control track"]).mend("is it harder to qualify for")
        'is it harder to qualify for'
        """
        return _WORD.sub(lambda m: self._mend_word(m.group(0)), text)

    def _mend_word(self, word: str) -> str:
        lower = word.lower()
        if len(lower) <= 20 and _STRETCHED.search(lower):  # "sooo" -> "so"
            word = lower = _STRETCHED.sub(r"\1", lower)
        if lower in _SHORTHAND:
            return _SHORTHAND[lower]
        if lower in _WRITTEN_OUT:  # mended once already: "tho" -> "though", never "through"
            return word
        if lower in self.words or lower in _stopwords() or not lower.isalpha() or len(lower) < 4:
            return word
        everyday = _zipf()(lower, "en")
        if len(lower) < 6:  # a clipped word, unless it is an everyday one ("mark", "pass")
            mended = self._completed(lower) if everyday < EVERYDAY_ZIPF else None
            if mended and _zipf()(mended, "en") < everyday - 0.1:  # "valid" is no "validation"
                mended = None  # a word more common than its completion is a word of its own
            elif mended and stem([mended]) == stem([lower]):  # "train" needs no "training"
                mended = None
        else:  # a word of English is no typo ("qualify" is not "quality")
            mended = self._closest(lower) if everyday < ENGLISH_ZIPF else None
        # A word no English word list knows is a typo of the corpus word one slip away
        # ("pahts", "levles", "vender"); a real word ("tough", "lapse") is left alone.
        acronym = sum(c.isupper() for c in word) >= 2  # "DBAs", "CKA": a name, not a typo
        slip = not everyday and not acronym
        return mended or (self._slip(lower) if slip else None) or word

    @lru_cache(maxsize=4096)  # noqa: B019 - as above
    def _completed(self, word: str) -> str | None:
        """The corpus word a clipped word most likely stands for ("tech" -> "technical"):
        the most frequent corpus word that begins with it and is longer by two letters or
        more; None when there is none."""
        longer = [w for w in self._by_initial.get(word[0], []) if w.startswith(word)]
        longer = [w for w in longer if len(w) >= len(word) + 2]
        return max(longer, key=lambda w: (self._counts[w], w), default=None)

    @lru_cache(maxsize=4096)  # noqa: B019 - as above
    def _slip(self, word: str) -> str | None:
        """The word one typing slip away (a letter added, dropped, changed, or two swapped;
        two slips for words of eight letters or more, keeping the first two letters and the
        length give or take one), keeping the first letter: the nearest corpus word, else
        the nearest English word ("acutally" -> "actually", which then counts as the filler
        it is); of equally near ones, the most frequent."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        slips = 2 if len(word) >= 8 else 1
        lists = [(self._sorted, self._counts.get), (_english(), _rank().get)]
        for words, frequency in lists[: 1 if len(word) < 5 else 2]:  # "dbas" is not "das"
            found = [
                (w, d)
                for w, d, _ in process.extract(
                    word, words, scorer=OSA.distance, score_cutoff=slips, limit=None
                )
                if w[:d] == word[:d] and abs(len(w) - len(word)) <= 1
            ]
            if found:
                return min(found, key=lambda f: (f[1], -(frequency(f[0]) or 0), f[0]))[0]
        return None

    @lru_cache(maxsize=4096)  # noqa: B019 - one vocabulary per index generation, kept alive anyway
    def _closest(self, word: str) -> str | None:
        import difflib

        candidates = self._by_initial.get(word[0], [])
        match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.85)
        return match[0] if match else None
