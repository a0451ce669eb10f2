"""Follow-up questions: rebuild a standalone query from the conversation, without an LLM."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from retrieval.lexical import is_english, is_stopword, terms
from retrieval.types import Turn

_DEPENDENT = re.compile(
    r"\b(it|its|it's|this|that|these|those|they|them|their|there|he|she|one|same|also|"
    r"else|more|other|then)\b"
    r"|^\s*(?:(?:ok|okay|k|kk|cool|thanks|thx|ty|great|nice|hmm+|alright|right|got\s+it|i\s+see"
    r"|sure|oh)[,.!]*\s+)*(and|but|so|or|what about|how about|and what|why)\b",  # "ok and for..."
    re.IGNORECASE,
)
_COMPARING = re.compile(r"\b(diff\w*|compare\w*|vs\.?|versus|better|worse)\b", re.IGNORECASE)
# "that side of things", "this part": a topic pointed back at, however long the question
_POINTED_TOPIC = re.compile(
    r"\b(?:that|this|those|these)\s+(?:side|sides|part|parts|area|areas|topic|topics|stuff|bit"
    r"|bits|aspect|aspects|field|subject)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7,
    "ninth": 8, "9th": 8, "last": -1, "middle": None, "that": None, "this": None, "other": None,
    "top": -1, "highest": -1, "bottom": 0, "lowest": 0,
}  # fmt: skip
# places in a ranking: the top of a list of levels is its last, a list of others has none
_RANKED = {"top", "highest", "bottom", "lowest"}
_THAT = -100  # "that one": not a position but the thing the assistant just brought up
_MIDDLE = -200  # "the middle one": the centre of an odd-length list
_OTHER = -300  # "the other one": what a list had that the conversation has not taken up since
_ORDINAL = re.compile(
    r"\b(?:the\s+)?(" + "|".join(_ORDINALS) + r")\s+"
    r"(one|option|path|track|level|provider|role|of\s+(?:those|them|these|em)|tier)\b",
    re.IGNORECASE,
)
# "the money one", "the sideways option", "the one about money": a thing of the last answer's
# list named by a word of what it is about, not by its name or place
_DESCRIBED = re.compile(
    r"\bthe\s+(?:([a-z][\w-]*)\s+(?:one|option)"
    r"|(?:one|option)\s+(?:about|on|with|covering|(?:that|which)\s+(?:is\s+about|covers))"
    r"\s+([a-z][\w-]*))\b",
    re.IGNORECASE,
)
# words that judge or point rather than describe ("the main one", "the same one")
_NOT_DESCRIBING = {
    "same", "other", "next", "previous", "only", "whole", "right", "wrong", "best", "worst",
    "main", "top", "bottom", "easy", "easiest", "hard", "hardest", "popular", "recommended",
    "new", "old", "big", "small", "good", "bad", "real", "actual", "official", "cheapest",
}  # fmt: skip
Closest = Callable[[str, Sequence[tuple[str, str]]], "str | None"]
"""Of some named things `(name, group)`, the one whose text comes closest in meaning to a
word ("money": the FinOps path), or None."""
_AMONG = re.compile(
    r"\b(which|what)\s+(one\s+)?of\s+(those|them|these)\b|\bwhich\s+ones?\b", re.IGNORECASE
)
_ASKING_WORDS = re.compile(
    r"\b(what|whats|which|who|how|why|when|where|is|are|does|do|can|tell|me|about|the|a|an)\b",
    re.IGNORECASE,
)
_KIND_ASKED = re.compile(
    r"\b(?:which|what|any|how\s+many|who(?:\s+(?:do|would|should|can|could)\s+(?:i|we|you))?"
    r"|(?:is|are)\s+there\s+(?:a|an|one))\s+"  # "who do i train with": whom, not what i learn
    r"(?:(?:one\s+)?of\s+(?:the|those|these|them|your)\s+)?"  # "any of the training places"
    r"((?:[\w-]+\s+){0,1}[\w-]+)",
    re.IGNORECASE,
)
_GENERIC = {"level", "path", "track", "certif", "certifi", "cours", "program"}
_ASIDE = {"though", "tho", "anyway", "exact"}  # words that ask nothing
_POINTS_BACK = re.compile(r"\b(it|its|it's|this|that)\b", re.IGNORECASE)
_ASKS_WHICH = re.compile(r"\b(which|what|who)\b", re.IGNORECASE)


def _name_ending(names: Iterable[str]) -> set[str]:
    """The word most of a group's names end with, as a term: "school" for providers named
    Sreschool, DevOpsSchool, Finopsschool..., so "is there a school for that" asks for one.

    >>> sorted(_name_ending(["Sreschool", "DevOpsSchool", "Cotocus", "Finopsschool"]))
    ['school']
    >>> _name_ending(["Cotocus", "Scmgalaxy", "BestDevOps"])
    set()
    """
    lowered = [name.lower().replace(" ", "") for name in names]
    endings = {n[-size:] for n in lowered for size in range(5, len(n))}
    common = [
        e
        for e in endings
        if e.isalpha() and is_english(e) and 2 * sum(n.endswith(e) for n in lowered) > len(lowered)
    ]
    return set(terms(max(common, key=len))) if common else set()


_NAME_RUN = re.compile(r"\b[A-Z][\w/-]*(?:\s+[A-Z][\w/-]*)+")


def course_name(texts: Iterable[str]) -> str | None:
    """The course's own name: the run of capitalised words its texts write most often.

    >>> course_name(["The Certified MLOps Architect exam.", "Certified MLOps Architect levels."])
    'Certified MLOps Architect'
    """
    runs = Counter(m.group(0) for text in texts for m in _NAME_RUN.finditer(text))
    return max(runs, key=lambda run: (runs[run], -len(run)), default=None)


class EntityLexicon:
    """Named things of the course (levels, tracks, paths, roles, providers) in sibling groups.

    Sibling headings (e.g. the learning paths under "Learning paths") form a group; a
    follow-up that names another member of a group asks the previous question about it.

    The first cell of each table row names a thing too (a role, a track), and the rows of
    one table form a group: "and for a platform engineer?" after a question about the SRE
    role asks the same of the Platform Engineer row.

    Args:
        sections: Heading paths of the indexed chunks, `A > B > C`.
        rows: `(section, first cell value)` of table rows.
        course: The course's own name (`course_name`), if known.
    """

    def __init__(
        self,
        sections: Iterable[str],
        rows: Iterable[tuple[str, str]] = (),
        course: str | None = None,
    ) -> None:
        self.course = course
        sections = list(sections)
        groups: dict[str, set[str]] = {}
        for section in sections:
            parts = section.split(" > ")
            if len(parts) >= 2 and _names_a_thing(parts[-1], len(parts)):
                groups.setdefault(" > ".join(parts[:-1]), set()).add(parts[-1])
        for section, name in rows:
            groups.setdefault(f"{section} (rows)", set()).add(name)
        self.entities: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.parts: dict[str, list[tuple[str, ...]]] = {}  # entity -> key terms of sub-headings
        for section in sections:
            parts = section.split(" > ")
            if len(parts) >= 3:
                key = tuple(terms(parts[-1]))
                if key:
                    self.parts.setdefault(parts[-2], []).append(key)
        self.entities_by_group: list[tuple[str, str, tuple[str, ...]]] = []
        self.groups: dict[str, list[str]] = {}  # kind term ("provid") -> heading paths of groups
        self.headings: dict[str, list[str]] = {}  # any other telling word of a group's heading
        for parent in groups:
            heading = parent.removesuffix(" (rows)").split(" > ")[-1]
            path = parent.removesuffix(" (rows)")
            if (head := terms(heading)[-1:]) and path not in self.groups.get(head[0], []):
                self.groups.setdefault(head[0], []).append(path)
            for term in (set(terms(heading)) | _name_ending(groups[parent])) - _GENERIC - set(head):
                if path not in self.headings.get(term, []):
                    self.headings.setdefault(term, []).append(path)
        for parent, names in groups.items():
            for name in sorted(names):
                key = _key(name)
                if key:
                    self.entities.setdefault(name, (parent, key))
                    self.entities_by_group.append((name, parent, key))
        self._name_words = {
            w.lower() for name, _, _ in self.entities_by_group for w in _simplify(name).split()
        }
        self._first_words = {  # name -> its first word, for `shortened`
            name: _simplify(name).split()[0].lower() for name, _, _ in self.entities_by_group
        }

    def subjects(self, text: str) -> tuple[tuple[str, ...], ...]:
        """Key terms of the named things a text mentions (for question analysis)."""
        named = set(self.mentions(text))
        keys = {key for name, group, key in self.entities_by_group if (name, group) in named}
        return tuple(sorted(keys))

    def kinds(self, text: str, listing: bool = False) -> tuple[tuple[str, str], ...]:
        """The kinds of named thing a text asks for, as `(term, group heading path)`:
        "which training provider..." asks for one of the providers, "how many tracks" for
        tracks. A kind counts when its word (the last of its group's heading) comes within
        two words after which, what, any or how many; after "who", or for a word that is not
        the heading's last, any telling word of the heading counts ("who trains people for
        the SRE path?", "which training place...": the training providers). A question
        `listing` things asks for the kind it names anywhere ("list every track").

        >>> lexicon = EntityLexicon(["G > Training providers > Sreschool", "G > Paths > SRE path"])
        >>> lexicon.kinds("which provider covers cost"), lexicon.kinds("is it hard")
        ((('provid', 'G > Training providers'),), ())
        >>> lexicon.kinds("who trains people for it")
        (('train', 'G > Training providers'),)
        >>> lexicon.kinds("learning paths list", listing=True)
        (('path', 'G > Paths'),)
        >>> lexicon.kinds("do any of the training places do that")
        (('train', 'G > Training providers'),)
        >>> lexicon.kinds("who would i train with for that")
        (('train', 'G > Training providers'),)
        """
        asked = {term for match in _KIND_ASKED.finditer(text) for term in terms(match.group(1))}
        if listing:
            asked |= {term for term in terms(text) if term in self.groups}
        found = [(term, group) for term in sorted(asked) for group in self.groups.get(term, [])]
        for term in sorted(asked):
            for group in self.headings.get(term, []):
                if (term, group) not in found and not any(g == group for _, g in found):
                    found.append((term, group))
        return tuple(found)

    def shortened(self, word: str) -> str | None:
        """The one named thing whose name starts with a word that shortens its first word
        ("pro": the Professional level), or None.

        >>> lexicon = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Pro level"])
        >>> lexicon.shortened("found"), lexicon.shortened("fo"), lexicon.shortened("gold")
        ('Foundation level', None, None)
        >>> EntityLexicon(["S > Paths > SRE path", "S > Schools > Sreschool"]).shortened("sre")
        """
        word = word.lower()
        if len(word) < 3:
            return None
        if word in self._name_words:  # a name in full ("SRE", "DevSecOps"), not a short one
            return None
        names = {
            name
            for name, first in self._first_words.items()
            if first.startswith(word) and first != word
        }
        return names.pop() if len(names) == 1 else None

    def asks_about_part(self, text: str, names: Iterable[str]) -> bool:
        """Whether a text names a sub-heading of one of the named things ("common mistakes")."""
        words = set(terms(text))
        return any(set(key) <= words for name in names for key in self.parts.get(name, []))

    def mentions(self, text: str, exact_case: bool = False) -> list[tuple[str, str]]:
        """`(entity, group)` pairs named in a text, in the order they first appear.

        A name may stand in several groups (SRE the path and SRE the role); each counts.

        Args:
            text: The text.
            exact_case: Count a name only where its first word is written as the course
                writes it, so "professionals" in an answer is not the Professional level.
        """
        words = terms(text)
        found: list[tuple[int, str, str]] = []
        keys: list[tuple[str, ...]] = []
        for name, group, key in sorted(self.entities_by_group, key=lambda e: -len(e[2])):
            at = _find(words, key)
            inside_longer = any(len(k) > len(key) and _find(k, key) >= 0 for k in keys)
            if at < 0 or inside_longer or (exact_case and not _written_as(name, text)):
                continue
            found.append((at, name, group))
            keys.append(key)
        return [(name, group) for _, name, group in sorted(found)]


# "what comes after it", "the next one", "then what": the thing after the one talked about
_NEXT = re.compile(
    r"\b(?:comes?|coming|is|goes|do\s+i\s+do|should\s+i\s+do)\s+(?:right\s+|just\s+)?"
    r"(?:after|next)\b|\bnext\s+(?:one|level|track|path|step|stage)\b|\bafter\s+(?:it|that|this)\b"
    r"|\bthen\s+what\b|\bwhat'?s?\s+next\b",
    re.IGNORECASE,
)


def asks_next(question: str) -> bool:
    """Whether a question asks what comes after the thing talked about.

    >>> asks_next("ok and what comes after it?"), asks_next("whats the next track after it")
    (True, True)
    >>> asks_next("ok say im done with that, then what"), asks_next("what comes in the exam")
    (True, False)
    """
    return _NEXT.search(question) is not None


def course_orders(texts: Iterable[str], lexicon: EntityLexicon) -> dict[str, list[str]]:
    """For each group of named things, the longest run of its members that one course text
    names in order ("three primary levels: Foundation, Professional and Advanced"): the order
    the course gives them, from its own words rather than its headings.

    >>> lex = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Pro level",
    ...                      "S > Levels > Top level"])
    >>> course_orders(["Start at Foundation, then Pro, then Top."], lex)
    {'S > Levels': ['Foundation level', 'Pro level', 'Top level']}
    """
    orders: dict[str, list[str]] = {}
    for text in texts:
        named: dict[str, list[str]] = {}
        for name, group in lexicon.mentions(text):
            named.setdefault(group, []).append(name)
        for group, names in named.items():
            if len(names) >= 3 and len(names) > len(orders.get(group, [])):
                orders[group] = names
    return orders


def course_pairs(texts: Iterable[str], lexicon: EntityLexicon) -> dict[str, dict[str, set[str]]]:
    """For each group of named things, each member's partners: the other member of a course
    text that names exactly two of the group ("two tracks: Data Automation and Quality
    Control"), so that "the other one" has an answer where no answer listed both.

    >>> lex = EntityLexicon(["S > Tracks > Data track", "S > Tracks > Quality track",
    ...                      "S > Tracks > Core track"])
    >>> course_pairs(["The middle level has two: Data track and Quality track."], lex)
    {'S > Tracks': {'Data track': {'Quality track'}, 'Quality track': {'Data track'}}}
    """
    pairs: dict[str, dict[str, set[str]]] = {}
    for text in texts:
        named: dict[str, list[str]] = {}
        for name, group in lexicon.mentions(text):
            if name not in named.setdefault(group, []):
                named[group].append(name)
        for group, names in named.items():
            if len(names) == 2:
                first, second = names
                pairs.setdefault(group, {}).setdefault(first, set()).add(second)
                pairs[group].setdefault(second, set()).add(first)
    return pairs


def asks_other(question: str) -> bool:
    """Whether a follow-up asks for "the other one" ("and the other track at that level?")."""
    pointer = _ordinal(question)
    return pointer is not None and pointer[0] == _OTHER


def other_of_pair(
    query: str, last: str, lexicon: EntityLexicon, pairs: dict[str, dict[str, set[str]]]
) -> str:
    """A follow-up's query about "the other one" with the thing it borrowed from the `last`
    question (by each name it goes by) replaced by that thing's only partner in the course's
    texts (`course_pairs`); the query as it was when the thing has no partner, or several.

    >>> lex = EntityLexicon(["S > Tracks > Data track", "S > Tracks > Quality track"])
    >>> pairs = {"S > Tracks": {"Data track": {"Quality track"}}}
    >>> other_of_pair("and the other one? (Data track)", "about the data track", lex, pairs)
    'and the other one? (Quality track)'
    """
    taken = {name for name, _ in lexicon.mentions(last)}
    for name, group in lexicon.mentions(query):  # each name it goes by: heading, table row
        partners = pairs.get(group, {}).get(name, set())
        if name in taken and len(partners) == 1:
            query = _replace(query, name, next(iter(partners)))
    return query


def next_in_order(query: str, lexicon: EntityLexicon, orders: dict[str, list[str]]) -> str:
    """A follow-up's query about the thing after the one it borrowed ("ok and what comes after
    it? (Foundation level)": the Professional level), by the course's own order; the query
    as it was when that thing is last or in no order.

    >>> lex = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Pro level"])
    >>> orders = {"S > Levels": ["Foundation level", "Pro level"]}
    >>> next_in_order("what comes after it? (Foundation level)", lex, orders)
    'what comes after it? (Pro level)'
    """
    for name, group in reversed(lexicon.mentions(query)):
        order = orders.get(group, [])
        if name in order and order.index(name) + 1 < len(order):
            return _replace(query, name, order[order.index(name) + 1])
    return query


def standalone_query(
    question: str,
    history: Sequence[Turn],
    lexicon: EntityLexicon,
    closest: Closest | None = None,
    named_as: str | None = None,
) -> str:
    """The question made self-contained using the previous user turns.

    A question that stands alone is returned as is (the first question of a conversation
    costs nothing). A dependent one ("how long does it take?", "what about DevSecOps?",
    or "what are the common mistakes?" when the last question named a level that has them)
    takes the subject of the last turn: if it names a sibling of something the last
    question named, it replaces it; otherwise the things the last question named (or, if
    it named none, the first thing the last answer named) are added; a question with too
    few words of its own borrows the last question's words. "The money one" after a list
    is the listed thing `closest` finds nearest in meaning to "money"; after an answer that
    lists none, "the security one" is the sibling of the last question's thing that `closest`
    finds nearest ("what does the SRE path teach?", then the DevSecOps path). `named_as` is
    the question with the learner's names for things written as the course's ("and the middle
    one?": "and the Professional level?"), used once no position in a list was pointed at.

    >>> lex = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Professional level"])
    >>> history = [Turn("user", "Tell me about the Foundation level")]
    >>> standalone_query("how long does it take?", history, lex)
    'how long does it take? (Foundation level)'
    """
    previous = [t.content for t in history if t.role == "user"]
    if not previous:
        return question
    last = previous[-1]
    answers = [t.content for t in history if t.role == "assistant"]
    named_in_answer = lexicon.mentions(answers[-1], exact_case=True) if answers else []
    pointer = _ordinal(question)
    pointed = _pointed_at(pointer, answers, last, lexicon) if pointer is not None else None
    if pointed is not None:
        return f"{question} ({_simplify(pointed)})"
    named_before = lexicon.mentions(last)
    named_now = lexicon.mentions(question)
    word = _described(question)
    if closest is not None and word and not named_now:
        listed = _listed(answers, lexicon)
        # "the security one" after the SRE path: a sibling, unless it is the SRE path itself
        # or the question points back at it ("is that the central one?")
        if len(listed) < 2 and named_before and not _POINTS_BACK.search(question):
            listed = named_before + _siblings(named_before, lexicon)
        meant = closest(word, listed) if len(listed) >= 2 else None
        if meant is not None and meant not in {name for name, _ in named_before}:
            return f"{question} ({_simplify(meant)})"
    groups_before = {group for _, group in named_before}
    # "which of those": all it listed; not "which ones should an eng manager do", a sibling
    sibling_named = any(group in groups_before for _, group in named_now)
    if _AMONG.search(question) and len(named_in_answer) > 1 and not sibling_named:
        return f"{question} ({', '.join(_simplify(n) for n, _ in named_in_answer)})"
    # "and for the middle one?" after the entry level: a sibling named in the learner's words
    question_named = question
    if named_as and not named_now:
        siblings = [n for n in lexicon.mentions(named_as) if n[1] in groups_before]
        if siblings:
            question_named, named_now = named_as, siblings
    if not named_before and (lexicon.kinds(last) or _ASKS_WHICH.search(last)):
        named_before = named_in_answer[:1]  # "which track covers lineage?": the answer's one
    part_of_last = not named_now and lexicon.asks_about_part(question, (n for n, _ in named_before))
    if not part_of_last and not is_dependent(question, lexicon):
        return question
    swapped = _swapped_topic(question, last)  # "and for config management?": a new topic
    if swapped and not any(group in groups_before for _, group in named_now):
        return swapped
    if named_now:
        for name, group in named_now:
            for old, old_group in named_before:
                if old_group == group and old != name:
                    if _COMPARING.search(question):  # "how's it different from X?"
                        return f"{_simplify(old)} vs {_simplify(name)}: {question}"
                    return _replace(last, old, name)
        own = [
            t
            for t in terms(question_named)
            if not any(t in key for _, _, key in _keys(lexicon, named_now))
        ]
        # "and just the foundation one?": the same question; "how's that diff from X" is not
        if not named_before and len(own) <= 1 and not _COMPARING.search(question):
            return f"{last} ({', '.join(_simplify(n) for n, _ in named_now)})"
        return question
    context = [name for name, _ in named_before]
    if not context and len(previous) > 1:
        context = [name for name, _ in lexicon.mentions(previous[-2])]
    if context:
        return f"{question} ({', '.join(context)})"
    if len(terms(question)) <= 2:  # too little to search on: borrow the last question's subject
        return f"{question} ({_subject(last)})"
    return question


def in_full(question: str, lexicon: EntityLexicon) -> str:
    """The question with "the X one" written as the named thing X shortens ("and the pro
    one?": "and the Professional level?"), so it names it as the course does.

    >>> lexicon = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Pro level"])
    >>> in_full("and the found one?", lexicon), in_full("and the money one?", lexicon)
    ('and the Foundation level?', 'and the money one?')
    """
    word = _described(question)
    if word and not lexicon.mentions(question) and (name := lexicon.shortened(word)):
        return _DESCRIBED.sub(f"the {_simplify(name)}", question, count=1)
    return question


def shortened_names(text: str, lexicon: EntityLexicon, known: Callable[[str], bool]) -> str:
    """The text with each word the course never uses that shortens exactly one named thing's
    first word written as that thing ("pro vs architect": "Professional level vs architect").

    >>> lexicon = EntityLexicon(["S > Levels > Foundation level", "S > Levels > Pro level"])
    >>> shortened_names("found vs pro", lexicon, lambda word: word == "pro")
    'Foundation level vs pro'
    >>> shortened_names("found-ish", lexicon, lambda word: False)
    'found-ish'
    """

    def written(match: re.Match[str]) -> str:
        word = match.group(0)
        if known(word) or (name := lexicon.shortened(word)) is None:
            return word
        return _simplify(name)

    return re.sub(r"(?<![\w-])[a-zA-Z]{3,}(?![\w-])", written, text)  # not "Cross" of "Cross-track"


def own_words(question: str, query: str) -> str:
    """A follow-up's own words, to judge whether the course answers it. A place in a list
    ("the middle one") is a way of naming: it stands for the thing named there, which the
    query adds after the question; "middle" or "third" is nothing the course must talk
    about. "That one" is a pronoun, like "it", and is dropped.

    >>> own_words("and the 2nd option?", "and the 2nd option? (Cotocus)")
    'and Cotocus ?'
    >>> own_words("who teaches that one", "who teaches that one (SRE path)")
    'who teaches'
    """
    pointer = _ordinal(question)
    if pointer is None:
        described = _DESCRIBED.search(question)
        if not (described and _described(question) and query.startswith(f"{question} (")):
            return question
        pointed = query[len(question) :].strip(" ()")  # "the money one": the FinOps path
        return " ".join(
            f"{question[: described.start()]} {pointed} {question[described.end() :]}".split()
        )
    pointed = query[len(question) :].strip(" ()") if query.startswith(question) else ""
    if pointer[0] == _THAT:  # "that one", "this track"
        pointed = ""
    return " ".join(_ORDINAL.sub(f" {pointed} ", question).split())


def is_generic(term: str) -> bool:
    """Whether a term is one of the course's generic words ("level", "track", "certification")."""
    return term in _GENERIC


def is_dependent(question: str, lexicon: EntityLexicon) -> bool:
    """Whether a question leans on earlier turns: pronouns, "what about", one bare word, or
    a topic pointed back at ("is there a school that teaches that side of things").

    >>> lex = EntityLexicon(["G > Paths > SRE path"])
    >>> is_dependent("is there a training school that teaches that side of things", lex)
    True
    >>> is_dependent("is there a training school that teaches security checks for pipelines", lex)
    False
    """
    content = terms(question)
    if _DEPENDENT.search(question) and len(content) <= 5 or _POINTED_TOPIC.search(question):
        return True
    names_something = re.search(r"\b\w*[A-Z]\w*[A-Z]\w*\b", question) is not None  # DVC, SLOs
    telling = [t for t in content if t not in _GENERIC and t not in _ASIDE]  # "at what level tho"
    return len(telling) <= 1 and not names_something and not lexicon.mentions(question)


def _keys(
    lexicon: EntityLexicon, named: list[tuple[str, str]]
) -> list[tuple[str, str, tuple[str, ...]]]:
    """The lexicon entries of the named things."""
    wanted = set(named)
    return [e for e in lexicon.entities_by_group if (e[0], e[1]) in wanted]


def _key(name: str) -> tuple[str, ...]:
    """The terms that name a thing in a text: its own, without a generic word at either end
    ("SRE path" -> ("sre",)); one inside stays ("Cross-track expansion")."""
    key = list(terms(_simplify(name)))
    while key and key[0] in _GENERIC:
        key.pop(0)
    while key and key[-1] in _GENERIC:
        key.pop()
    return tuple(key)


def _ordinal(question: str) -> tuple[int, str] | None:
    """Position a question points at in the last answer's list, and the kind of thing it
    names there, if any ("the third one" -> (2, ""), "that track" -> (_THAT, "track"))."""
    match = _ORDINAL.search(question)
    if not match:
        return None
    word, kind = match.group(1).lower(), match.group(2).lower()
    kind = "" if kind in ("one", "option") or kind.startswith("of") else kind
    kind = "level" if kind == "tier" else kind
    position = _ORDINALS[word]
    if position is None:
        return {"middle": _MIDDLE, "other": _OTHER}.get(word, _THAT), kind
    if word in _RANKED:  # "the top one": of the levels
        return position, "level"
    return position, kind


def _pointed_at(
    pointer: tuple[int, str], answers: Sequence[str], last: str, lexicon: EntityLexicon
) -> str | None:
    """The thing "the second one", "the middle one" or "that one" points at.

    "That one" is the last thing the latest answer named that the learner had not. A
    position counts in the newest answer that lists enough things of one kind, however it
    wrote the names: after "the providers are A, B, C…" and "A does …", "and the third
    one?" still means C.
    """
    if not answers:
        return None
    position, kind = pointer
    if position == _THAT:
        named = _one_kind(lexicon.mentions(answers[-1], exact_case=True), kind)
        asked = {n for n, _ in lexicon.mentions(last)}
        return ([n for n in named if n not in asked][-1:] or named[-1:] or [None])[0]
    if position == _OTHER:  # "Two: A and B", "who is the first one for", "A is for...": B
        taken = {n for n, _ in lexicon.mentions(f"{last} {answers[-1]}")}
        for answer in reversed(answers[:-1]):
            listed = _one_kind(lexicon.mentions(answer, exact_case=True), kind)
            left = [n for n in dict.fromkeys(listed) if n not in taken]
            if len(listed) >= 2 and taken & set(listed):
                return left[0] if len(left) == 1 else None
        return None
    for answer in reversed(answers):  # none before the first answer
        listed = _one_kind(lexicon.mentions(answer, exact_case=True), kind)
        if len(listed) < 2:  # a list written in lower case
            listed = _one_kind(lexicon.mentions(answer), kind) or listed
        if kind == "level" and not any("level" in name.lower() for name in listed):
            continue  # "the top one", "the second level": a place among levels only
        at = len(listed) // 2 if position == _MIDDLE and len(listed) % 2 else position
        if len(listed) >= 2 and at != _MIDDLE and -len(listed) <= at < len(listed):
            return listed[at]
    return None


def _described(question: str) -> str | None:
    """The word "the money one" names a listed thing by, if it describes one.

    >>> _described("whats the money one about"), _described("and the same one?")
    ('money', None)
    >>> _described("and the one about money?"), _described("the one with the most labs")
    ('money', None)
    """
    match = _DESCRIBED.search(question)
    if match is None:
        return None
    word = (match.group(1) or match.group(2)).lower()
    if word in _ORDINALS or word in _NOT_DESCRIBING or is_stopword(word):
        return None
    return word


def _listed(answers: Sequence[str], lexicon: EntityLexicon) -> list[tuple[str, str]]:
    """The things of one kind the newest answer that lists two or more named, in order."""
    for answer in reversed(answers):
        for exact_case in (True, False):  # a list written in lower case
            named = lexicon.mentions(answer, exact_case=exact_case)
            names = _one_kind(named)
            if len(names) >= 2:
                return [(n, g) for n, g in dict.fromkeys(named) if n in names]
    return []


# what a comparison's side is called when it is named by what it is about ("the money path",
# "the security one", "the reliability route")
_SIDE_KIND = r"(?:one|option|path|paths|route|routes|track|tracks|stream|streams|level|levels)"


def sides_by_meaning(
    question: str, sides: Sequence[str], lexicon: EntityLexicon, closest: Closest
) -> tuple[str, ...]:
    """A comparison's sides, each that names no thing but describes one ("the money path",
    "the security one") replaced by the thing `closest` finds nearest in meaning to its words:
    among the siblings of what the other side names ("devops route vs the security one": the
    paths other than DevOps), else among the kind the side says ("data path vs the money
    path": the paths). A side is taken for a description only where the question calls it
    "one", "option" or a kind ("the money *path*"): "devops path or self study" keeps its
    second side, and "the leadership track" is a name said in part, not a description.

    >>> lex = EntityLexicon(["G > Paths > DevOps path", "G > Paths > DevSecOps path",
    ...                      "G > Paths > FinOps path"])
    >>> near = lambda word, named: {"security": "DevSecOps path", "money": "FinOps path"}.get(word)
    >>> sides = ["devops route", "security"]
    >>> sides_by_meaning("devops route vs the security one", sides, lex, near)
    ('devops route', 'DevSecOps path')
    >>> sides_by_meaning("devops path or self study", ["devops path", "self study"], lex, near)
    ('devops path', 'self study')
    """
    named = [lexicon.mentions(side) for side in sides]
    resolved = list(sides)
    for at, side in enumerate(sides):
        pattern = rf"\b{re.escape(side)}(?:\s+{_SIDE_KIND})?\b"
        said = re.search(pattern, question, re.IGNORECASE)
        if named[at] or said is None or not re.search(rf"\b{_SIDE_KIND}\b", said.group(0)):
            continue
        described = " ".join(
            w for w in side.split() if not re.fullmatch(_SIDE_KIND, w, re.IGNORECASE)
        )
        if any(  # "the leadership track": a name said in part, not a description
            term in key
            for term in terms(described)
            for _, group, key in lexicon.entities_by_group
            if not group.endswith(" (rows)")
        ):
            continue
        others = [n for i, names in enumerate(named) if i != at for n in names]
        groups = [group for _, group in lexicon.kinds(side, listing=True)]
        among = (
            _siblings(others, lexicon)
            if others
            else [(n, g) for n, g, _ in lexicon.entities_by_group if g in groups]
        )
        meant = closest(described, among) if described and len(among) >= 2 else None
        if meant is not None and meant not in {n for n, _ in others}:
            resolved[at] = _simplify(meant)
    return tuple(resolved)


_AND_PREPOSITION = re.compile(
    r"^\W*(?:and|&|n|but|ok|so|what\s+about|how\s+about)\s+(?:and\s+)?"
    r"(for|about|with|in|on|from)\s+(\S.*?)[\s?.!]*$",
    re.IGNORECASE,
)


def _swapped_topic(question: str, last: str) -> str | None:
    """For "and for X?" after a question that asked something "for Y": that question asked
    for X instead, or None ("which provider for containers", then "and for config management
    stuff": "which provider for config management stuff").

    >>> _swapped_topic("and for config management stuff", "which provider for containers n k8s")
    'which provider for config management stuff'
    >>> _swapped_topic("and for beginners?", "is it hard"), _swapped_topic("for real?", "is it")
    (None, None)
    """
    match = _AND_PREPOSITION.match(question)
    if match is None:
        return None
    preposition, topic = match.group(1).lower(), match.group(2)
    at = [m.start() for m in re.finditer(rf"\b{preposition}\b", last, re.IGNORECASE)]
    if not at:
        return None
    return f"{last[: at[-1]]}{preposition} {topic}"


def _siblings(named: Sequence[tuple[str, str]], lexicon: EntityLexicon) -> list[tuple[str, str]]:
    """The other members of the groups of the named things ("SRE path": the other paths)."""
    groups = {group for _, group in named}
    return [
        (name, group)
        for name, group, _ in lexicon.entities_by_group
        if group in groups and (name, group) not in named
    ]


def _one_kind(named: Sequence[tuple[str, str]], kind: str = "") -> list[str]:
    """The names of the kind asked for ("that *track*"), else of the kind named most often
    (a list of paths, not the level beside it; the first named of two as common)."""
    of_kind = [(n, g) for n, g in named if kind and kind.lower() in f"{n} {g}".lower()]
    groups = [g for _, g in of_kind or named]
    group = max(dict.fromkeys(groups), key=groups.count, default=None)
    return [n for n, g in named if g == group]


def _written_as(name: str, text: str) -> bool:
    """Whether the first word of a name appears in the text written with its own case."""
    first = _simplify(name).split()[0]
    return re.search(rf"(?<!\w){re.escape(first)}(?!\w)", text) is not None


def _subject(question: str) -> str:
    """What a question is about, without its asking words: "how long does the Foundation
    level take?" -> "long Foundation level take"."""
    words = [w.strip("?,.!") for w in question.split()]
    kept = [w for w in words if w and not _ASKING_WORDS.fullmatch(w)]
    return " ".join(kept) or question


def _names_a_thing(heading: str, depth: int) -> bool:
    """Whether a heading names a level, track, path or a proper noun, not a topic."""
    if heading.endswith("?"):
        return False
    if re.search(r"\b(level|path|track)\b", heading, re.IGNORECASE):
        return True
    words = _simplify(heading).split()
    mixed_case = any(sum(c.isupper() for c in w) >= 2 for w in words)
    capitalised = any(w[:1].isupper() for w in words[1:])
    single_name = len(words) == 1 and words[0][:1].isupper() and depth >= 3
    return mixed_case or capitalised or single_name


def _replace(text: str, old: str, new: str) -> str:
    pattern = re.compile(re.escape(_simplify(old)), re.IGNORECASE)
    if pattern.search(text):
        return pattern.sub(_simplify(new), text, count=1)
    return f"{text} ({new})"


def _simplify(name: str) -> str:
    """A heading without its bracketed aside: "Advanced (Architect) level" -> "Advanced level"."""
    return " ".join(re.sub(r"\([^)]*\)", "", name).split())


def _find(words: Sequence[str], key: Sequence[str]) -> int:
    """Position of `key` as a run inside `words`, or -1."""
    n = len(key)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) == tuple(key):
            return i
    return -1
