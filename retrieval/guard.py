"""Checks on what learners type: the limits of a question and its history, messages that ask
nothing (greetings, thanks, a lone symbol), requests for work rather than answers, and
prompt-injection attempts (`injection.py`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from cert_core.errors import QuestionError
from retrieval.types import Turn

_SMALL_TALK = {
    "greeting": r"hi|hello|hey|hiya|howdy|yo|greetings|good\s+(morning|afternoon|evening|day)"
    r"|hi\s+there|hello\s+there|hey\s+there",
    "thanks": r"(ok(ay)?,?\s+|great,?\s+|many\s+)?(thanks?(\s+(you|u))?|thx|ty|cheers)"
    r"(\s+(so|very)\s+much|\s+a\s+lot)?|ok(ay)?|cool|got\s+it|great|nice|perfect|alright",
    "goodbye": r"bye|goodbye|see\s+(you|ya)|cya|good\s*night",
}
_SMALL_TALK_MESSAGE = {
    kind: re.compile(rf"^\W*(?:{pattern})(?:\s+(?:bot|assistant|again))?[\W_]*$", re.IGNORECASE)
    for kind, pattern in _SMALL_TALK.items()
}
SmallTalk = Literal["greeting", "thanks", "goodbye", "nothing"]


def small_talk(text: str) -> SmallTalk | None:
    """What a message that asks no question is: a greeting, thanks (or "ok"), a goodbye, or
    `nothing` at all (no letter or digit: "?", an emoji, a zero-width space); None for a question.

    >>> small_talk("Hello!"), small_talk("thanks a lot"), small_talk("ok"), small_talk("bye")
    ('greeting', 'thanks', 'thanks', 'goodbye')
    >>> small_talk("?"), small_talk("\u200b"), small_talk("hi, how long is the exam?")
    ('nothing', 'nothing', None)
    """
    for kind, pattern in _SMALL_TALK_MESSAGE.items():
        if pattern.match(text):
            return kind  # type: ignore[return-value]  # the keys are the kinds
    if not any(c.isalnum() for c in text):
        return "nothing"
    return None


_TASK = re.compile(  # an order to the assistant to produce something, not a question
    r"^\W*(?:(?:hey|ok|so|pls|please)[\s,]+)*(?:(?:can|could|would|will)\s+(?:you|u)\s+"
    r"(?:please\s+|pls\s+)?)?(?:help\s+(?:me|us)\s+(?:to\s+)?)?"  # "help me write my letter"
    r"(?:write|generate|code|debug|draft|implement|translate)"
    r"(?:\s+(?:me|us|for\s+me))?\s+(?:a|an|the|my|our|some|this|that|up)?\b",
    re.IGNORECASE,
)


def task_request(text: str) -> bool:
    """Whether a message asks the assistant to do a piece of work (write code, draft a
    letter, debug a pipeline) rather than to answer about the course; it refuses those.

    >>> task_request("write me a dvc.yaml pipeline"), task_request("can u debug my DAG")
    (True, True)
    >>> task_request("help me write my resignation letter")
    True
    >>> task_request("do they teach how to write pipelines?"), task_request("is code covered")
    (False, False)
    """
    return _TASK.match(text) is not None


def check_question(question: Any, max_chars: int) -> str:
    """The question, stripped, or a `QuestionError` saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    question = question.strip()
    if not question:
        raise QuestionError("The question is empty: type a question about the course.")
    if len(question) > max_chars:
        raise QuestionError(
            f"The question is {len(question)} characters long; the limit is {max_chars}. "
            "Please shorten it.",
            too_large=True,
        )
    return question


def check_history(
    history: Iterable[Turn | Mapping[str, Any]] | None, max_turns: int, max_chars: int
) -> list[Turn]:
    """Conversation turns as `Turn`s, or a `QuestionError` naming the bad turn."""
    if history is None:
        history = []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise QuestionError("The history must be a list of {role, content} turns.", "history")
    turns: list[Turn] = []
    for number, turn in enumerate(history, start=1):
        if isinstance(turn, Mapping):
            role, content = turn.get("role"), turn.get("content")
        else:
            role, content = getattr(turn, "role", None), getattr(turn, "content", None)
        if role not in ("user", "assistant"):
            raise QuestionError(
                f"History turn {number}: role must be 'user' or 'assistant'.", "history"
            )
        if not isinstance(content, str):
            raise QuestionError(f"History turn {number}: content must be text.", "history")
        turns.append(Turn(role, content[: max_chars * 4]))
    if len(turns) > max_turns:
        raise QuestionError(
            f"The conversation has {len(turns)} turns; the limit is {max_turns}. "
            "Start a new conversation.",
            "history",
            too_large=True,
        )
    return turns
