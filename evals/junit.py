"""A run as JUnit XML, so CI systems list failing questions (and gated metrics) by name.

One `<testsuite>` per split holds one `<testcase>` per eval case, named by its id and question;
a failing case carries a `<failure>` whose message says what was expected (section and facts)
against what was answered. With the gate, one more `<testsuite>` per split holds one testcase
per gated metric (its value against its minimum). Written with the standard library's
ElementTree: the JUnit schema is a handful of elements, and the maintained writers add nothing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING

from evals.failures import problems
from evals.gate import GATED, Shortfall, minimums_for
from evals.results import CaseResult
from evals.tables import format_value

if TYPE_CHECKING:
    from evals.flips import SplitChanges
    from evals.report import Report

MESSAGE_CHARS = 300  # of the answer in a failure message; the body has it whole
# XML 1.0 cannot carry most control characters, even escaped; an answer must not break the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def junit_xml(
    report: Report,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    changes: Mapping[str, SplitChanges] | None = None,
) -> str:
    """The report as a JUnit XML document.

    Args:
        report: This run's report; its hybrid results are written.
        thresholds: The gate's minimums (`evals.load_thresholds`); None: no metric testcases.
        changes: The comparison with a baseline, if any: a failing case is typed
            `newly-failing` when it passed there, else `failing`.

    Returns:
        The document, with an XML declaration.
    """
    suites = ET.Element("testsuites", name="cert-assistant eval")
    for name, split in report.splits.items():
        results = split.retrievers[GATED]
        flipped = (
            {r.id for r in changes[name].newly_failing} if changes and name in changes else set()
        )
        suite = _suite(suites, f"eval.{name}", report.created_at)
        for result in results.cases:
            case = _case(suite, f"eval.{name}.{result.category}", _case_name(result))
            case.set("time", f"{result.ask_ms / 1000:.3f}")
            if problems(result):
                kind = "newly-failing" if result.id in flipped else "failing"
                _fail(case, case_message(result), kind, case_details(result))
        if thresholds is not None:
            _metric_suite(suites, name, results.metrics, thresholds, report.created_at)
    for suite in suites:
        _count(suite, suite)
    _count(suites, *suites)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def case_message(result: CaseResult) -> str:
    """What went wrong, what was expected and what was answered, on one line.

    >>> r = CaseResult("x", "faq", False, True, "Sorry.", "q", 1.0, question="Is it online?",
    ...                expected_sections=["faq.md#online"], facts=["online"],
    ...                facts_in_answer=[False], facts_in_quotes=[False])
    >>> case_message(r)
    "refused; expected faq.md#online stating 'online'; answered: Sorry."
    >>> r.refuse, r.expected_sections, r.facts = True, [], []
    >>> case_message(r).split("; ")[1]
    'expected a refusal'
    """
    if result.refuse:
        expected = "a refusal"
    else:
        expected = ", ".join(result.expected_sections) or "no section"
        if result.facts:
            expected += " stating " + ", ".join(repr(f) for f in result.facts)
    answer = " ".join(result.answer.split())
    if len(answer) > MESSAGE_CHARS:
        answer = answer[:MESSAGE_CHARS] + "…"
    return f"{'; '.join(problems(result))}; expected {expected}; answered: {answer}"


def case_details(result: CaseResult) -> str:
    """The failure's body: the question, expectations, the whole answer and what was retrieved."""
    lines = [f"question: {result.question}"]
    if result.last_turn:
        lines.append(f"after: {result.last_turn}")
    lines.append(
        "expected: " + ("a refusal" if result.refuse else ", ".join(result.expected_sections))
    )
    lines += [f"fact: {fact!r}" for fact in result.facts]
    lines.append(f"answer{' (refused)' if result.refused else ''}: {result.answer}")
    if result.ranking:
        lines.append(f"retrieved: {', '.join(result.ranking[:5])}")
    return "\n".join(lines)


def _case_name(result: CaseResult) -> str:
    return f"{result.id}: {' '.join(result.question.split())}"


def _metric_suite(
    suites: ET.Element,
    split: str,
    metrics: Mapping[str, float | None],
    thresholds: Mapping[str, Mapping[str, float]],
    timestamp: str,
) -> None:
    table, minimums = minimums_for(split, thresholds)
    suite = _suite(suites, f"gate.{split}", timestamp)
    for metric, minimum in minimums.items():
        value = metrics.get(metric)
        case = _case(suite, f"gate.{split}", f"{metric} >= {minimum:.2f}")
        measured = format_value(metric, value)
        against = "" if table == split else f" (the [{table}] minimum)"
        if value is None or value < minimum:
            _fail(case, str(Shortfall(split, metric, value, minimum)) + against, "below-minimum")
        else:
            ET.SubElement(case, "system-out").text = f"{measured} >= {minimum:.2f}{against}"


def _suite(parent: ET.Element, name: str, created_at: str) -> ET.Element:
    # The JUnit schema's timestamp has no UTC offset; the run's time is in UTC.
    return ET.SubElement(parent, "testsuite", name=name, timestamp=created_at[:19])


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=_clean(name))


def _fail(case: ET.Element, message: str, kind: str, details: str | None = None) -> None:
    failure = ET.SubElement(case, "failure", message=_clean(message), type=kind)
    failure.text = _clean(details or message)


def _count(target: ET.Element, *suites: ET.Element) -> None:
    cases = [c for s in suites for c in s.iter("testcase")]
    target.set("tests", str(len(cases)))
    target.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    target.set("errors", "0")
    target.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")


def _clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry.

    >>> _clean("a\\x1bb\\tc")
    'ab\\tc'
    """
    return _NOT_XML.sub("", text)
