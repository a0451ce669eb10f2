"""What an evaluation run produces: one judged result per case, per retriever, per split.

The runner fills these in; the report, the gate and the comparison only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.metrics import case_accuracy


@dataclass
class CaseResult:
    """What one retriever's assistant did with one case, and how it was judged.

    Attributes:
        id: The case's id.
        category: The case's category.
        refuse: Whether the case should be refused.
        refused: Whether the assistant refused.
        answer: The answer text.
        query: The query the assistant searched with (a follow-up rewritten).
        ask_ms: Time to answer, in milliseconds.
        question: The learner's question.
        last_turn: The conversation's last turn before the question, `role: text`
            ("" for a fresh question).
        expected_sections: `source#anchor` ids of the sections that answer the case.
        facts: The facts a correct answer states.
        facts_in_answer: Per fact, whether the answer text states it.
        facts_in_quotes: Per fact, whether the quote of one of the answer's citations does.
        citations: Citations given.
        supported: Citations that are verbatim and support every sentence carrying them.
        sentences: Sentences of the answer.
        covered: Sentences backed by a verbatim, supporting citation.
        ranking: Retrieved `source#anchor` ids, best first (answerable cases only).
        retrieval_ms: Time to rank, in milliseconds (answerable cases only).
        retrieval: Retrieval metric → score for this case (answerable cases only).
    """

    id: str
    category: str
    refuse: bool
    refused: bool
    answer: str
    query: str
    ask_ms: float
    question: str = ""
    last_turn: str = ""
    expected_sections: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    facts_in_answer: list[bool] = field(default_factory=list)
    facts_in_quotes: list[bool] = field(default_factory=list)
    citations: int = 0
    supported: int = 0
    sentences: int = 0
    covered: int = 0
    ranking: list[str] = field(default_factory=list)
    retrieval_ms: float | None = None
    retrieval: dict[str, float] = field(default_factory=dict)

    @property
    def facts_found(self) -> list[bool]:
        """Per fact, whether it counts: stated in the answer and in a cited quote."""
        return [a and q for a, q in zip(self.facts_in_answer, self.facts_in_quotes, strict=True)]

    @property
    def accuracy(self) -> float:
        """1.0 when the case was handled right (see `evals.metrics.case_accuracy`), else 0.0."""
        return case_accuracy(self.refuse, self.refused, self.facts_found)


@dataclass
class Run:
    """Everything one evaluation produced, before it is summarised.

    Attributes:
        results: Split name → retriever name → one result per case, in case order.
        datasets: Split name → the file its cases came from.
        created_at: When the run started (ISO 8601, UTC).
        seconds: Wall time of the whole run.
    """

    results: dict[str, dict[str, list[CaseResult]]]
    datasets: dict[str, str]
    created_at: str
    seconds: float = 0.0
