"""The evaluation cases: the dev and test splits, loading a file and checking every line."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cert_core.errors import CertAssistantError

HERE = Path(__file__).resolve().parent
# dev: to tune and train on. test: frozen, never used for tuning, only to measure.
SPLITS = {"dev": HERE / "dev.jsonl", "test": HERE / "test.jsonl"}
FIELDS = ("id", "category", "question", "history", "expected_sections", "facts", "refuse")


class DatasetError(CertAssistantError):
    """A dataset file cannot be read, or one of its cases is malformed."""


@dataclass(frozen=True)
class Section:
    """A course section that answers a case: a file and the anchor of a heading in it."""

    source: str
    anchor: str

    @property
    def doc_id(self) -> str:
        """The id retrieval is judged by, `source#anchor`.

        >>> Section("knowledge/faq.md", "renewal").doc_id
        'knowledge/faq.md#renewal'
        """
        return f"{self.source}#{self.anchor}"


@dataclass(frozen=True)
class Case:
    """One question of the evaluation set, with what a correct reply contains."""

    id: str
    category: str
    question: str
    history: tuple[dict[str, str], ...]
    expected_sections: tuple[Section, ...]
    facts: tuple[str, ...]
    refuse: bool


@dataclass(frozen=True)
class Split:
    """A named set of cases evaluated and reported together.

    Attributes:
        name: `dev`, `test`, or the stem of a file given with `--dataset`.
        path: The file the cases were read from.
        cases: The cases, in file order.
    """

    name: str
    path: Path
    cases: tuple[Case, ...]


def load_split(path: Path, name: str | None = None) -> Split:
    """Read one case file as a split, named after the file's stem unless a name is given.

    Args:
        path: The `.jsonl` file (format: `evals/DATASET.md`).
        name: The split's name; `mine.jsonl` is the split `mine` when None.

    Raises:
        DatasetError: As for `load_dataset`.
    """
    return Split(name or Path(path).stem, Path(path), tuple(load_dataset(path)))


def load_splits(names: Sequence[str] = tuple(SPLITS)) -> list[Split]:
    """The shipped splits by name (`SPLITS`), in the order given.

    Raises:
        DatasetError: A name is not a split, or its file is unreadable or malformed.
    """
    unknown = [n for n in names if n not in SPLITS]
    if unknown:
        raise DatasetError(f"Unknown split {unknown[0]!r}; choose from {', '.join(SPLITS)}.")
    return [load_split(SPLITS[name], name) for name in dict.fromkeys(names)]


def load_dataset(path: Path) -> list[Case]:
    """Read and check a JSONL file of cases (format: `evals/DATASET.md`).

    Args:
        path: The `.jsonl` file; blank lines are skipped.

    Returns:
        The cases, in file order.

    Raises:
        DatasetError: The file is unreadable, empty, or a line is malformed; the message
            names the file, the line and the field.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"Cannot read the dataset {path}: {error}") from error
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = parse_case(line)
        except ValueError as error:
            raise DatasetError(f"{path}, line {number}: {error}") from None
        if case.id in seen:
            raise DatasetError(
                f"{path}, line {number}: field 'id': {case.id!r} is already used on line "
                f"{seen[case.id]}"
            )
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise DatasetError(f"The dataset {path} has no cases.")
    return cases


def parse_case(line: str) -> Case:
    """One case from one JSON line.

    Raises:
        ValueError: The line is not a well-formed case; the message names the field.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("a case must be a JSON object")
    missing = [f for f in FIELDS if f not in record]
    unknown = sorted(set(record) - set(FIELDS))
    if missing:
        raise ValueError(f"field {missing[0]!r} is missing")
    if unknown:
        raise ValueError(f"field {unknown[0]!r} is unknown (expected: {', '.join(FIELDS)})")
    refuse = record["refuse"]
    if not isinstance(refuse, bool):
        raise ValueError("field 'refuse': must be true or false")
    sections = tuple(_section(s, i) for i, s in enumerate(_list(record, "expected_sections")))
    facts = tuple(_fact(f, i) for i, f in enumerate(_list(record, "facts")))
    if refuse and (sections or facts):
        raise ValueError("field 'expected_sections'/'facts': must be empty when refuse is true")
    if not refuse and not sections:
        raise ValueError("field 'expected_sections': needs at least one section to answer from")
    if not refuse and not facts:
        raise ValueError("field 'facts': needs at least one fact the answer must contain")
    return Case(
        id=_text(record, "id"),
        category=_text(record, "category"),
        question=_text(record, "question"),
        history=_history(_list(record, "history")),
        expected_sections=sections,
        facts=facts,
        refuse=refuse,
    )


def _text(record: dict[str, Any], field: str) -> str:
    value = record[field]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {field!r}: must be non-empty text")
    return value


def _list(record: dict[str, Any], field: str) -> list[Any]:
    value = record[field]
    if not isinstance(value, list):
        raise ValueError(f"field {field!r}: must be a list")
    return value


def _section(value: Any, index: int) -> Section:
    where = f"field 'expected_sections[{index}]'"
    if not isinstance(value, dict) or set(value) != {"source", "anchor"}:
        raise ValueError(f'{where}: must be {{"source": ..., "anchor": ...}}')
    if not all(isinstance(v, str) and v for v in value.values()):
        raise ValueError(f"{where}: source and anchor must be non-empty text")
    return Section(value["source"], value["anchor"])


def _fact(value: Any, index: int) -> str:
    where = f"field 'facts[{index}]'"
    if not isinstance(value, str) or not value.strip() or value == "re:":
        raise ValueError(f"{where}: must be non-empty text")
    if value.startswith("re:"):
        try:
            re.compile(value[3:])
        except re.error as error:
            raise ValueError(f"{where}: bad regular expression ({error})") from None
    return value


def _history(turns: list[Any]) -> tuple[dict[str, str], ...]:
    for index, turn in enumerate(turns):
        role = "user" if index % 2 == 0 else "assistant"
        where = f"field 'history[{index}]'"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise ValueError(f'{where}: must be {{"role": ..., "content": ...}}')
        if turn["role"] != role:
            raise ValueError(f"{where}: role must be {role!r} (turns go user, assistant, ...)")
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            raise ValueError(f"{where}: content must be non-empty text")
    if len(turns) % 2:
        raise ValueError("field 'history': must end with an assistant turn (user/assistant pairs)")
    return tuple(dict(turn) for turn in turns)


def knowledge_problems(cases: list[Case], knowledge: Path = Path("knowledge")) -> list[str]:
    """What in the cases does not match the knowledge base, one line a problem.

    Every expected section must exist, and every fact must be stated in at least one of
    them (a case about two sections may take one fact from each).

    Args:
        cases: Cases to check.
        knowledge: The knowledge folder as ingested.
    """
    from evals.metrics import fact_found
    from ingest import load_documents, split_documents

    texts: dict[tuple[str, str], str] = {}
    for chunk in split_documents(load_documents([knowledge]).documents):
        key = (chunk.source, chunk.anchor)
        texts[key] = texts.get(key, "") + "\n" + chunk.text
    problems = []
    for case in cases:
        found = []
        for section in case.expected_sections:
            text = texts.get((section.source, section.anchor))
            if text is None:
                problems.append(f"{case.id}: no section {section.doc_id}")
            else:
                found.append(text)
        problems += [
            f"{case.id}: fact {fact!r} is in none of its expected sections"
            for fact in case.facts
            if found and not any(fact_found(fact, text) for text in found)
        ]
    return problems


if __name__ == "__main__":  # python -m evals.dataset FILE... checks case files
    import sys

    found = []
    for name in sys.argv[1:]:
        try:
            found += knowledge_problems(load_dataset(Path(name)))
        except DatasetError as error:
            found.append(str(error))
    print("\n".join(found) or "all cases match the knowledge base")
    sys.exit(1 if found else 0)
