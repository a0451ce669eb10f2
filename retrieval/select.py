"""Selection: which units of the retrieved passages to quote, by a learned score and the need.

Every unit of every retrieved passage is a candidate. A logistic scorer (`retrieval/scorer.py`)
rates each by the features in `UNIT_FEATURES`; the question's need then shapes the
selection: a list gathers its items or matching rows, a comparison takes the best unit of
each side, a count or duration needs a unit with a number, and a lead-in sentence that
announces a list brings the list with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from ingest.units import Unit
from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights, is_everyday, terms
from retrieval.neighbours import softly_covered, synonyms
from retrieval.question import Question
from retrieval.scorer import Scorer

UNIT_FEATURES = (
    "unit_sim",
    "unit_gap",
    "chunk_sim",
    "rank",
    "bm25",
    "own_coverage",
    "context_coverage",
    "number_need",
    "list_need",
    "lead_in",
    "faq",
    "subject",
    "asked_as",
    "coverage_gap",
)
"""What the selection scorer sees of a unit:

- `unit_sim`: cosine similarity of the unit (with its headings) to the question;
- `unit_gap`: how far below the closest unit of all passages it is (0 for the closest);
- `chunk_sim`: similarity of its whole chunk; `rank`: 1 / (1 + the chunk's fused rank);
- `bm25`: its chunk's BM25 score over the best one's;
- `own_coverage`, `context_coverage`: weighted share of the question's terms in the unit,
  alone and with its headings, a word the course never uses counting through its synonyms
  (`neighbours.softly_covered`);
- `number_need`: +1 when a count or duration is asked and the unit gives a number of that
  kind (`gives_number`), -1 when it does not, 0 for other questions;
- `list_need`: 1 when a list is asked and the unit lists (an item, a row, or a sentence
  enumerating three things or more) and shares a word with the question;
- `lead_in`: 1 for a sentence that announces what follows ("The table below lists…");
- `faq`: 1 for an FAQ answer;
- `subject`: when the question names a level, track, path, role or provider, +1 for a unit
  whose text or heading path names it too and -1 for one that does not; 0 otherwise;
- `asked_as`: 1 when the unit's own heading asks what the question asks, by its question
  word: "why would my company care" and "Why it is valuable today", "who should take it" and
  "Who should pursue it", "how often..." and "How often does the certification need
  renewing?"; 0 otherwise (and for questions without such a word);
- `coverage_gap`: how far the unit's `context_coverage` is below the best of all units (0 for
  the best), so a unit is judged against what the other passages offer.
"""

MAX_UNITS = 4
"""Most units an answer quotes when it lists nothing: a short paragraph (median 310
characters on dev). Three left out a fact the next sentence of the same place gave in 7 of
933 dev cases and never changed a refusal."""
PER_SIDE = 2
"""Units quoted for a side of a comparison that has a table row of its own, the row
included; a side without one gets `PER_SIDE` + 2 (see `_each_side`)."""
_GENERIC = {"level", "path", "track", "lvl", "one", "cours", "certif", "certifi", "program"}
# Words that ask what a thing is about rather than name an aspect of it ("what does each
# focus on", "how do they differ", "in terms of what you learn"), as `terms` gives them.
_DESCRIBING = set(
    terms("focus focuses diff different differs mean involve terms get")
    + terms("learn teach cover content change actually")
)

# Words for people that name no side ("data ppl vs security ppl"), as `terms` gives them.
_PEOPLE = set(terms("person persons people ppl guy guys folk folks someone somebody"))
RUNNER_UP = 0.5
"""Share of the best unit's score from which a runner-up is quoted too. When the scorer
rates a unit of another place at least half as well as the best, the answer is as likely
there: "what should I take after Foundation" ranks the role table's advice first and the
FAQ's "best next certification" fourth. Quoting the best of the other place as well (and
any runner-up that adds an asked-for word) answered 12 more of 1057 dev cases than the
earlier 0.8 with new words required, lost none, and made the median answer 310 -> 366
characters. A whole FAQ answer, a table row or a number asked for still stands alone."""

ALREADY_SAID = 0.8
"""Share of a unit's content terms the previous answer used from which the unit is taken as
already said, and a follow-up is answered from what it has not been told."""

MAX_LIST = 8
_NUMBER = re.compile(
    r"\b\d+\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|"
    r"sixty|ninety|first|second|third|fourth|last|single|every)\b",
    re.IGNORECASE,
)
_CARDINAL = re.compile(
    r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|single"
)
_WORD = re.compile(r"[\w-]+")
_LISTED = re.compile(r"(\w+)(?:\s*:|\s+like\b|\s+such\s+as\b|\s+including\b)", re.IGNORECASE)
_SCORE = re.compile(r"\d+\s*(%|percent|per\s*cent|points?|marks?|out\s+of)", re.IGNORECASE)
_TIME = re.compile(
    r"\b(days?|weeks?|months?|years?|hours?|minutes?|yearly|annual(ly)?|every)\b", re.IGNORECASE
)
_SHORT_TIME = re.compile(r"\b(minutes?|mins?|hours?|hrs?)\b", re.IGNORECASE)
_CURRENCY = re.compile(r"[$€£₹]|\b(usd|eur|inr|rupees?|dollars?|euros?)\b", re.IGNORECASE)
# a signpost: the text talks about itself ("The course guide also explains why...")
_SIGNPOST_PATTERN = (
    r"^(the|this)\s+(course\s+)?(guide|syllabus|section|page|document|faq|table)\s+(also\s+)?"
    r"(explains?|describes?|covers?|lists?|shows?|outlines?|sets\s+out|walks)\b"
    r"|\bis\s+in\s+the\s+(syllabus|guide|faq)\s*\.?$"
)
_LEAD_IN = re.compile(
    r":\s*$|\b(below|following|as follows)\b|\b(shows|lists|outlines|maps)\b.*\b(each|every)\b"
    r"|" + _SIGNPOST_PATTERN,
    re.IGNORECASE,
)
_SIGNPOST = re.compile(_SIGNPOST_PATTERN, re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_WHOLE_PLAN = re.compile(
    r"\b(timeline|plan|schedule|stages|steps|step\s+by\s+step|break\s*down|roadmap)\b",
    re.IGNORECASE,
)
_ASKING_WORD = re.compile(
    r"\b(why|who|when|where|how\s+(long|often|hard|much|many|does|do|is))\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Candidate:
    """A unit that may be quoted, with where it sits and how it scored.

    Attributes:
        unit: The unit.
        passage: Index of its chunk among the retrieved passages.
        features: The values of `UNIT_FEATURES`.
        probability: The selection scorer's probability that it holds the answer.
    """

    unit: Unit
    passage: int
    features: dict[str, float]
    probability: float = 0.0

    @property
    def key(self) -> tuple[int, int]:
        """Where the unit sits: (passage, order)."""
        return self.passage, self.unit.order


def candidates(
    question: Question, passages: Sequence[ScoredChunk], weights: TermWeights
) -> list[Candidate]:
    """Every unit of every passage with its features (probability not yet set)."""
    best_bm25 = max((p.bm25 or 0.0 for p in passages), default=0.0) or 1.0
    closest = max((s for p in passages for _, s in p.units), default=0.0)
    asked, near = list(question.weighted), synonyms(question.near)
    found = []
    for index, passage in enumerate(passages):
        heading = set(terms(passage.chunk.section))
        for unit, similarity in passage.units or _plain_units(passage):
            words = set(terms(unit.text))
            words_asked = words & set(question.terms)
            features = {
                "unit_sim": similarity,
                "unit_gap": similarity - closest,
                "chunk_sim": passage.dense or 0.0,
                "rank": 1.0 / (1 + index),
                "bm25": (passage.bm25 or 0.0) / best_bm25,
                "own_coverage": softly_covered(asked, words, near),
                "context_coverage": softly_covered(asked, words | heading, near),
                "number_need": _number_need(question, unit),
                "list_need": float(question.need == "list" and _lists(unit) and bool(words_asked)),
                "lead_in": float(is_lead_in(unit) and not _points_where(question, unit)),
                "faq": float(unit.kind == "faq"),
                "subject": _subject(question, words | heading),
                "asked_as": float(_asked_as(question, unit.section)),
            }
            found.append(Candidate(unit, index, features))
    best_coverage = max((c.features["context_coverage"] for c in found), default=0.0)
    for candidate in found:
        candidate.features["coverage_gap"] = candidate.features["context_coverage"] - best_coverage
    return found


def select(
    question: Question,
    passages: Sequence[ScoredChunk],
    weights: TermWeights,
    scorer: Scorer,
) -> list[Candidate]:
    """The units to quote, the one that answers best first; empty when there are none."""
    scored = [
        Candidate(c.unit, c.passage, c.features, scorer.probability(c.features))
        for c in candidates(question, passages, weights)
    ]
    if not scored:
        return []
    # a follow-up wants what the previous answer did not say ("and how does it compare?")
    scored = [c for c in scored if not _already_said(question, c.unit)] or scored
    scored.sort(key=lambda c: (-c.probability, c.key))
    best = scored[0]
    with_number = [c for c in scored if gives_number(question, c.unit)]
    best = _preferred(best, scored, lambda u: gives_number(question, u))
    # "and just the foundation one?": that one, not the last; a number is of what it names
    numbered = question.subjects if question.need in ("count", "duration") else ()
    if named := _named_now(question) or list(numbered):
        best = _preferred(best, scored, lambda u: _mentions(u, named) and gives_number(question, u))
    if question.need == "list":  # what X covers comes from X's own section
        best = _at_home(question, best, scored)
        if question.kinds and not question.subjects:  # "list the paths": the paths' own section
            best = _preferred(best, scored, lambda u: u.section in _groups(question))
    # "what certs should a data engineer take": the Data Engineer row, whose column says it,
    # however the scorer rates it against a sentence that only names data engineers
    answering_row = next((c for c in scored if _row_answers(question, c.unit)), None)
    # "which provider...": a provider, not the path it serves; the one that serves it if known
    # (not over the row that says it: "engineering mgr, which certs": its row, not a cert)
    best = answering_row or _preferred(best, scored, lambda u: of_kind(question, u))
    if question.choosing:  # "which certs fit me": a row of the table they choose from
        best = _preferred(best, scored, lambda u: _choosing_among(question, u))
    # "how many tracks": "four tracks", not rows to count
    best = _preferred(best, scored, lambda u: states_count(question, u))
    if meant := [c for c in scored if c.unit.section == question.meant]:
        best = meant[0]  # found by what it serves, not by the words it shares with the question
    if question.need == "comparison":
        # the course's own contrast of the two ("differs from traditional data engineering
        # by..."), else each side as the course describes it
        found = _found_words(scored)  # a side's word no unit uses names nothing ("plain")
        contrast = _preferred(best, scored, lambda u: _contrasts(u, question.sides, found))
        if contrast is not best or _contrasts(best.unit, question.sides, found):
            best = contrast
        elif sides := _each_side(question, scored, found):
            return sides
    chosen = [best]
    if is_lead_in(best.unit):
        chosen += _announced(best, scored)
    listing = (
        question.need == "list"
        or _choosing_among(question, best.unit)
        or (question.need == "count" and _lists(best.unit))
        or (  # "the whole prep timeline": every stage of the plan
            question.need == "duration"
            and best.unit.kind == "item"
            and _WHOLE_PLAN.search(question.text) is not None
        )
    )
    if listing and (qualified := _qualified_rows(question, best, scored)):
        chosen = qualified  # "how many tracks at the pro level": the rows whose Level is it
    elif listing:  # a list, or a count answered by the list of the counted things
        chosen += _rest_of_list(question, best, scored)
    # "whats recommended for a cloud engineer": not what the sentences beside it say of others
    nearby = scored
    if len(question.subjects) == 1 and not listing and _mentions(best.unit, question.subjects):
        nearby = [c for c in scored if _mentions(c.unit, question.subjects, whole_path=True)]
    if question.need != "duration":
        room = (MAX_LIST if listing else MAX_UNITS) - len(chosen)
        chosen += _same_place(best, nearby, room, share=0.25 if listing else 0.5)
    chosen += _adding(question, chosen, nearby)
    if with_number and not any(gives_number(question, c.unit) for c in chosen):
        chosen.append(with_number[0])  # the number asked for, however weak: answerability judges
    return _unique(chosen)


def _groups(question: Question) -> set[str]:
    return {group for _, group in question.kinds}


def _preferred(
    best: Candidate, scored: Sequence[Candidate], fits: Callable[[Unit], bool]
) -> Candidate:
    """`best` if its unit fits the need, else the best-scoring candidate that fits when it
    scores at least half as well; `best` when none does."""
    if fits(best.unit):
        return best
    fitting = next((c for c in scored if fits(c.unit)), None)
    return fitting if fitting and fitting.probability >= 0.5 * best.probability else best


def _at_home(question: Question, best: Candidate, scored: Sequence[Candidate]) -> Candidate:
    """For a list about a thing: the best unit of the thing's own place ("what does the SRE
    path cover": the SRE path section), unless the best unit says more of what is asked
    ("which DataOps practices is it aligned with": the sentence naming the practices it is
    aligned with, not the DataOps path; "what job titles do data engineers move into": the
    careers answer, not the Data Engineer row of certifications)."""
    homed = _preferred(best, scored, lambda u: home(question, u) == 1)
    if homed.unit.kind == "row" and not _asks_column(question, homed.unit):
        return best  # a row is the place of what its columns hold, not of all about its thing
    asked = "context_coverage"
    return homed if homed.features[asked] >= best.features[asked] else best


def row_name(text: str) -> str:
    """The name of the thing a table row is about: its first cell's value.

    >>> row_name("Role: SRE; Recommended certifications: MLOps Foundation")
    'SRE'
    """
    return text.split(";", 1)[0].split(":", 1)[-1].strip()


def gives_number(question: Question, unit: Unit) -> bool:
    """Whether a unit states a number of the kind the question asks for: a duration has a
    time word with it, an amount a currency, a count the counted thing (or its heading
    does); other questions need no number.

    >>> from retrieval.question import analyze
    >>> u = Unit("c", 0, "Most learners take 30 to 90 days.", "sentence", "FAQ > Time")
    >>> gives_number(analyze("how long does it take"), u), gives_number(analyze("whats the fee"), u)
    (True, False)
    >>> from dataclasses import replace
    >>> roles = Unit("c", 0, "They end up in roles like A, B and C.", "sentence", "FAQ > Jobs")
    >>> titles = analyze("how many job titles do they get")
    >>> gives_number(titles, roles), gives_number(replace(titles, counted_as={"role"}), roles)
    (False, True)
    >>> grow = Unit("c", 0, "You can grow in three directions: A, B or C.", "sentence", "Next")
    >>> gives_number(analyze("how many options do i have"), grow)
    True
    >>> gives_number(analyze("how many exam questions are there"), grow)
    False
    """
    if question.need not in ("count", "duration"):
        return True
    counts_things = _counts_things(question)
    about_them = counts_things and (
        _about(unit.section, question.counted) or _keyed_by(unit, question.counted)
    )
    if about_them and unit.kind in ("item", "row") or counts_things and _names_list(unit, question):
        return True  # the list of the counted things: "how many projects?"
    if not has_number(unit.text):
        return False
    if question.need == "duration":
        short = _SHORT_TIME.search(question.text) is not None
        return (_SHORT_TIME if short else _TIME).search(unit.text) is not None
    if question.counted == "money":
        return _CURRENCY.search(unit.text) is not None
    if question.counted == "score":
        return _SCORE.search(unit.text) is not None
    if question.counted:  # "four tracks", or a number under a heading about the tracks
        # "nine providers" when companies are counted (`Question.counted_as`); "how many
        # options": whatever the unit counts and lists ("three directions: ...")
        return (
            counts(unit.text, question.counted, question.counted_as)
            or about_them
            or question.counted in _ANY_THINGS
            and _COUNTED_LIST.search(unit.text) is not None
        )
    return True


# What a learner counts when they count whatever the course offers ("how many options do i have")
_ANY_THINGS = frozenset({"option", "choic", "possibl", "altern", "avenu"})
# a number of things and then the things: "grow in three directions: same-track progression, ..."
_COUNTED_LIST = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:[\w-]+\s+)?[\w-]+s:\s",
    re.IGNORECASE,
)


def _named_now(question: Question) -> list[tuple[str, ...]]:
    """The named things a follow-up's own words bring in ("and for the Foundation level?"):
    the answer is about them, whatever the borrowed question matched before."""
    if question.own_terms == question.terms:
        return []
    own = set(question.own_terms)
    return [key for key in question.subjects if set(key) <= own]


def _mentions(unit: Unit, keys: Sequence[tuple[str, ...]], whole_path: bool = False) -> bool:
    """Whether a unit or its own heading (or any heading above it) names one of the things."""
    headings = unit.section if whole_path else unit.section.split(" > ")[-1]
    words = set(terms(unit.text)) | set(terms(headings))
    return any(set(key) <= words for key in keys)


def states_count(question: Question, unit: Unit) -> bool:
    """Whether a unit says how many there are of the things a question counts ("four
    tracks" for "how many tracks"; "nine providers" for "how many companies")."""
    return _counts_things(question) and counts(
        unit.text, question.counted or "", question.counted_as
    )


def _counts_things(question: Question) -> bool:
    """Whether the question asks how many of some things ("tracks"), not an amount."""
    return question.need == "count" and question.counted not in (None, "money", "score")


def _keyed_by(unit: Unit, counted: str | None) -> bool:
    """Whether a table row is one of the counted things: its first column names them
    ("Role: SRE; ..." for "how many roles")."""
    return unit.kind == "row" and terms(unit.text.split(":", 1)[0]) == [counted]


def _names_list(unit: Unit, question: Question) -> bool:
    """Whether a unit lists the counted things after naming them, in the question's word
    or the course's (`Question.counted_as`): "roles like A, B and C", "four tracks: A, B,
    C and D"."""
    names = {question.counted, *question.counted_as}
    listed = (terms(match.group(1)) for match in _LISTED.finditer(unit.text))
    return "," in unit.text and any(len(found) == 1 and found[0] in names for found in listed)


def _about(section: str, counted: str) -> bool:
    """Whether a section's own heading is about the counted things and nothing else:
    "Certification tracks" for tracks, not "MLOps Core track" nor "Tracks and levels"."""
    last = section.split(" > ")[-1].lower()
    plurals = {t for w in _WORD.findall(last) if w.endswith("s") for t in terms(w)}
    return plurals == {counted}


def counts(text: str, counted: str, alike: Collection[str] = ()) -> bool:
    """Whether a text gives a count of a thing: a cardinal number with the thing's word (or
    one of the `alike` stems) within the next three words ("four tracks", "three primary
    levels"). An ordinal or a place in an order ("taken first", "(1)") is not a count.

    >>> counts("The certification has four tracks: A, B, C and D.", "track")
    True
    >>> counts("The MLOps Core track is taken first in the order (1).", "track")
    False
    >>> counts("Learners can grow in three directions: same-track progression...", "track")
    False
    >>> counts("Nine providers offer training.", "compani", {"provid"})
    True
    """
    names = {counted, *alike}
    words = _WORD.findall(text.lower())
    for at, word in enumerate(words):
        following = words[at + 1 : at + 4]  # "same-track" names a kind of progression, not a track
        if _CARDINAL.fullmatch(word) and any(
            "-" not in w and len(t := terms(w)) == 1 and t[0] in names for w in following
        ):
            return True
    return False


def is_time_word(word: str) -> bool:
    """Whether a word is a unit of time ("minutes", "days"): a count of them is a duration,
    never answered by a number of some other unit that is near it in meaning."""
    return _TIME.fullmatch(word) is not None or _SHORT_TIME.fullmatch(word) is not None


def has_number(text: str) -> bool:
    """Whether a text states a number, in digits or words ("two to three years")."""
    return _NUMBER.search(text) is not None


def is_lead_in(unit: Unit) -> bool:
    """Whether a unit only announces what follows ("The table below lists…") or points
    elsewhere ("The course guide also explains why…", "The full table is in the syllabus.")."""
    return unit.kind == "sentence" and _LEAD_IN.search(unit.text) is not None


def _asked_as(question: Question, section: str) -> bool:
    """Whether a section's own heading asks the question's kind of question (why, who...).

    >>> from retrieval.question import analyze
    >>> why = analyze("why would my company care")
    >>> _asked_as(why, "Guide > Why it is valuable today"), _asked_as(why, "Guide > Conclusion")
    (True, False)
    """
    asked = {m.group(0).lower() for m in _ASKING_WORD.finditer(question.text)}
    heading = {m.group(0).lower() for m in _ASKING_WORD.finditer(section.split(" > ")[-1])}
    return bool(asked & heading)


def _points_where(question: Question, unit: Unit) -> bool:
    """Whether a signpost answers the question: "where do I find the track table?"."""
    return _WHERE.search(question.text) is not None and _SIGNPOST.search(unit.text) is not None


def _subject(question: Question, words: set[str]) -> float:
    """+1 when the unit names what the question is about, -1 when not, 0 for no subject."""
    if not question.subjects:
        return 0.0
    return 1.0 if any(set(key) <= words for key in question.subjects) else -1.0


def of_kind(question: Question, unit: Unit) -> bool:
    """Whether a unit sits under a heading of the kind of thing the question asks for
    (a provider's section for "which provider..."); True when no kind is asked."""
    if not question.kinds:
        return True
    section = unit.section
    return any(section == group or section.startswith(f"{group} > ") for _, group in question.kinds)


def home(question: Question, unit: Unit) -> float:
    """How much a unit's place is about the subject the question names: its section, or for
    a table row the row's own name ("Role: SRE").

    The deepest heading that names a subject counts: the subject's share of its telling
    words (generic words such as "level" or "path" left out). 0 when no heading names it.

    >>> from retrieval.question import analyze
    >>> q = analyze("what does the sre path cover", subjects=(("sre",),))
    >>> def at(section, text="x", kind="sentence"):
    ...     return home(q, Unit("c", 0, text, kind, section))
    >>> at("Guide > Learning paths > SRE path"), at("Guide > Learning paths")
    (1.0, 0.0)
    >>> at("FAQ > Is the SRE path hard"), at("Guide > SRE path > What it is")
    (0.5, 1.0)
    >>> at("Guide > By role", "Role: SRE; Certifications: A and B", "row")
    1.0
    """
    if not question.subjects:
        return 0.0
    headings = unit.section.split(" > ")
    if unit.kind == "row":
        headings.append(row_name(unit.text))
    for heading in reversed(headings):
        words = set(terms(heading)) - _GENERIC
        named = [key for key in question.subjects if set(key) <= words | _GENERIC]
        if named and words:
            return max(len(set(key) - _GENERIC) for key in named) / len(words)
    return 0.0


def _lists(unit: Unit) -> bool:
    """Whether a unit is part of a list or enumerates one ("six paths: A, B, C, D...")."""
    return unit.kind in ("item", "row") or unit.text.count(",") >= 2


def _number_need(question: Question, unit: Unit) -> float:
    if question.need not in ("count", "duration"):
        return 0.0
    return 1.0 if gives_number(question, unit) else -1.0


def _announced(lead: Candidate, scored: Sequence[Candidate]) -> list[Candidate]:
    """The items or rows a lead-in sentence announces: those after it in its chunk or section."""
    section = _section(lead, scored)
    after = [
        c
        for c in scored
        if c.unit.kind in ("item", "row")
        and (c.passage == lead.passage and c.unit.order > lead.unit.order or c in section)
    ]
    return sorted(after, key=lambda c: c.key)[:MAX_LIST]


def _rest_of_list(
    question: Question, best: Candidate, scored: Sequence[Candidate]
) -> list[Candidate]:
    """The whole list a list question asks for: the best unit's list items, or the rows of
    its table that score close to it (only the asked thing's rows when the question names
    it: "which certs for an SRE?")."""
    if best.unit.kind == "item":
        items = [c for c in scored if c.passage == best.passage and c.unit.kind == "item"]
        return sorted(items, key=lambda c: c.key)[:MAX_LIST]
    if best.unit.kind == "row":
        rows = _section(best, scored)
        if home(question, best.unit) == 1:  # the asked thing's own rows: "which certs for an SRE?"
            return [c for c in rows if home(question, c.unit) == 1][:MAX_LIST]
        # the whole table: "which roles get recommendations?", "which certs fit me" (from a
        # learner who names no role: each reads their own row)
        if question.need == "list" or _choosing_among(question, best.unit):
            return rows[:MAX_LIST]
        return [c for c in rows if c.probability >= 0.5 * best.probability][:MAX_LIST]
    return []


def key_columns(rows: Sequence[str]) -> set[str]:
    """Terms of the columns of a table whose value differs on every row: what tells one row
    from another ("Role", "Recommended certifications"; not "Level", which rows share).

    >>> sorted(key_columns(["Track: A; Level: Pro; Order: 1", "Track: B; Level: Pro; Order: 2"]))
    ['order', 'track']
    """
    values: dict[str, list[str]] = {}
    for row in rows:
        for column, value in _cells(row):
            values.setdefault(column.strip(), []).append(value.strip().lower())
    distinct = [c for c, v in values.items() if len(v) == len(rows) and len(set(v)) == len(v)]
    return {t for column in distinct for t in terms(column)}


def _choosing_among(question: Question, unit: Unit) -> bool:
    """Whether a unit is a row of the table the learner chooses from for themselves ("i get
    paged at night, which certs fit me": the whole role table is the answer)."""
    return unit.kind == "row" and unit.section == question.choosing


def _qualified_rows(
    question: Question, best: Candidate, scored: Sequence[Candidate]
) -> list[Candidate]:
    """For a list or count over a table that names a thing its rows hold in a column ("the
    tracks at the pro level"): the rows of the best unit's table whose cell names that thing
    as a value of the column's kind ("Level: Professional level", not "Prerequisites:
    Professional Level"); empty when the best unit is no row or no row's cell names it."""
    if best.unit.kind != "row" or not question.subjects:
        return []
    if home(question, best.unit) == 1:  # the rows are the things named: "certs for an SRE"
        return []

    def qualifies(unit: Unit) -> bool:
        for column, value in _cells(unit.text)[1:]:
            named = set(terms(value))
            if set(terms(column)) & named and any(set(s) <= named for s in question.subjects if s):
                return True
        return False

    return [c for c in _section(best, scored) if qualifies(c.unit)][:MAX_LIST]


def _same_place(
    best: Candidate, scored: Sequence[Candidate], room: int, share: float = 0.5
) -> list[Candidate]:
    """Units of the best unit's chunk that score at least `share` as well: the rest of what
    the section says about the question ("tell me about the SRE path")."""
    if room <= 0 or best.unit.kind in ("row", "faq"):
        return []
    same = [
        c
        for c in scored
        if c.passage == best.passage
        and c.key != best.key
        and c.probability >= share * best.probability
        and not is_lead_in(c.unit)
    ]
    return same[:room]


def _each_side(
    question: Question, scored: Sequence[Candidate], found: Collection[str]
) -> list[Candidate]:
    """For "X vs Y": up to `PER_SIDE` + 2 units about each side alone (a unit naming both
    sides says what they share, not how they differ), from the side's own section when one
    was retrieved; empty unless both sides are found. A side is named by its words that some
    unit uses (`found`): "the plain devops one" by "devops".

    A comparison asks what each side is: its own section in the course's order, where the
    course says what it is about, rather than whichever of its sentences shares the most
    words with the question. A named aspect ("which needs more background") leads with the
    units that match it; a word the sides' units never use ("basically the same thing") names
    none. A side with a table row of its own (a track's row: level, audience, prerequisites,
    skills) is quoted by that row and `PER_SIDE` - 1 unit more: the whole record in one line.
    Quoting 4 rather than 2 or 3 units of each side answered 11 more of 1203 dev cases and
    lost none (median comparison answer 443 -> 604 characters).
    """
    side_terms = {t for side in question.sides for t in terms(side)}
    if kinds := _kinds_compared(question):  # "a level vs a track": how many of each there are
        counting = [
            max(
                (c for c in scored if counts(c.unit.text, kind)),
                key=lambda c: len(c.unit.text.split(",")),  # all of them, not "two tracks: ..."
                default=None,
            )
            for kind in kinds
        ]
        if all(counting):
            return [c for c in counting if c is not None]
    owned = []
    for side in question.sides:
        others = [o for o in question.sides if o != side]
        own = [
            c
            for c in scored
            if _names(c, side, found) and not any(_names(c, o, found) for o in others)
        ]
        if not own:
            return []
        owned.append((side, own))
    # an aspect is a word the sides' own units use ("harder", "basically the same" are not)
    said = {t for _, own in owned for c in own for t in terms(c.unit.text)}
    aspect = (set(question.terms) - side_terms - _GENERIC - _DESCRIBING) & said
    chosen: list[Candidate] = []
    for side, own in owned:
        about = replace(question, subjects=(tuple(t for t in terms(side) if t not in _GENERIC),))

        def place(
            candidate: Candidate, about: Question = about, side: str = side
        ) -> tuple[bool, bool, int]:
            at_home = home(about, candidate.unit) >= 1
            if aspect or not at_home:
                return (not at_home, False, 0)
            heading = candidate.unit.section.split(" > ")[-1]  # the side's section, not a part
            return (False, not names_heading(heading, side), candidate.unit.order)

        own.sort(key=place)  # stable: best first within each
        record = next((c for c in own if c.unit.kind == "row" and _is_row_of(c, side)), None)
        if record is not None:  # the side's table row: the whole record in one unit
            chosen += [record, *[c for c in own if c is not record][: PER_SIDE - 1]]
        else:
            chosen += own[: PER_SIDE + 2]
    return chosen


def _kinds_compared(question: Question) -> list[str]:
    """The kinds of thing a comparison sets side by side when each side is a kind and no
    one thing of it ("whats the difference between a level and a track": level, track).

    >>> from retrieval.question import analyze
    >>> _kinds_compared(analyze("whats the difference between a level and a track"))
    ['level', 'track']
    >>> _kinds_compared(analyze("sre path vs finops path"))
    []
    """
    kinds = [terms(side) for side in question.sides]
    if len(kinds) == 2 and all(len(k) == 1 and k[0] in _GENERIC for k in kinds):
        return [k[0] for k in kinds]
    return []


def _adding(
    question: Question, chosen: Sequence[Candidate], scored: Sequence[Candidate]
) -> list[Candidate]:
    """Close runners-up, up to `MAX_UNITS`: the first from another place than the best unit
    (unless that is a whole FAQ answer, a table row or a number asked for), and those that add
    asked-for terms the chosen units lack (see `RUNNER_UP`)."""
    best = chosen[0]
    # a whole FAQ answer, a table row and a number answer on their own
    alone = best.unit.kind in ("faq", "row") or question.need in ("count", "duration")
    covered = {t for c in chosen for t in terms(c.unit.text)}
    added: list[Candidate] = []
    taken = {c.key for c in chosen}
    for candidate in scored:
        if (
            len(chosen) + len(added) >= MAX_UNITS
            or candidate.probability < RUNNER_UP * best.probability
        ):
            break
        if candidate.key in taken or is_lead_in(candidate.unit):
            continue
        words = set(terms(candidate.unit.text))
        elsewhere = not added and not alone and candidate.passage != best.passage
        if elsewhere or set(question.terms) & (words - covered):
            added.append(candidate)
            covered |= words
    return added


def _section(of: Candidate, scored: Sequence[Candidate]) -> list[Candidate]:
    """Table rows under the same heading as a unit, best first."""
    return [c for c in scored if c.unit.kind == "row" and c.unit.section == of.unit.section]


def _side_words(side: str) -> list[str]:
    """The terms that name a comparison's side: not the generic words ("level", "path") nor
    words for people ("a security person" is the Security Engineer).

    >>> _side_words("security ppl"), _side_words("sre path")
    (['secur'], ['sre'])
    """
    return [t for t in terms(side) if t not in _GENERIC and t not in _PEOPLE]


_CONTRAST = re.compile(r"\b(differ\w*|unlike|compared|whereas|than)\b", re.IGNORECASE)


def _contrasts(unit: Unit, sides: Sequence[str], found: Collection[str]) -> bool:
    """Whether a unit sets the two sides of a comparison against each other: it names both
    (in its text or its own heading, by the side's words that `found` units use) and says
    how they differ ("The program differs from traditional Data Engineering by...")."""
    if len(sides) != 2:
        return False
    text = f"{unit.section.split(' > ')[-1]} {unit.text}"
    words = set(terms(text))
    for side in sides:
        wanted = [t for t in _side_words(side) if t in found]
        if not wanted or not set(wanted) <= words:
            return False
    return _CONTRAST.search(text) is not None


def _found_words(scored: Sequence[Candidate]) -> set[str]:
    """The terms the units use, with their own headings."""
    return {t for c in scored for t in terms(f"{c.unit.text} {c.unit.section.split(' > ')[-1]}")}


def _names(candidate: Candidate, side: str, found: Collection[str] | None = None) -> bool:
    """Whether a unit (or its own heading) names a side of a comparison; a side of generic
    words only ("same-track", "cross-track") must be written as it is. Only the side's
    words in `found` (those some unit uses) count, when any does."""
    wanted = _side_words(side)
    if found is not None:
        wanted = [t for t in wanted if t in found] or wanted
    heading = candidate.unit.section.split(" > ")[-1]
    if not wanted:
        pattern = re.compile(rf"\b{re.escape(side)}\b", re.IGNORECASE)
        return bool(pattern.search(candidate.unit.text) or pattern.search(heading))
    words = set(terms(candidate.unit.text)) | set(terms(heading))
    first = side.split()[0]
    if first[:1].isupper() and is_everyday(first):  # "Professional", not "a professional"
        written = re.search(rf"\b{re.escape(first)}", f"{candidate.unit.text} {heading}")
        return written is not None and all(t in words for t in wanted)
    return all(t in words for t in wanted)


def _row_answers(question: Question, unit: Unit) -> bool:
    """Whether a table row is about a thing the question names and has a column of what it
    asks ("what *certs* should a *data engineer* take": "Role: Data Engineer; Recommended
    certifications: ...")."""
    if unit.kind != "row" or not question.subjects:
        return False
    name = set(terms(row_name(unit.text)))
    if not any(set(subject) <= name for subject in question.subjects if subject):
        return False
    return _asks_column(question, unit)


def _asks_column(question: Question, unit: Unit) -> bool:
    """Whether the question asks for what a table row's columns other than the first hold
    ("which *certs* for a data engineer"; not "what job titles do data engineers land")."""
    columns = {t for column, _ in _cells(unit.text)[1:] for t in terms(column)}
    return bool(set(question.terms) & columns)


def _cells(text: str) -> list[tuple[str, str]]:
    """A table row's `(column, value)` pairs, in order; a cell without a column is left out.

    >>> _cells("Track: Governance; Level: Advanced level")
    [('Track', ' Governance'), (' Level', ' Advanced level')]
    """
    return [(c, v) for c, sep, v in (cell.partition(":") for cell in text.split(";")) if sep]


def _is_row_of(candidate: Candidate, side: str) -> bool:
    """Whether a table row is the side's own: its first cell names the side, and its first
    column is of the side's kind when the side says one ("sre path" is no "Role: SRE")."""
    wanted = _side_words(side)
    kind = set(terms(side)) & _GENERIC
    column = candidate.unit.text.split(":", 1)[0]
    return (
        bool(wanted)
        and set(wanted) <= set(terms(row_name(candidate.unit.text)))
        and kind <= set(terms(column))
    )


def _already_said(question: Question, unit: Unit) -> bool:
    """Whether the assistant's previous answer said what the unit says: nearly all of the
    unit's content terms (three at least) are in it, quoted or lightly reworded ("Nine
    providers offer training: A, B..." after the nine were named)."""
    words = set(terms(unit.text))
    return len(words) >= 3 and len(words & question.said) >= ALREADY_SAID * len(words)


def names_heading(heading: str, side: str) -> bool:
    """Whether a heading is the side's own ("Foundation level" for "foundation lvl")."""
    wanted = _side_words(side)
    return bool(wanted) and set(wanted) <= set(terms(heading))


def _unique(chosen: Sequence[Candidate]) -> list[Candidate]:
    seen: set[tuple[int, int]] = set()
    unique = []
    for candidate in chosen:
        if candidate.key not in seen:
            seen.add(candidate.key)
            unique.append(candidate)
    return unique


def _plain_units(passage: ScoredChunk) -> list[tuple[Unit, float]]:
    """Units of a passage found without unit vectors (BM25 alone): similarity unknown."""
    from ingest.units import split_units

    return [(u, passage.dense or 0.0) for u in split_units(passage.chunk)]
