"""Questions to ask next, offered under an answer: headings of the sections it cited and of the
sections around them, FAQ questions first, read from the index like the sidebar's contents."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval import Assistant

SEPARATOR = " > "  # between the headings of a chunk's section path
# Words that frame a question rather than name its subject: they make no heading related.
_FRAME = {
    "about", "also", "and", "any", "are", "can", "could", "does", "for", "from", "has", "have",
    "how", "into", "its", "more", "much", "not", "should", "tell", "than", "that", "the",
    "their", "there", "this", "what", "when", "where", "which", "who", "why", "will", "with",
    "would", "you", "your",
}  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


def follow_ups(
    cited: Sequence[str], sections: Iterable[str], asked: Iterable[str], count: int = 3
) -> list[str]:
    """Up to `count` questions that lead on from an answer, FAQ questions first.

    The candidates are the sections around the cited ones (their parent, their subsections
    and the sections under the same parent) and the FAQ questions (headings that end with
    "?") that name a cited heading ("Does the Foundation level have any prerequisites?" after
    "Syllabus > Foundation level > What it is"). A cited section has answered already, and a
    question the learner asked is not offered again. FAQ questions come first; within them
    and within the rest, subsections of a cited section lead (the answer gave the overview),
    then the candidates that share the rarest words with the question and the cited headings
    (a word weighs its inverse frequency among the headings). A heading that is not a
    question is offered as "Tell me about …", with its parent heading when it has one below
    the page title.

    Args:
        cited: Section paths ("Page > Section > Subsection") of the answer's citations.
        sections: Section paths of the index's chunks.
        asked: The learner's questions in this conversation, the latest last.
        count: Most questions returned.

    Returns:
        The questions, as a learner would type them.

    >>> index = [
    ...     "FAQ > Exams > Can the exam be taken online?", "FAQ > Exams > How hard is the exam?",
    ...     "FAQ > Costs > Are there discounts?", "Syllabus > Levels > Foundation level",
    ...     "Syllabus > Levels > Professional level", "FAQ > Levels > Is Foundation level hard?",
    ... ]
    >>> follow_ups(["FAQ > Exams > Can the exam be taken online?"], index, ["online exam?"])
    ['How hard is the exam?']
    >>> follow_ups(["Syllabus > Levels > Foundation level"], index, ["What is Foundation?"])
    ['Is Foundation level hard?', 'Tell me about Professional level (Levels)']
    """
    paths = list(dict.fromkeys(sections))
    asked = list(asked)
    cited_paths = list(dict.fromkeys(cited))
    weights = _weights(_heading(p) for p in paths)
    context = set(_words(asked[-1] if asked else ""))
    for path in cited_paths:
        context.update(w for heading in path.split(SEPARATOR)[1:] for w in _words(heading))
    parents = {_parent(p) for p in cited_paths if SEPARATOR in p}
    done = {_key(q) for q in asked}

    around = parents | set(cited_paths)  # siblings, children and parents of the cited
    candidates = [p for p in paths if _parent(p) in around or p in parents]
    names = {_key(h) for p in cited_paths for h in p.split(SEPARATOR)[1:] if not h.endswith("?")}
    candidates += [p for p in paths if _is_faq(p) and _names_any(_heading(p), names)]

    def shared(path: str) -> float:
        return sum(weights.get(w, 0.0) for w in context & set(_words(_heading(path))))

    fresh = (p for p in dict.fromkeys(candidates) if p not in cited_paths and SEPARATOR in p)
    ranked = sorted(
        fresh, key=lambda p: (not _is_faq(p), _parent(p) not in cited_paths, -shared(p), p)
    )
    questions = [_question(p) for p in ranked]
    return [q for q in dict.fromkeys(questions) if _key(q) not in done][:count]


def assistant_follow_ups(
    assistant: Assistant, cited: Sequence[str], asked: Iterable[str], count: int = 3
) -> list[str]:
    """`follow_ups` over the assistant's index as it is now."""
    chunks = assistant.retriever.lexical().index.chunks  # follows the active index generation
    return follow_ups(cited, (c.section for c in chunks), asked, count)


def _question(path: str) -> str:
    """A section as a question: a FAQ heading as it is, another as "Tell me about …".

    >>> _question("Syllabus > Foundation level > Who should take it")
    'Tell me about who should take it (Foundation level)'
    >>> _question("Course guide > Learning paths")
    'Tell me about Learning paths'
    """
    headings = path.split(SEPARATOR)
    if _is_faq(path):
        return headings[-1]
    name = headings[-1]
    if name.split(" ", 1)[0].casefold() in _FRAME:  # "who should take it", not "SRE path"
        name = name[0].lower() + name[1:]
    below_page = headings[1:-1]
    return f"Tell me about {name} ({below_page[-1]})" if below_page else f"Tell me about {name}"


def _weights(headings: Iterable[str]) -> dict[str, float]:
    """Each word's inverse frequency among the headings: rare words tell more."""
    counts = Counter(w for heading in headings for w in set(_words(heading)))
    total = sum(counts.values()) or 1
    return {w: math.log(1 + total / n) for w, n in counts.items()}


def _words(text: str) -> list[str]:
    """The words of a text that can name a subject, lower-cased, a plural's "s" dropped.

    >>> _words("Which levels does the exam cover?")
    ['level', 'exam', 'cover']
    """
    words = (w.casefold() for w in _WORD.findall(text))
    return [w[:-1] if w.endswith("s") and len(w) > 4 else w for w in words if _tells(w)]


def _tells(word: str) -> bool:
    return len(word) > 2 and word not in _FRAME


def _names_any(question: str, names: Iterable[str]) -> bool:
    """Whether a question names one of the headings (as `_key`s), as a whole phrase.

    >>> _names_any("Does the Foundation level have prerequisites?", ["foundation level"])
    True
    >>> _names_any("Is data lineage taught?", ["data automation track"])
    False
    """
    words = f" {_key(question)} "
    return any(name and f" {name} " in words for name in names)


def _key(question: str) -> str:
    """A question as compared with another: its words, lower-cased."""
    return " ".join(w.casefold() for w in _WORD.findall(question))


def _heading(path: str) -> str:
    return path.rsplit(SEPARATOR, 1)[-1]


def _parent(path: str) -> str:
    return path.rsplit(SEPARATOR, 1)[0] if SEPARATOR in path else ""


def _is_faq(path: str) -> bool:
    return _heading(path).rstrip().endswith("?")
