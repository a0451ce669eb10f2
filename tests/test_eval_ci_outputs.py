"""`cert-assistant eval` as a CI step: the JUnit file (read back by junitparser and a strict XML
parser), the Markdown summary and `$GITHUB_STEP_SUMMARY`, the comparison with a baseline report
(a content edit that breaks three questions shows those three), and the exit codes 0, 1 and 2.

A tiny course through the fake embedder and a real embedded Chroma, so each run takes seconds.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml
from lxml import etree

import retrieval
import retrieval.answer
from cert_assistant.cli import main
from evals import QUALITY_METRICS, Run, build_report, junit_xml, to_summary
from evals.flips import headline_of_draws
from evals.report import headline
from evals.results import CaseResult
from ingest import ingest
from retrieval import Assistant, HybridRetriever
from retrieval.scorer import load_weights

TINY_MODEL = "fake-bag-of-words-256"  # as tests/conftest.py's tiny_index


def case(id_, question, source, anchor, fact, category="faq_wording"):
    return {"id": id_, "category": category, "question": question, "history": [],
            "expected_sections": [{"source": f"tiny-course/{source}", "anchor": anchor}],
            "facts": [fact], "refuse": False}  # fmt: skip


CASES = [
    case("exam-difficulty", "How hard is the exam?", "faq.md", "how-hard-is-the-exam",
         "moderately difficult"),
    case("exam-online", "Can the exam be taken online?", "faq.md",
         "can-the-exam-be-taken-online", "online proctoring"),
    case("finops", "What does the FinOps path teach?", "guide.md", "finops-path",
         "cost optimisation"),
    case("lab-tools", "Which tools do the labs use?", "faq.md", "which-tools-do-the-labs-use",
         "Feast"),
    case("lab-kubeflow", "Do the labs use Kubeflow?", "faq.md", "which-tools-do-the-labs-use",
         "Kubeflow", category="yes_no"),
    {"id": "weather", "category": "off_topic", "question": "Will it rain in Paris tomorrow?",
     "history": [], "expected_sections": [], "facts": [], "refuse": True},
]  # fmt: skip
PASSING = {"exam-difficulty", "exam-online", "finops", "lab-tools", "weather"}
LENIENT = '[dev]\naccuracy = 0.6\n"hit_rate@5" = 0.6\nrefusal_recall = 0.5\n'
STRICT = '[dev]\naccuracy = 0.99\n"hit_rate@5" = 0.6\n'

# A content edit that breaks three answers and mends one.
BREAKING_EDITS = [
    ("faq.md", "The exam is rated moderately difficult.", "The exam is rated demanding."),
    ("faq.md", "secure online proctoring", "a test centre near you"),
    ("guide.md", "The FinOps path teaches cost optimisation of training infrastructure.",
     "The FinOps path teaches budgeting."),
    ("faq.md", "DVC for data versioning and Feast", "DVC for data versioning, Kubeflow for "
     "pipelines and Feast"),
]  # fmt: skip
BROKEN = {"exam-difficulty", "exam-online", "finops"}


PINNED_WEIGHTS = Path(__file__).with_name("tiny-course-weights.json")
"""The scorers these tests were written against (main at 618a179). They judge what the eval
command prints and writes, not the shipped scorers: a retrain of `retrieval/weights.json`
must not change which of the tiny course's cases pass under the fake embedder."""


@pytest.fixture
def ci(tmp_path, monkeypatch, tiny_index, chunk_store, fake_embedder):
    """The CLI's assistant over the tiny course, with the pinned scorers; the cases and
    thresholds files beside it."""

    def make_assistant(settings):
        return Assistant(HybridRetriever(store=chunk_store, embedder=fake_embedder), settings)

    pinned = load_weights(PINNED_WEIGHTS)
    monkeypatch.setattr(retrieval, "make_assistant", make_assistant)
    monkeypatch.setattr(retrieval.answer, "load_weights", lambda: pinned)
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES))
    (tmp_path / "lenient.toml").write_text(LENIENT)
    (tmp_path / "strict.toml").write_text(STRICT)
    return tmp_path


def eval_args(folder: Path, *extra: str, thresholds: str = "lenient.toml") -> list[str]:
    return ["eval", "--dataset", str(folder / "cases.jsonl"), "--gate",
            "--thresholds", str(folder / thresholds), "--report", str(folder / "report"),
            *extra]  # fmt: skip


def break_the_course(course: Path, store, embedder) -> None:
    for name, old, new in BREAKING_EDITS:
        path = course / name
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new), encoding="utf-8")
    ingest([course], store, embedder, model=TINY_MODEL, progress=False)


# --- JUnit ---------------------------------------------------------------------------------------


def test_junit_has_a_test_per_case_named_by_its_question_and_one_per_gated_metric(ci, capsys):
    junit = ci / "out" / "junit.xml"

    assert main(eval_args(ci, "--junit", str(junit))) == 0

    xml = JUnitXml.fromfile(str(junit))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["eval.cases", "gate.cases"]
    cases = {c.name: c for c in suites["eval.cases"]}
    assert set(cases) == {f"{c['id']}: {c['question']}" for c in CASES}
    assert cases["weather: Will it rain in Paris tomorrow?"].classname == "eval.cases.off_topic"
    failed = {name.split(":")[0] for name, c in cases.items() if not c.is_passed}
    report = json.loads((ci / "report" / "report.json").read_text())
    results = report["splits"]["cases"]["retrievers"]["hybrid"]["cases"]
    assert failed == {r["id"] for r in results if r["problems"]}
    assert "lab-kubeflow" in failed and not failed & PASSING
    (failure,) = cases["lab-kubeflow: Do the labs use Kubeflow?"].result
    assert isinstance(failure, Failure) and failure.type == "failing"
    assert re.fullmatch(
        r"facts missing from the answer: 'Kubeflow'; expected "
        r"tiny-course/faq\.md#which-tools-do-the-labs-use stating 'Kubeflow'; answered: .+",
        failure.message,
    )
    assert "question: Do the labs use Kubeflow?" in failure.text
    metrics = {c.name: c for c in suites["gate.cases"]}
    assert set(metrics) == {"accuracy >= 0.60", "hit_rate@5 >= 0.60", "refusal_recall >= 0.50"}
    assert all(c.is_passed for c in metrics.values())
    assert suites["eval.cases"].tests == len(CASES) and xml.failures == len(failed)
    root = etree.parse(str(junit)).getroot()  # strict XML 1.0
    assert root.tag == "testsuites" and root.get("tests") == str(len(CASES) + 3)
    stamps = {suite.get("timestamp") for suite in root}
    assert len(stamps) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stamps.pop())


def test_a_metric_below_its_minimum_is_a_failing_test_saying_value_and_minimum(ci):
    junit = ci / "junit.xml"

    assert main(eval_args(ci, "--junit", str(junit), thresholds="strict.toml")) == 1

    gate = next(suite for suite in JUnitXml.fromfile(str(junit)) if suite.name == "gate.cases")
    accuracy = next(c for c in gate if c.name == "accuracy >= 0.99")
    (failure,) = accuracy.result
    assert re.fullmatch(
        r"cases: accuracy: 0\.\d{3} < 0\.99 \(the \[dev\] minimum\)", failure.message
    )
    assert next(c for c in gate if c.name == "hit_rate@5 >= 0.60").is_passed


def test_answers_that_xml_cannot_carry_still_make_a_valid_file():
    hostile = CaseResult("odd", "faq", False, False, "Bell \x07 and <tag> & \x1b[31m", "q", 5.0,
                         question="What \x00 now?", facts=["x"], facts_in_answer=[False],
                         facts_in_quotes=[False])  # fmt: skip
    report = build_report(Run({"s": {"hybrid": [hostile]}}, {"s": "s.jsonl"}, "2026-11-27"))

    root = etree.fromstring(junit_xml(report).encode())

    (testcase,) = root.iter("testcase")
    assert testcase.get("name") == "odd: What  now?"
    assert testcase.find("failure").get("message").endswith("answered: Bell  and <tag> & [31m")


# --- Markdown summary ----------------------------------------------------------------------------


def test_the_summary_names_the_verdict_minimums_and_failing_cases_and_reaches_the_ci_page(
    ci, monkeypatch
):
    page = ci / "step-summary.md"
    page.write_text("## Index the course\n\nok\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    summary = ci / "summary.md"

    assert main(eval_args(ci, "--summary", str(summary), thresholds="strict.toml")) == 1

    text = summary.read_text(encoding="utf-8")
    assert page.read_text(encoding="utf-8") == "## Index the course\n\nok\n" + text
    assert text.startswith("## Eval: gate FAILED ❌ (1 metric(s) below minimum)\n")
    assert "### cases: 6 cases (`" in text and "Held to the [dev] minimums." in text
    assert "| metric | now [95% interval] | minimum | met |" in text
    assert re.search(r"^\| accuracy \| 0\.\d{3} \[[\d., ]+\] \| 0\.99 \| ❌ below \|$", text, re.M)
    assert re.search(r"^\| hit_rate@5 \| [^|]+ \| 0\.60 \| ✅ \|$", text, re.M)
    assert "<summary>1 of 6 cases failing</summary>" in text
    assert "- `lab-kubeflow` (yes_no): facts missing from the answer: 'Kubeflow'" in text
    assert '  - question: "Do the labs use Kubeflow?"' in text
    assert "  - expected: tiny-course/faq.md#which-tools-do-the-labs-use" in text
    assert "Flipped" not in text  # no baseline asked for


def test_text_from_the_answers_cannot_become_html_in_the_summary():
    sneaky = CaseResult("sneaky", "faq", False, False, "</details><img src=x>", "q", 1.0,
                        question="<script>alert(1)</script>", facts=["x"],
                        facts_in_answer=[False], facts_in_quotes=[False])  # fmt: skip
    report = build_report(Run({"s": {"hybrid": [sneaky]}}, {"s": "s.jsonl"}, "2026-11-27"))

    text = to_summary(report)

    assert text.startswith("## Eval: not gated\n")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "&lt;/details&gt;&lt;img src=x&gt;" in text and text.count("</details>") == 1


# --- against a baseline --------------------------------------------------------------------------


def test_a_content_edit_that_breaks_three_questions_shows_those_three(
    ci, tiny_course, chunk_store, fake_embedder, capsys
):
    assert main(eval_args(ci, "--report", str(ci / "before"))) == 0
    baseline = ci / "before" / "report.json"
    break_the_course(tiny_course, chunk_store, fake_embedder)
    capsys.readouterr()
    summary, junit = ci / "summary.md", ci / "junit.xml"

    code = main(eval_args(ci, "--baseline", str(baseline), "--summary", str(summary),
                          "--junit", str(junit)))  # fmt: skip

    assert code == 1  # accuracy 5/6 -> 3/6, under the lenient 0.6
    out = capsys.readouterr().out
    flips = out[out.index("cases: 3 newly failing, 1 newly passing since the baseline") :]
    assert {line[4:].split(":")[0] for line in flips.splitlines() if line.startswith("  - ")} == (
        BROKEN
    )
    assert "  + lab-kubeflow: Do the labs use Kubeflow?" in flips
    text = summary.read_text(encoding="utf-8")
    created = json.loads(baseline.read_text())["created_at"]
    assert f"Baseline: `{baseline}` (run {created})." in text
    assert "#### Flipped since the baseline: 3 newly failing, 1 newly passing" in text
    newly = text.split("Newly failing:", 1)[1].split("Newly passing:", 1)[0]
    assert set(re.findall(r"^- `([\w-]+)`", newly, re.M)) == BROKEN
    assert '  - question: "How hard is the exam?"' in newly
    assert "  - expected: tiny-course/faq.md#how-hard-is-the-exam" in newly
    assert re.search(r'  - before: "The exam is rated moderately difficult\.', newly)
    assert '- `lab-kubeflow` (yes_no): "Do the labs use Kubeflow?"' in text
    row = re.search(r"^\| accuracy \| (.+) \|$", text, re.M).group(1).split(" | ")
    assert row[-2] == "0.833"
    assert re.fullmatch(r"-0\.333 \[-0\.\d{3}, [+-]0\.\d{3}\]", row[-1].strip("*"))
    kinds = {c.name.split(":")[0]: c.result[0].type for s in JUnitXml.fromfile(str(junit))
             for c in s if c.result}  # fmt: skip
    assert kinds == {**dict.fromkeys(BROKEN, "newly-failing"), "accuracy >= 0.60": "below-minimum"}


def test_exit_2_for_a_baseline_whose_cases_are_not_case_results(ci, capsys):
    broken = {"created_at": "x", "splits": {"cases": {"retrievers": {"hybrid": {
        "metrics": {}, "cases": [{"id": "exam-online", "category": "faq_wording"}]}}}}}  # fmt: skip
    (ci / "baseline.json").write_text(json.dumps(broken))

    assert main(eval_args(ci, "--baseline", str(ci / "baseline.json"))) == 2

    err = capsys.readouterr().err
    assert err == (
        "error: The baseline's case 'exam-online' of split 'cases' lacks refuse, refused, answer, "
        "query, ask_ms: is it a report.json of `cert-assistant eval --report DIR`?\n"
    )


# --- exit codes ----------------------------------------------------------------------------------


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["eval", "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--junit FILE.xml" in out and "--summary FILE.md" in out
    codes = out[out.index("exit codes:") :].splitlines()
    assert [line.split()[0] for line in codes[1:] if line.startswith("  ") and line[2] != " "] == [
        "0", "1", "2"
    ]  # fmt: skip


def test_exit_0_when_every_minimum_is_met_and_1_when_one_is_not(ci):
    assert main(eval_args(ci)) == 0
    assert main(eval_args(ci, thresholds="strict.toml")) == 1


def test_exit_2_for_a_bad_option(ci, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*eval_args(ci), "--junitt", "x.xml"])

    assert exited.value.code == 2
    assert "unrecognized arguments: --junitt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "where", "message"),
    [
        ("--junit", "out", "--junit {ci}/out is a folder; give a file name"),
        ("--summary", "cases.jsonl/summary.md", "{ci}/cases.jsonl is a file, not a folder"),
    ],
)
def test_exit_2_before_the_run_for_an_output_that_cannot_be_written(
    ci, monkeypatch, capsys, option, where, message
):
    (ci / "out").mkdir()
    monkeypatch.setattr(retrieval, "make_assistant", lambda settings: pytest.fail("ran"))

    assert main(eval_args(ci, option, str(ci / where))) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(ci=ci) in err and err.count("\n") == 1


def test_exit_2_for_a_baseline_that_is_not_a_report(ci, capsys):
    (ci / "baseline.json").write_text('{"cases": []}')

    assert main(eval_args(ci, "--baseline", str(ci / "baseline.json"))) == 2
    assert "is not an eval report with splits" in capsys.readouterr().err


def test_exit_2_without_an_index(tmp_path, monkeypatch, capsys):
    (tmp_path / "cases.jsonl").write_text(json.dumps(CASES[0]) + "\n")
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "empty"))

    assert main(["eval", "--dataset", str(tmp_path / "cases.jsonl"), "--gate"]) == 2
    assert "No course index at" in capsys.readouterr().err


def test_every_quality_metric_has_a_row_in_the_summary_table():
    result = CaseResult("a", "faq", True, True, "Sorry.", "q", 1.0, question="Hi?")
    report = build_report(Run({"s": {"hybrid": [result]}}, {"s": "s.jsonl"}, "2026-11-27"))

    rows = re.findall(r"^\| ([\w@]+) \|", to_summary(report), re.M)

    assert rows == ["metric", *QUALITY_METRICS]


@pytest.mark.parametrize("name", ["evals.flips", "evals.junit", "evals.summary"])
def test_the_ci_modules_doctests_pass(name):
    import doctest
    import importlib

    failed, attempted = doctest.testmod(importlib.import_module(name), report=True)

    assert attempted > 0 and failed == 0


def test_the_fast_headline_of_a_draw_equals_the_reports_headline():
    rng = random.Random(7)
    results = []
    for n in range(40):
        refuse, refused, facts = rng.random() < 0.3, rng.random() < 0.3, rng.randint(0, 3)
        retrieval = {} if refuse or rng.random() < 0.1 else {
            "hit_rate@5": float(rng.random() < 0.8), "mrr@10": rng.choice([0, 0.25, 0.5, 1.0])
        }  # fmt: skip
        results.append(CaseResult(
            f"c{n}", "x", refuse, refused, "a", "q", 1.0, facts=["f"] * facts,
            facts_in_answer=[rng.random() < 0.8 for _ in range(facts)],
            facts_in_quotes=[rng.random() < 0.8 for _ in range(facts)], retrieval=retrieval,
        ))  # fmt: skip
    measure = headline_of_draws(results)
    draws = [[rng.randrange(40) for _ in range(40)] for _ in range(200)]
    draws += [[0], [i for i, r in enumerate(results) if r.refuse]]  # metrics left undefined

    for drawn in draws:
        assert measure(drawn) == pytest.approx(headline([results[i] for i in drawn]))
