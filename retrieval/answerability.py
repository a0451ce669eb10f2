"""Answerability: whether the retrieved text holds what the question asks for, or a refusal is due.

The decision is a learned logistic scorer (`retrieval/scorer.py`) over `ANSWER_FEATURES`,
judged on the learner's own words in this turn: a follow-up's borrowed subject helps
retrieval find the place, but cannot make "what do they cost?" answered by a passage
that merely names the provider.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from ingest.units import Unit
from retrieval.hybrid import ScoredChunk
from retrieval.learner_words import SAID_SO
from retrieval.lexical import (
    TermWeights,
    is_english,
    is_everyday,
    is_stopword,
    stem,
    terms,
    words_of,
)
from retrieval.neighbours import softly_covered, synonyms
from retrieval.question import Question, asking_part, told_only
from retrieval.scorer import Scorer
from retrieval.select import Candidate, gives_number

ANSWER_FEATURES = (
    "best_probability",
    "unit_sim",
    "chunk_sim",
    "top_closeness",
    "passage_coverage",
    "unit_coverage",
    "unknown_share",
    "unknown_focus",
    "few_terms",
    "number_missing",
)
"""What the answerability scorer sees of a question and its best unit:

- `best_probability`: the selection scorer's probability for the best unit;
- `unit_sim`, `chunk_sim`: similarity of the best unit and of its whole chunk;
- `top_closeness`: the closest any retrieved passage comes (chunk or unit);
- `passage_coverage`, `unit_coverage`: weighted share of the learner's own terms found in
  the best unit's chunk with its headings, and in the best unit with its headings; a term
  the course never uses counts as far as a synonym of it is found (`softly_covered`);
- `unknown_share`: weighted share of the learner's own terms that the course never uses,
  nor any word near it in meaning (`neighbours.SYNONYM`): a "fee" or "refund" the text cannot hold;
- `unknown_focus`: 1 when the most telling of the learner's own terms is one the course never
  uses ("who's the *instructor*", "is there a *mock* test"): the thing asked for is not in
  the text, however close the rest of the question comes;
- `few_terms`: 1 for a question of one content term or none;
- `number_missing`: 1 when a count or duration is asked and no chosen unit gives a number
  of that kind (a duration, an amount of money, a count of the asked thing).
"""

ANSWER_SIGNS = {
    "best_probability": 1,
    "unit_sim": 1,
    "chunk_sim": 1,
    "top_closeness": 1,
    "passage_coverage": 1,
    "unit_coverage": 1,
    "unknown_share": -1,
    "unknown_focus": -1,
    "few_terms": 0,
    "number_missing": -1,
}
"""The way each feature may move the answerability score, by what it means: closeness and
coverage only towards answering, words the course never uses only towards refusing (0: either
way; a one-word question is as often a search for a course term as a message that asks
nothing). Training keeps each coefficient to its sign (`evals.train.fit`), so a feature that
correlates with another cannot take a weight against its own meaning: without the signs, chunk
similarity and unit coverage had come out negative beside their unit and passage counterparts."""


# Answers of a kind a passage either holds or does not, like the numbers of `number_missing`:
# a person ("who founded it", "who are the trainers") and a calendar date ("when does the next
# batch start"). Each is asked for by the first pattern and held by a unit that matches the
# second. "Who is it for", "who trains people for it" (a provider) or "when do I renew" (how
# often) ask for neither.
_PEOPLE = r"(?:founder|ceo|owner|trainer|instructor|teacher|tutor|author|mentor|faculty)s?"
_ASKS_PERSON = re.compile(
    rf"\bwho(?:'?s|\s+is|\s+are|\s+was|\s+were)?\s+(?:the\s+|their\s+|its\s+)?{_PEOPLE}\b"
    r"|\bwho\s+(?:\w+\s+){0,2}?(?:founded|started|created|owns|teaches|teach|instructs|wrote)\b"
    rf"|\bnames?\s+of\s+(?:the\s+|their\s+)?{_PEOPLE}\b|\b{_PEOPLE}\s+names?\b",
    re.IGNORECASE,
)
_HOLDS_PERSON = re.compile(
    rf"\b(?:founded|created|started|taught|led|owned|run|written)\s+by\b|\b{_PEOPLE}\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"\bwhen\s+(?:does|do|is|are|will|can)\b[^?.!]*?\b(?:start|starts|begin|begins|open|opens"
    r"|close|closes|out|released?|held|launch|launches)\b"
    r"|\b(?:what|which)\s+dates?\b|\bnext\s+(?:batch|cohort|intake|session)\b|\bdeadline\b"
    r"|\b(?:exam|test)\s+dates?\b",
    re.IGNORECASE,
)
_HOLDS_DATE = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b(?:19|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th)\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b",
    re.IGNORECASE,
)


# Details a course either states or does not, each asked for by the first pattern and held by
# a unit that matches the second: the language it is taught or examined in, whether the exam
# is open-book, retakes, refunds, discounts, group rates and payment plans, job guarantees, a
# free trial or demo class, reviews and ratings, practice tests, an age limit, when results
# come out, how long access lasts, class timings, where a provider has offices, and the ID an
# exam asks for. The course names none of them today, so each is refused; a course that adds
# one (a "Retakes" FAQ) answers it.
_DETAILS = (
    (
        r"\b(?:in|into)\s+(?:hindi|german|french|spanish|tamil|telugu|arabic|chinese|japanese"
        r"|portuguese|english|other\s+languages?|my\s+language)\b|\blanguages?\b",
        r"\blanguages?\b|\b(?:hindi|german|french|spanish|english|python|java)\b",
    ),
    (
        r"\b(?:open|closed)[- ]book\b|\b(?:bring|use|have|take|keep|check|refer\s+to)\s+"
        r"(?:in\s+)?(?:my\s+|any\s+|our\s+)?notes\b|\bnotes\s+open\b|\bcheat[- ]?sheets?\b",
        r"\bopen[- ]book\b|\bclosed[- ]book\b|\b(?:own|personal|written|study)\s+notes\b",
    ),
    (
        r"\bre-?takes?\b|\bre-?taking\b|\bre-?sits?\b|\bsecond\s+attempt\b|\bif\s+i\s+fail\b"
        r"|\bfail(?:ed)?\s+the\s+(?:exam|test)\b",
        r"\bre-?takes?\b|\bre-?sits?\b|\battempts?\b",
    ),
    (
        r"\brefunds?\b|\bmoney\s+back\b|\bdiscounts?\b|\bcoupons?\b|\bpromo\b"
        r"|\bscholarships?\b|\binstal+ments?\b|\bemi\b|\bpay\s+(?:monthly|in\s+parts)\b"
        r"|\b(?:group|bulk|corporate|team)\s+(?:rates?|pricing|prices?|deals?)\b",
        r"\brefund|\bdiscount|\bcoupon|\bscholarship|\binstal+ment|\bpayment\s+plan",
    ),
    (r"\bguarantee[sd]?\b|\bjob\s+placements?\b|\bplacements?\b", r"\bguarantee|\bplacement"),
    (  # trying before paying
        r"\bfree\s+(?:trial|demo|preview)s?\b|\btrial\s+(?:period|class|classes|version|access)\b"
        r"|\bdemo\s+(?:class|classes|session|lecture|video)s?\b",
        r"\btrials?\b|\bdemos?\b|\bpreviews?\b",
    ),
    (r"\breviews?\b|\bratings?\b|\bstar\s+rating\b|\btrustpilot\b", r"\breview|\brating"),
    (
        r"\bmock\s+(?:tests?|exams?)\b|\bpractice\s+(?:tests?|exams?|questions?|papers?)\b"
        r"|\bsample\s+(?:questions?|papers?|tests?)\b|\bexam\s+dumps?\b",
        r"\bmock\s+(?:tests?|exams?)\b|\bpractice\s+(?:tests?|exams?|questions?)\b"
        r"|\bsample\s+questions?\b",
    ),
    (  # an age limit, when results come out, how long access lasts, class timings
        r"\bmin(?:imum)?\s+age\b|\bage\s+(?:limit|requirement|criteria|restriction)s?\b"
        r"|\bhow\s+old\s+(?:do|must|should)\b",
        r"\bage\b|\byears?\s+old\b",
    ),
    (
        r"\bresults?\s+(?:come|are|get|will\s+be)?\s*(?:out|declared|published|released)\b"
        r"|\bscore\s*cards?\b",
        r"\bresults?\b|\bscore\s*cards?\b",
    ),
    (
        r"\b(?:lifetime|keep|forever)\s+access\b|\baccess\s+(?:to\s+)?(?:the\s+)?(?:recordings?"
        r"|videos?|materials?|labs?)\b|\b(?:lab|course|platform|portal|material)s?\s+access\b",
        r"\b(?:lifetime|course|lab|platform|material)\s+access\b|\brecordings?\b",
    ),
    (
        r"\bweekend\b|\bevening\s+(?:batch|batches|classes|sessions)\b|\bclass\s+timings?\b"
        r"|\bbatch\s+timings?\b",
        r"\bweekends?\b|\bevenings?\b|\btimings?\b",
    ),
    (  # a tool's version ("which dvc version do the labs run"), not version control
        r"\b(?:which|what)\s+(?:\w+\s+)?version\b(?!\s+control)"
        r"|\bversion\s+(?:do|does|is|will)\b",
        r"\bv?\d+\.(?:\d+|x)\b|\bversions?\s+\d",
    ),
    (  # where a provider sits: an office, a branch, a campus
        r"\b(?:have|has|got|their|its|an?|any|local)\s+(?:\w+\s+)?(?:offices?|branch(?:es)?"
        r"|campus(?:es)?)\b|\bheadquarter\w*"  # not "at my office", "branch out"
        r"|\bwhere\s+(?:is|are)\s+(?:\w+\s+){1,3}?(?:located|based)\b",
        r"\boffices?\b|\bbranch|\bcampus|\bheadquarter|\blocated\b|\bbased\s+in\b",
    ),
    (
        r"\b(?:photo\s+)?id\s+(?:do|to|card|proof|documents?)\b|\bidentification\b|\bpassport\b",
        r"\bidentification\b|\bpassport\b|\bphoto\s+id\b|\bid\s+card\b",
    ),
)
_ASKS_DETAIL = [(re.compile(a, re.IGNORECASE), re.compile(h, re.IGNORECASE)) for a, h in _DETAILS]


def lacks_asked_kind(question: Question, chosen: Sequence[Candidate]) -> bool:
    """Whether the question asks for a person, a date or a detail of `_DETAILS` and no chosen
    unit names one. A "who" that asks for a named thing of a kind (`Question.meant`, a
    training provider) asks for no person.

    >>> from retrieval.question import analyze
    >>> lacks_asked_kind(analyze("who founded aiopsschool"), [])
    True
    >>> lacks_asked_kind(analyze("when does the next batch start"), [])
    True
    >>> from dataclasses import replace
    >>> asked = analyze("who teaches that, any of the training orgs")
    >>> lacks_asked_kind(asked, []), lacks_asked_kind(replace(asked, meant="G > Orgs > A"), [])
    (True, False)
    >>> any(lacks_asked_kind(analyze(q), []) for q in (
    ...     "who is the governance track for", "who trains people for sre",
    ...     "when do i renew", "who's the data automation one meant for",
    ...     "everyone at my office talks about mlops, why", "should i branch out after it"))
    False
    >>> lacks_asked_kind(analyze("does cotocus have an office in pune"), [])
    True
    """
    text = asking_part(question.text)  # "i review designs, why...": no review asked for
    quoted = " ".join(c.unit.text for c in chosen)
    # "who teaches that, any of the training orgs?": a named thing of the kind asked for (a
    # provider) is the answer, not a person
    person = [] if question.meant else [(_ASKS_PERSON, _HOLDS_PERSON)]
    for asks, holds in (*person, (_ASKS_DATE, _HOLDS_DATE), *_ASKS_DETAIL):
        if asks.search(text) and not holds.search(quoted):
            return True
    return False


# "exam" and its like, and the tiers other vendors name their exams by ("the aws machine
# learning specialty", "azure data engineer associate"); the course's own are "levels"
_EXAM = re.compile(r"exams?|certs?|certifications?|certificates?|tests?|specialty|associate")
_NAME_REACH = 4  # words before "exam" that may name it ("aws certified solutions architect")
_WORD_OR_MARK = re.compile(r"[\w'-]+|[^\w\s]")  # a comma ends a name: "in kenya, nearest test"
_QUANTITIES = frozenset(("zero", "one", "two", "three", "single", "few", "several", "many"))


def answer_features(
    question: Question,
    passages: Sequence[ScoredChunk],
    chosen: Sequence[Candidate],
    weights: TermWeights,
) -> dict[str, float]:
    """The values of `ANSWER_FEATURES` for a question, its passages and the chosen units."""
    best = chosen[0]
    passage = passages[best.passage]
    heading = set(terms(passage.chunk.section))
    own = list(question.own_weighted or question.weighted)
    near = synonyms(question.near)
    if question.counted and question.counted_as:  # "how many tiers": the course counts levels
        near[question.counted] = tuple((term, 1.0) for term in sorted(question.counted_as))

    def unknown(term: str) -> bool:  # neither the course's word nor one of its synonyms
        return not weights.known(term) and not near.get(term)

    # a word the course never uses, said only to tell the learner's situation ("our gpu bill
    # is insane."), is not something asked for
    told = told_only(question.text)
    own = [(t, w) for t, w in own if not (t in told and unknown(t))] or own
    unknown_weight = sum(w for t, w in own if unknown(t))
    total = sum(w for _, w in own) or 1.0
    numbered = any(gives_number(question, c.unit) for c in chosen) or counted_by_list(
        question, passages, chosen
    )
    # "how long is the governance track": a time of its own, not the whole course's; how long
    # a certificate stays valid is the same for every one ("does the SRE one expire")
    if question.need == "duration" and question.subjects and not _VALIDITY.search(question.text):
        numbered = any(gives_number(question, c.unit) and _of(question, c.unit) for c in chosen)
    focus = max(own, key=lambda term: term[1], default=None)
    return {
        "best_probability": best.probability,
        "unit_sim": best.features["unit_sim"],
        "chunk_sim": best.features["chunk_sim"],
        "top_closeness": max(p.closeness for p in passages),
        "passage_coverage": softly_covered(own, set(terms(passage.chunk.text)) | heading, near),
        "unit_coverage": softly_covered(own, set(terms(best.unit.text)) | heading, near),
        "unknown_share": unknown_weight / total,
        "unknown_focus": float(focus is not None and unknown(focus[0])),
        "few_terms": float(len(question.own_terms or question.terms) <= 1),
        "number_missing": float(question.need in ("count", "duration") and not numbered),
    }


_VALIDITY = re.compile(
    r"\b(?:expir\w*|laps\w*|valid\w*|renew\w*|recertif\w*|redo|how\s+often)\b", re.IGNORECASE
)


def _of(question: Question, unit: Unit) -> bool:
    """Whether a unit is about one of the named things the question asks of: it or its
    heading names one."""
    words = set(terms(unit.text)) | set(terms(unit.section))
    return any(set(subject) <= words for subject in question.subjects if subject)


def names_another_exam(question: Question, weights: TermWeights) -> bool:
    """Whether the question is about an exam or certification the course does not give:
    the words that make up the exam's name, right before "exam", "cert", "test" or a tier
    ("specialty"), include a name the course never uses nor anything near it, and no everyday
    word ("the AWS Solutions Architect exam", "the CKA kubernetes exam", "a free mock test",
    "google's ML engineer cert"; not "the real exam", "this exam" nor "timeline to get the
    cert"). A name ends at a comma or a number word, and not on an everyday word ("one giant
    final test"). A name of one word is not taken for one: "the actual exam", "a proctored
    exam"; nor is a name with the course's own word for itself (frequent in the course, no
    English word).

    >>> from retrieval.question import analyze
    >>> course = TermWeights(["The Certified MLOps Architect exam is taken online."])
    >>> names_another_exam(analyze("whats on the CKA kubernetes exam"), course)
    True
    >>> names_another_exam(analyze("is the real exam online"), course)
    False
    >>> names_another_exam(analyze("is it one giant final test at the end"), course)
    False
    >>> names_another_exam(analyze("does it count for the aws machine learning specialty"), course)
    True
    >>> names_another_exam(analyze("i live in kenya, nearest test centre is far"), course)
    False
    >>> names_another_exam(analyze("i have zero formal certs, can i start"), course)
    False
    >>> names_another_exam(analyze("yo is this exam tough or nah"), course)
    False
    >>> names_another_exam(analyze("is the actual Certified MLOps Architect exam hard"), course)
    False
    """
    foreign = _foreign(question, weights)
    words = [w.removesuffix("'s") for w in _WORD_OR_MARK.findall(question.text.lower())]
    for at, word in enumerate(words):
        if not _EXAM.fullmatch(word):
            continue
        named = []
        for name in reversed(words[max(0, at - _NAME_REACH) : at]):
            if not name.isalpha() or is_stopword(name) or name in _QUANTITIES:
                break  # the name ends at "the", "this", "for", "zero", a comma...
            named.append(name)
        if len(named) < 2:  # one word before "exam" is more often a trait ("actual", "mock")
            continue
        if is_everyday(named[0]):  # "one giant final test": a name ends in no everyday word
            continue
        if any(weights.common(stem([n])[0]) and not is_english(n) for n in named):
            continue  # the course's own name is in it: "the actual Certified MLOps Architect exam"
        if any(foreign(name) for name in named):
            return True
    return False


def _foreign(question: Question, weights: TermWeights) -> Callable[[str], bool]:
    """Whether a word of the question names something outside the course: no everyday word,
    and neither a word of the course nor near one in meaning by the model. The course's
    thesaurus does not count: it says what "aws" means in a question about the course (its
    major clouds), not whose exam "the aws ... exam" is."""
    near = synonyms(question.near)
    by_meaning = {term for term, found in near.items() if any(n[1] < SAID_SO for n in found)}

    def foreign(word: str) -> bool:
        term = stem([word])[0]
        return not weights.known(term) and term not in by_meaning and not is_everyday(word)

    return foreign


_CHOICE = re.compile(r"\b(?:which|what|who)\b.*\bor\b", re.IGNORECASE)  # "which X, A or B"


def offers_unknown_choice(question: Question, weights: TermWeights) -> bool:
    """Whether the choice a which-question offers names something the course never mentions:
    a side whose words the course never uses, nor anything near them in meaning, and no
    everyday word ("which company runs the proctoring, pearson vue or someone else", "which
    cloud are the labs on, aws or azure"). The course names neither, so it cannot say which.

    >>> from retrieval.question import analyze
    >>> course = TermWeights(["Exams are taken online through secure proctoring.",
    ...                       "The SRE path and the FinOps path."])
    >>> offers_unknown_choice(analyze("which software, proctoru or something else"), course)
    True
    >>> offers_unknown_choice(analyze("sre or finops, which is better"), course)
    False
    """
    if not _CHOICE.search(question.text):
        return False
    foreign = _foreign(question, weights)
    return any((words := words_of(side)) and all(map(foreign, words)) for side in question.sides)


def counted_by_list(
    question: Question, passages: Sequence[ScoredChunk], chosen: Sequence[Candidate]
) -> bool:
    """Whether a count of things is answered by listing them: two or more items or rows of
    one list were chosen, in a passage that names the counted things or the course's word for
    them ("how many stages does the plan have?": the plan's three stages, under "how long
    each stage takes")."""
    if question.need != "count" or question.counted in (None, "money", "score"):
        return False
    listed = Counter(c.passage for c in chosen if c.unit.kind in ("item", "row"))
    counted = {question.counted} | question.counted_as  # "errors": the course's "mistakes"
    return any(
        count >= 2
        and not counted.isdisjoint(terms(f"{passages[at].chunk.section} {passages[at].chunk.text}"))
        for at, count in listed.items()
    )


def answerable(
    question: Question,
    passages: Sequence[ScoredChunk],
    chosen: Sequence[Candidate],
    weights: TermWeights,
    scorer: Scorer,
) -> bool:
    """Whether to answer with the chosen units rather than refuse.

    A message that asks nothing ("hello", "thanks!", "?") is never answered with a citation,
    and a count, amount or duration that no chosen unit gives a number for is refused outright
    ("how much does the exam cost?"), as is a person or a date that no chosen unit names
    ("who founded it?"); otherwise the learned scorer decides.
    """
    if not chosen or not question.terms:  # "hello", "thanks!", "?": nothing is asked
        return False
    features = answer_features(question, passages, chosen, weights)
    if refused_by_rule(question, chosen, weights, features):
        return False
    return scorer.decide(features)


def refused_by_rule(
    question: Question,
    chosen: Sequence[Candidate],
    weights: TermWeights,
    features: Mapping[str, float],
) -> bool:
    """Whether a question is refused whatever the scorer says: it names another exam ("the
    CKA exam"), asks for a person, a date or a detail no chosen unit holds ("who founded
    it?", "is it open book?"), or for a count, amount or duration with no number to quote."""
    return (
        names_another_exam(question, weights)
        or offers_unknown_choice(question, weights)
        or lacks_asked_kind(question, chosen)
        or bool(features["number_missing"])
    )
