"""Question analysis: what kind of answer a question wants, and which of its words carry the ask."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from retrieval.lexical import TermWeights, WeightedTerm, is_stopword, terms, weighted_terms

if TYPE_CHECKING:
    from retrieval.neighbours import Near

Need = Literal["count", "duration", "list", "comparison", "yes_no", "general"]
NEEDS: tuple[Need, ...] = ("count", "duration", "list", "comparison", "yes_no", "general")

_DURATION = re.compile(
    r"\bhow\s+(long|soon|quickly|fast|often)\b|\bhow\s+much\s+time\b|\btime\s+frame\b"
    r"|\bhow\s+many\s+(days|weeks|months|years|hours|hrs|yrs)\b|\bwhen\s+(do|does|will|should)\b"
    r"|\b(expire|expiry|lapse|valid\s+for|timeline|length)\b|\bhow\s+many\s+(minutes|mins)\b"
    r"|\bin\s+(minutes|mins|hours|hrs)\b",
    re.IGNORECASE,
)
# a pass mark, or a score or a share asked for: "what score do i need", "what % of people pass"
_PASS_MARK = re.compile(
    r"\bpass(ing)?\s+(mark|score|percentage|threshold|rate)s?\b|\bcut\s*-?\s*off\s+(score|mark)s?\b"
    r"|\bwhat\s+(score|mark|grade|percentage|percent|share)\b|\bwhat\s*%",
    re.IGNORECASE,
)
_COUNT = re.compile(
    rf"\bhow\s+many\b|\b(?:number|no\.?|num)\s+of\b|#\s*of\b|\bcount\b|{_PASS_MARK.pattern}",
    re.IGNORECASE,
)
_VERB_S = r"(?:is|was|has|does|this|its)\b"  # words ending in s that are no plural
_LIST = re.compile(
    r"\blist\b|\ball\s+(the\s+)?(\w+\s+)?\w+s\b|\bname\s+(the|all|some|every|each)\b"
    r"|\bnames\s+of\b|\bwhat\s+(are|r)\s+(the\s+)?\w+"
    rf"|\bwhich\s+(?!{_VERB_S})(\w+\s+)?(?!{_VERB_S})\w+s\b"  # which (job) roles, not which is
    r"|\bwhat\s+(\w+\s+)?\w+s\s+(are|r|do|does|can|will|exist)\b|\w+s\s+(are|r)\s+there\b"
    r"|\btypes\s+of\b|\bkinds\s+of\b|\b(?:in|for|of)\s+(?:each|every)\s+\w+"
    r"|\ball\s+of\s+(?:them|em|those)\b"
    r"|\boptions\b|\bwh?at\b.*\b(cover(s|ed)?|teach(es)?|taught|learn|includ(e|es|ed)"
    r"|involv(e|es|ed)|consist)\b",
    re.IGNORECASE,
)
# A yes/no question opens with an auxiliary, after at most three words ("so, is it...").
_AUXILIARY = r"is|are|does|do|can|could|will|would|should|has|have|did|am|r"
_OPENS_WITH = r"^\s*(?:\w+[,!]?\s+){0,3}?"
_YES_NO = re.compile(rf"{_OPENS_WITH}({_AUXILIARY})\s", re.IGNORECASE)
_TWO_QUESTIONS = re.compile(
    r",?\s+and\s+(?:(?:at|in|for|on|to|from|with)\s+)?"
    r"(?=(?:what|which|who|how|when|where|why|is|are|does|do|can|should)\b)"
    r"|(?<=\?)\s+(?=\w)",
    re.IGNORECASE,
)
# What makes a part of a message a question: a question mark, a question word, a yes/no
# shape ("is it...", "any discount..."), or a request ("list the...", "tell me..."). The rest
# is the learner talking about themselves ("im still at uni", "need to book time off").
_ASKS = re.compile(
    r"\?\s*$|\b(what|whats|which|who|whos|how|hows|why|where|when|wat|wht)\b"
    rf"|{_OPENS_WITH}({_AUXILIARY}|any)\s"
    r"|^\s*(?:pls\s+|please\s+)?(list|tell|give|show|explain|describe|name|compare)\b",
    re.IGNORECASE,
)
_WH = re.compile(r"\b(what|which|who|how|why|where|when|wat|wht)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """A question as the answerer sees it.

    Attributes:
        text: The question (standalone: follow-ups already carry their subject).
        need: The kind of answer it wants: a `count` (or amount: "how much", "what's the
            fee"), a `duration`, a `list`, a
            `comparison` of two things, a `yes_no`, or a `general` statement.
        terms: Its content terms (`retrieval.lexical.terms`).
        own_terms: Content terms of the learner's own words in this turn, without the
            subject borrowed from earlier turns; answerability is judged on these.
        sides: For a comparison, the words of each side ("foundation", "professional level").
        counted: For a count, the stem of what is counted ("track" in "how many tracks"),
            `money` for an amount ("how much does it cost", "what's the fee"), or `score`
            for a pass mark.
        subjects: Key terms of the course's named things the question is about (a level,
            a track, a path, a role, a provider), e.g. `(("profession",),)`.
        kinds: The kinds of named thing it asks for, `(term, group heading path)`: "which
            provider..." asks for a unit under "Guide > Training providers".
        weighted: Content terms with how telling each is (`lexical.weighted_terms`).
        own_weighted: The same for the learner's own words in this turn.
        near: For each of the learner's own terms the course never uses, the nearest course
            terms in meaning with their similarity (`retrieval.neighbours`).
        meant: The section of the one thing of the asked kind that serves what the question
            names ("which provider for the SRE path?": the Sreschool section), if any.
        said: The content terms of the assistant's previous answer: a follow-up wants what
            it has not been told yet.
        counted_as: Stems of other course words for the counted things, near in meaning
            ("provid" when "how many companies" is asked), `neighbours.WordNeighbours.alike`.
        choosing: The heading path of the table whose rows are the options a learner who
            describes themselves, naming none of them, asks to choose among ("i get paged at
            night, which certs fit me": the role table); every row is the answer.
    """

    text: str
    need: Need
    terms: tuple[str, ...]
    own_terms: tuple[str, ...]
    sides: tuple[str, ...] = ()
    counted: str | None = None
    subjects: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[tuple[str, str], ...] = ()
    weighted: tuple[WeightedTerm, ...] = ()
    own_weighted: tuple[WeightedTerm, ...] = ()
    near: Mapping[str, Near] = field(default_factory=dict)
    meant: str | None = None
    said: frozenset[str] = frozenset()
    counted_as: frozenset[str] = frozenset()
    choosing: str | None = None


def analyze(
    text: str,
    own: str | None = None,
    weights: TermWeights | None = None,
    subjects: tuple[tuple[str, ...], ...] = (),
    kinds: tuple[tuple[str, str], ...] = (),
    named: Sequence[tuple[str, str]] = (),
    names_as: str | None = None,
) -> Question:
    """Analyse a question.

    Args:
        text: The standalone question.
        own: The learner's words in this turn when `text` was rebuilt from a follow-up.
        weights: Term weights of the corpus, to weigh the terms by how telling they are.
        subjects: Key terms of the named things the question mentions.
        kinds: The kinds of named thing it asks for.
        named: The named things it mentions, `(name, group heading path)` in order: the
            sides of a comparison that does not say them around its "vs" or "or".
        names_as: The text with the learner's words for the course's things written as
            the course names them (`learner_words.canonical`), to find a comparison's sides.

    >>> analyze("how long does the foundation prep take").need
    'duration'
    >>> q = analyze("foundation vs professional level")
    >>> q.need, q.sides
    ('comparison', ('foundation', 'professional level'))
    >>> analyze("what are all the tracks").need, analyze("is the exam online").need
    ('list', 'yes_no')
    >>> analyze("names of all the training companies").need, analyze("name every path").need
    ('list', 'list')
    """
    own_text = own if own is not None else text
    named_text = _ELLIPSIS.sub(",", names_as or text)  # "dataops or finops.. what does each"
    sides = _sides(named_text) or _named_sides(named_text, named)
    return Question(
        text=text,
        need=need_of(text, bool(sides)),
        terms=tuple(terms(text)),
        own_terms=tuple(terms(own_text)),
        sides=sides,
        counted=_counted(text),
        subjects=subjects,
        kinds=kinds,
        weighted=tuple(weighted_terms(text, weights)) if weights else (),
        own_weighted=tuple(weighted_terms(own_text, weights)) if weights else (),
    )


def need_of(text: str, has_sides: bool = False) -> Need:
    """The kind of answer a question wants, first match in `NEEDS` order but comparisons
    need two sides; an amount of money is a count."""
    if _counted(text) == "money":
        return "count"
    if _DURATION.search(text):
        return "duration"
    if _COUNT.search(text):
        return "count"
    if has_sides:
        return "comparison"
    if (aux := _YES_NO.search(text)) and not _WH.search(text[: aux.start(1)]):  # not "ok what does"
        return "yes_no"
    if _LIST.search(text):
        return "list"
    return "general"


_COUNTED = re.compile(
    r"(?:\bhow\s+many|\b(?:number|no\.?|num)\s+of|#\s*of)\s+((?:[\w-]+\s*){1,4})", re.IGNORECASE
)
# Words between "how many" and the counted thing that say how things are counted, not what:
# "how many different specialisations", "how many kinds of tracks", "no. of total levels"
_COUNT_WORDS = re.compile(
    r"different|diff|distinct|separate|total|possible|main|major|available|various|individual"
    r"|unique|kinds?|types?|sorts?|of|the|actual|official|other|more|extra"
)
# Compound modifiers, plural-looking but never what is counted: "how many hands-on projects"
_MODIFIERS = re.compile(r"\b(?:hands?|real|day|end)[\s-]+(?:on|world|life|to[\s-]+\w+)\b")
_MONEY = re.compile(
    r"\bhow\s+much\b(?!\s+(?:time|of|demand|work|effort))"
    r"|\b(price|prices|priced|fee|fees|charge|charges|salary|salaries|pay|paid|expensive"
    r"|cheap|cheaper|cheapest|pricier|priciest|costlier|affordable"
    r"|earn|earns|earning|earnings|wage|wages"
    r"|discount|discounts|refund|refunds|voucher|vouchers"
    r"|usd|dollars?|bucks|euros?|eur|inr|rupees?|gbp)\b|([$€£₹])",
    re.IGNORECASE,
)
_PRICED = re.compile(r"\b(cost|costs)\b", re.IGNORECASE)
# "how much is it?", "how much are they": a price, when nothing follows what is priced
_HOW_MUCH_IS = re.compile(
    r"\bhow\s+much\s+(?:is|are|was|will|would)\s+(?:it|this|that|they|these|those|the\s+\w+)"
    r"(?:\s+\w+)?(?:\s+(?:these\s+days|nowadays|now|rn|currently|today))?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_HOW_MUCH = re.compile(r"\bhow\s+much\b", re.IGNORECASE)
# "how much is it to renew", "how much for the exam": a price, asked for doing something
_HOW_MUCH_TO = re.compile(
    r"\bhow\s+much\s+(?:(?:is|are|was|will|would|does|do)\s+)?(?:it\s+|this\s+|that\s+)?"
    r"(?:to|for)\b",
    re.IGNORECASE,
)
# "cost" as what something costs, not the FinOps topic: "does the exam cost", "it costs"
_COSTS = re.compile(
    r"\b(do|does|did|will|would|should)\s+(\w+\s+){0,4}?cost\s*(\?|$|\b(me|us|to|for|in|per)\b)"
    r"|\b(it|they|that|this)\s+costs?\b|\bwhat('?s|\s+is)\s+the\s+cost\s+of\b",
    re.IGNORECASE,
)


# "which certs fit me", "what should someone like me go for", "recommended certs pls" (from
# a learner who has said what they do): which option suits the one asking
_RECOMMENDING = r"\b(?:recom+end|rec+omend|suggest)\w*"
_CHOICE = re.compile(
    r"\b(?:fits?|suits?|suited|meant|ment|aimed|pitched|right|best|good|ideal|mine)\b"
    rf"|{_RECOMMENDING}|\badvi[sc]e\w*"
    r"|\b(?:should|shud|shld|must|do|would|can|could)\s+(?:i|we|someone\s+like\s+me)\s+"
    r"(?:get|take|do|go\s+for|pick|choose|start)\b",
    re.IGNORECASE,
)
_ONESELF = re.compile(r"\b(?:i|im|i'm|me|my|we|us|our)\b", re.IGNORECASE)


# what is chosen: the words after which/what ("which of your 4 certs", "what cert would"), or
# after a recommending word ("recommended certs pls")
_OPTION = re.compile(
    r"\b(?:which|what|wat|wht)\s+(?:(?:one\s+)?of\s+(?:ur|your|yr|the|these|those)\s+)?"
    r"(?:\d+\s+)?((?:[\w-]+\s+)?[\w-]+)"
    rf"|{_RECOMMENDING}\s+([\w-]+)",
    re.IGNORECASE,
)


def options_chosen(text: str) -> set[str]:
    """Terms of what a learner who tells of themselves asks to choose for themselves ("i get
    paged at night, which of your certs fits me": certif); none for a question that only asks
    ("what can i do after the architect cert") or that chooses nothing it names.

    >>> sorted(options_chosen("i get paged at night, which of your certifications fits me"))
    ['certif', 'fit']
    >>> options_chosen("i do appsec, recommended certifications"), options_chosen("which fits me")
    ({'certif'}, set())
    >>> sorted(options_chosen("i want to head an org, which next step would u recommend"))
    ['next', 'step']
    """
    if not (_CHOICE.search(text) and _ONESELF.search(text) and told_only(text)):
        return set()
    return {t for m in _OPTION.finditer(text) for t in terms(m.group(1) or m.group(2))}


def _counted(text: str) -> str | None:
    """What a count question counts, as a stem, or `money` for an amount; None otherwise.

    >>> _counted("no of tracks in total?"), _counted("# of levels")
    ('track', 'level')
    >>> _counted("how many tracks are there"), _counted("how much is the exam fee")
    ('track', 'money')
    >>> _counted("what does the exam cost"), _counted("how does finops cover cost optimisation")
    ('money', None)
    >>> _counted("how much is it?"), _counted("how much is the exam (Foundation level)")
    ('money', 'money')
    >>> _counted("how much is it to renew"), _counted("how much time for the foundation")
    ('money', None)
    >>> _counted("how much is the cka exam these days"), _counted("whats the damage, in usd")
    ('money', 'money')
    >>> _counted("whats the damage for the exam $$")
    'money'
    >>> _counted("whats the pass mark for it"), _counted("what % of people pass first time")
    ('score', 'score')
    >>> _counted("wats the pass mark for professional lvl"), _counted("cutoff score for the exam")
    ('score', 'score')
    >>> _counted("how many different specialisation can u do"), _counted("how many kinds of tracks")
    ('specialis', 'track')
    >>> _counted("how many diff kinds of projects r there"), _counted("how many day does it take")
    ('project', 'day')
    >>> _counted("how many hands on projects do we do"), _counted("how many real-world projects")
    ('project', 'project')

    """
    words = [m for m in _MONEY.finditer(text) if m.group(1) or m.group(2)]  # price, fee, $...
    how_much = _HOW_MUCH.search(text)
    unborrowed = re.sub(r"\s*\([^)]*\)\s*$", "", text)  # without a follow-up's "(subject)"
    priced = (
        _HOW_MUCH_IS.search(unborrowed)
        or _HOW_MUCH_TO.search(unborrowed)
        or _PRICED.search(text)
        and (how_much or _COSTS.search(text))
    )
    if words or priced:
        return "money"  # a price, fee or salary, or what something costs
    if _PASS_MARK.search(text):
        return "score"
    if match := _COUNTED.search(text):  # the first plural of the next words, else the first
        following = _MODIFIERS.sub(" ", match.group(1).lower()).split()
        found_words = [w for w in following if not _COUNT_WORDS.fullmatch(w)] or following
        word = next(
            (
                w
                for w in found_words
                if w.endswith("s") and not w.endswith("ss") and not is_stopword(w)
            ),
            found_words[0],
        )
        found = terms(word)
        return found[0] if found else None
    return None


_COMPARISON = re.compile(
    r"\bvs\.?\b|\bversus\b|\bdiff(erence|erent|er|s)?\b"
    r"|\bcompared?\b|\bwhich\b.*\bor\b|\bor\b[^?.!]*\bwhich\b"
    r"|\bor\b.*\b(better|easier|harder|first)\b"
    r"|\b(better|easier|harder)\b.*\bor\b"
    r"|\bsep[ae]rates?\b|\bsets?\b[^?.!]*\bapart\b|\bsame\b|\beach\b[^?.!]*\bor\b"
    r"|\bor\b[^?.!]*\beach\b",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"\b(?:between|^\s*compare)\b", re.IGNORECASE)
_SAYS_VS = re.compile(r"\b(?:vs\.?|versus)(?!\w)", re.IGNORECASE)
_VERSUS = re.compile(r"\s+(?:vs\.?|versus|compared?\s+(?:to|with)|or|from)\s+", re.IGNORECASE)
_JOIN = re.compile(r"\s+(?:and|vs\.?|versus|or|with|to)\s+|,\s*", re.IGNORECASE)
_ASKING = re.compile(
    r"(what|whats|what's|wat|which|who|whos|who's|how|hows|how's|why|is|are|r|does|do|the|a|an"
    r"|diff\w*|better|easier|harder|between|compare|compared|first|one|ones|for|each|of|in|me"
    r"|tell|about|it|its|this|that|to|and|vs|versus|or|like|same|thing|actually|similar|names"
    r"|but|so|ok|hey|quick|q|pls|please|really|exactly|just|i|my|should|take|get|focus"
    r"|takes|taking|gets|getting|got|focuses)",
    re.IGNORECASE,
)


def _sides(text: str) -> tuple[str, ...]:
    """The two things a comparison sets side by side; () if it is not a comparison."""
    if not _COMPARISON.search(text):
        return ()
    sides: tuple[str, ...] = ()
    match = _BETWEEN.search(text)
    if match and _SAYS_VS.search(text, match.end()):  # "between X and Y vs Z": Y vs Z
        match = None
    if match:  # "difference between X and Y", "compare X and Y"
        parts = _JOIN.split(text[match.end() :], maxsplit=1)
        sides = (_run(parts[0], first=True), _run(parts[1], first=True)) if len(parts) == 2 else ()
    if not (sides and all(sides)) and (match := _VERSUS.search(text)):  # "X vs Y", "X or Y"
        sides = (_run(text[: match.start()], first=False), _run(text[match.end() :], first=True))
    return sides if len(sides) == 2 and all(sides) else ()


def _named_sides(text: str, named: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The two named things of one kind a comparison mentions, when its words do not set
    them apart: "data automation and quality control, whats the diff between the 2 tracks".

    >>> named = [("Data Automation track", "S > Tracks"), ("Professional level", "S > Levels"),
    ...          ("Quality Control track", "S > Tracks")]
    >>> _named_sides("data automation and quality control, whats the diff", named)
    ('Data Automation track', 'Quality Control track')
    >>> _named_sides("tell me about data automation and quality control", named)
    ()
    >>> rows = [("Data Automation", "S > Tracks (rows)"), ("Quality Control", "S > Tracks (rows)")]
    >>> _named_sides("data automation and quality control, whats the diff", rows + named)
    ('Data Automation', 'Quality Control')
    """
    if not _COMPARISON.search(text):
        return ()
    by_kind: dict[str, list[str]] = {}
    for name, group in named:
        if name not in by_kind.setdefault(group, []):
            by_kind[group].append(name)
    pairs = [names for names in by_kind.values() if len(names) == 2]
    if not pairs or any(not _same_pair(pairs[0], other) for other in pairs[1:]):
        return ()  # none, or things of two kinds: which two are compared is unclear
    return tuple(pairs[0])


def _same_pair(one: Sequence[str], other: Sequence[str]) -> bool:
    """Whether two pairs name the same things ("Data Automation" the table row and "Data
    Automation track" the section)."""
    return all(
        set(terms(a)) <= set(terms(b)) or set(terms(b)) <= set(terms(a))
        for a, b in zip(one, other, strict=True)
    )


def _run(text: str, first: bool) -> str:
    """The first (or last) run of words in a text that are not asking words or punctuation:
    "prereq for the prof lvl" -> "prof lvl" (last); "the devops one?" -> "devops" (first).

    >>> _run("what a tech lead gets", first=True)
    'tech lead'
    >>> _run("Professional level - what changes", first=True)
    'Professional level'
    """
    runs: list[list[str]] = [[]]
    for word in text.split():
        bare = word.strip("?,.!:;()'\"-–—")  # "- what changes": a dash ends a run too
        if not bare or _ASKING.fullmatch(bare):
            runs.append([])
            continue
        runs[-1].append(bare)
        if word[-1] in ",:;?!.":
            runs.append([])
    runs = [r for r in runs if r and terms(" ".join(r))]
    if not runs:
        return ""
    return " ".join(runs[0] if first else runs[-1])


_ELLIPSIS = re.compile(r"\.{2,}|…")  # a pause in chat, not the end of a sentence
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
# A sentence that asks: a question mark, a wh-word, or an auxiliary or a request as its
# first word after fillers ("so, is it..."; not "our bill is insane")
_ASKING_SENTENCE = re.compile(
    r"\?\s*$|\b(what|whats|wat|wht|which|who|whos|how|hows|why|where|when)\b"
    r"|^\s*(?:(?:so|ok|okay|and|but|also|hey|hi|well|btw|then|pls|please|um|hmm)[,!]?\s+)*"
    rf"(?:{_AUXILIARY}|any|list|tell|give|show|explain|describe|name|compare)\b",
    re.IGNORECASE,
)


# A clause in which the learner speaks of themselves ("i lead a team of 5", "our company is
# all azure", "im on call half my life"): it tells, unless it asks ("i wonder which...")
_TELLING_CLAUSE = re.compile(
    r"^\s*(?:(?:so|ok|okay|well|hey|hi|btw|also|but|and)[,!]?\s+)*"
    r"(?:i|i'm|im|i've|ive|i'd|we|we're|we've|my|our)\s",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"\s*[,;:]\s+|\s+(?:-|–|—)\s+")


def told_only(question: str) -> set[str]:
    """Terms of the sentences and clauses of a message that ask nothing, only tell the
    learner's situation ("our gpu bill is insane.", "i lead a team of 5 devs, why would
    ..."), and that no asking sentence uses; none when nothing asks. A clause tells when the
    learner speaks of themselves in it ("i", "we", "my", "our"): "for the governance track,
    what..." names what is asked.

    >>> sorted(told_only("our gpu bill is insane. does the course keep costs down"))
    ['bill', 'gpu', 'insan']
    >>> sorted(told_only("our company is all azure, will this lock us into one vendor"))
    ['azur', 'compani']
    >>> told_only("for the governance track, what skills are covered")
    set()
    >>> told_only("how long does it take"), told_only("our gpu bill is insane")
    (set(), set())
    >>> sorted(told_only("i do pentests all day, recommended certs pls"))
    ['day', 'pentest']
    """
    told, asked = _told_and_asked(question)
    return {t for c in told for t in terms(c)} - {t for c in asked for t in terms(c)}


def asking_part(question: str) -> str:
    """The sentences and clauses of a message that ask, without those that only tell the
    learner's situation; the whole message when nothing asks or nothing tells.

    >>> asking_part("i review designs all day, why would someone like me do this")
    'why would someone like me do this'
    >>> asking_part("how long does it take")
    'how long does it take'
    """
    _, asked = _told_and_asked(question)
    return ", ".join(asked) if asked else question


def _told_and_asked(question: str) -> tuple[list[str], list[str]]:
    """The parts of a message that tell and those that ask; both empty when it does not
    mix them."""
    told: list[str] = []
    asked: list[str] = []
    for sentence in _SENTENCE_END.split(question):
        clauses = _CLAUSE_END.split(sentence)
        if not any(_ASKING_SENTENCE.search(c) for c in (sentence, *clauses)):
            told.append(sentence)
            continue
        for clause in clauses:
            (told if _tells(clause) else asked).append(clause)
    if not asked:  # nothing has a question's shape: a clause that does not tell is the ask
        told, asked = [], []
        for sentence in _SENTENCE_END.split(question):
            for clause in _CLAUSE_END.split(sentence):
                (told if _tells(clause) else asked).append(clause)
    if not told or not asked:
        return [], []
    return told, asked


# "i want to know which...", "not sure how...": a clause about oneself that asks after all
_WONDERING = re.compile(
    r"\b(?:know|knw|wonder\w*|ask\w*|curious|understand|sure|confused|idea|clue|tell\s+me"
    r"|explain|find\s+out|figure\s+out|check|doubt)\b(?:\s+\w+){0,3}?\s+"
    r"(?:what|wat|which|who|how|why|where|when|whether|if)\b"
    r"|\b(?:how|what|wat|which|who|where|when|why)\s+(?:to|do|does|did|can|could|should|shud"
    r"|would|will|is|are|r|am)\b",  # "... how to fix", "... what do i need": asks
    re.IGNORECASE,
)


def _tells(clause: str) -> bool:
    """Whether a clause of an asking sentence only tells the learner's situation: they speak
    of themselves in it ("im a dba, ...", "i get paged when prod breaks, ..."), with no
    question mark and no wondering ("i want to know how long...").

    >>> _tells("i get paged when prod breaks"), _tells("i want to know how long it takes")
    (True, False)
    >>> _tells("i design how data flows"), _tells("my merge gives duplicates how to fix")
    (True, False)
    """
    return (
        bool(_TELLING_CLAUSE.search(clause)) and "?" not in clause and not _WONDERING.search(clause)
    )


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks two things, or the question alone.

    >>> question_parts("How hard is the exam, and how long does it usually take?")
    ['How hard is the exam', 'how long does it usually take?']
    >>> question_parts("Which tools do the labs use, and at which levels are labs run?")
    ['Which tools do the labs use', 'which levels are labs run?']
    >>> question_parts("Who are the DevOps and SRE paths for?")
    ['Who are the DevOps and SRE paths for?']
    >>> question_parts("Is the exam online? And how often does it need renewing?")
    ['Is the exam online?', 'how often does it need renewing?']
    >>> question_parts("any discount for students? im still at uni")  # one question, and context
    ['any discount for students? im still at uni']
    """
    parts = [p.strip() for p in _TWO_QUESTIONS.split(question) if p.strip()]
    if len(parts) == 2 and all(len(terms(p)) >= 2 and _ASKS.search(p) for p in parts):
        return parts
    return [question]
