"""The doctests of the pure helpers run and pass, so their examples stay true to the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

PURE_MODULES = [
    "retrieval.question",
    "retrieval.select",
    "retrieval.lexical",
    "retrieval.neighbours",
    "retrieval.answerability",
    "retrieval.followup",
    "retrieval.guard",
    "retrieval.injection",
    "retrieval.answer",
    "ingest.units",
    "ingest.versions",
    "ingest.pipeline",
    "evals.metrics",
    "evals.dataset",
]


@pytest.mark.parametrize("name", PURE_MODULES)
def test_doctests_pass(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, verbose=False, report=True)
    assert attempted > 0, f"{name} has no doctests left"
    assert failed == 0, f"{failed} of {attempted} doctests of {name} failed (see the output)"
