"""The CI examples cannot rot: the GitHub workflow's own `run:` steps run, in order, in a small
course-content repository, twice (a first run, then a content edit that breaks three FAQ
answers against the first run's report); the GitLab job is held to the same commands.

What cannot run here is replaced, and only that:

- the step with `id: install` is skipped: it installs cert-assistant from the network, and this
  project's `.venv` already holds it (its `bin/` comes first on PATH, as setup-python's would);
- `actions/checkout`: the repository copy is the working folder;
- `actions/setup-python`: the `.venv` above;
- `actions/upload-artifact`: what it would keep (`path`) must exist after the job;
- `mikepenz/action-junit-report`: its `report_paths` must be a JUnit file that junitparser reads.

Any other action fails the test until it gets a substitute here. Steps run with GitHub's shell
(`bash --noprofile --norc -eo pipefail`), the workflow's and the step's `env`, and
`GITHUB_STEP_SUMMARY`; a step runs when every step before it passed, or when it says
`if: always()`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "github-eval.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
SKIPPED = {"install"}  # step ids: the project's .venv already holds cert-assistant
STEP_SECONDS = 600
REFUSE_CASES = ("off-weather", "unans-exam-fee")


@dataclass
class Step:
    """One step of the job as it ran: its name and exit code (None: it did not run)."""

    name: str
    code: int | None
    output: str = ""


def workflow_job() -> tuple[dict, dict]:
    """The workflow and its only job."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    return workflow, job


def run_job(repo: Path, page: Path) -> list[Step]:
    """Run the workflow's job in `repo` as GitHub would (see the module docstring)."""
    workflow, job = workflow_job()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env = {**inherited, **_strings(workflow.get("env")), **_strings(job.get("env"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env |= {"CI": "true", "GITHUB_WORKSPACE": str(repo), "GITHUB_STEP_SUMMARY": str(page)}
    steps: list[Step] = []
    for number, step in enumerate(job["steps"], start=1):
        name = step.get("name") or step.get("uses") or f"step {number}"
        condition = step.get("if")
        assert condition in (None, "always()"), f"{name}: no stand-in for `if: {condition}`"
        if condition is None and any(s.code for s in steps):
            steps.append(Step(name, None))
        elif step.get("id") in SKIPPED:
            steps.append(Step(name, 0, "skipped: the project's .venv already holds it"))
        elif "uses" in step:
            steps.append(Step(name, stand_in(step, repo)))
        else:
            assert "${{" not in step["run"], f"{name}: expressions cannot run outside GitHub"
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=repo,
                env={**env, **_strings(step.get("env"))},
                capture_output=True,
                text=True,
                timeout=STEP_SECONDS,
            )
            steps.append(Step(name, done.returncode, done.stdout + done.stderr))
    return steps


def stand_in(step: dict, repo: Path) -> int:
    """What an action leaves behind, checked in `repo`; 0 when it holds."""
    action, inputs = step["uses"].split("@")[0], step.get("with", {})
    if action in ("actions/checkout", "actions/setup-python"):
        return 0
    if action == "actions/upload-artifact":
        kept = [repo / line for line in inputs["path"].split()]
        assert all(path.exists() for path in kept), f"nothing to keep at {inputs['path']}"
        return 0
    if action == "mikepenz/action-junit-report":
        (report,) = repo.glob(inputs["report_paths"])
        assert JUnitXml.fromfile(str(report)).tests > 0
        return 0
    raise AssertionError(f"no stand-in for {action}: add one in {Path(__file__).name}")


def _strings(values: dict | None) -> dict[str, str]:
    return {key: str(value) for key, value in (values or {}).items()}


def slug(heading: str) -> str:
    """A heading's anchor, as evals/DATASET.md computes it."""
    text = " ".join(re.sub(r"(\*\*|__|\*|`)", "", heading).split()).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def remove_entries(faq: Path, anchors: set[str]) -> None:
    """Delete the FAQ entries (heading and answer) with these anchors."""
    kept, dropping = [], False
    for line in faq.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("#"):
            dropping = slug(line.lstrip("#")) in anchors
        if not dropping:
            kept.append(line)
    faq.write_text("".join(kept), encoding="utf-8")


@pytest.fixture
def course_repo(tmp_path) -> Path:
    """A course-content repository: the FAQ, its FAQ cases and two refusals, loose minimums."""
    repo = tmp_path / "course-content"
    (repo / "knowledge").mkdir(parents=True)
    shutil.copy(ROOT / "knowledge" / "faq.md", repo / "knowledge" / "faq.md")
    cases = [json.loads(line) for line in (ROOT / "evals" / "dev.jsonl").open(encoding="utf-8")]
    chosen = [
        c
        for c in cases
        if c["id"] in REFUSE_CASES
        or c["category"] == "faq_wording"
        and c["expected_sections"]
        and all(s["source"] == "knowledge/faq.md" for s in c["expected_sections"])
    ]
    (repo / "evals").mkdir()
    (repo / "evals" / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chosen))
    (repo / "evals" / "thresholds.toml").write_text('[dev]\naccuracy = 0.5\n"hit_rate@5" = 0.5\n')
    return repo


@pytest.mark.integration
def test_the_github_workflow_runs_and_a_breaking_edit_shows_the_three_broken_questions(
    course_repo, tmp_path
):
    first_page = tmp_path / "first-summary.md"
    steps = run_job(course_repo, first_page)

    assert [s.code for s in steps] == [0] * len(steps), _log(steps)
    report_dir = course_repo / "eval-report"
    summary = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert first_page.read_text(encoding="utf-8") == summary
    assert summary.startswith("## Eval: gate passed ✅\n")
    assert "Baseline: none at `evals/baseline.json`, so no changes or flips." in summary
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    results = report["splits"]["cases"]["retrievers"]["hybrid"]
    passed = [r for r in results["cases"] if not r["problems"] and not r["refuse"]]
    assert len(passed) >= 3, summary

    # The maintainer accepts this run: its report becomes the baseline, its values the minimums.
    shutil.copy(report_dir / "report.json", course_repo / "evals" / "baseline.json")
    accuracy = results["metrics"]["accuracy"]
    (course_repo / "evals" / "thresholds.toml").write_text(f"[dev]\naccuracy = {accuracy - 0.05}\n")
    shutil.rmtree(report_dir)
    # A content edit removes three FAQ entries that answered their questions.
    broken = {r["id"]: r for r in passed[:3]}
    remove_entries(
        course_repo / "knowledge" / "faq.md",
        {s.split("#")[1] for r in broken.values() for s in r["expected_sections"]},
    )
    second_page = tmp_path / "second-summary.md"
    steps = run_job(course_repo, second_page)

    codes = {s.name: s.code for s in steps}
    assert codes["Evaluate"] == 1, _log(steps)
    assert codes["List the questions as tests"] == codes["Keep the report"] == 0
    summary = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert second_page.read_text(encoding="utf-8") == summary
    assert summary.startswith("## Eval: gate FAILED ❌ (1 metric(s) below minimum)\n")
    assert "Baseline: `evals/baseline.json` (run " in summary
    assert "#### Flipped since the baseline: 3 newly failing, 0 newly passing" in summary
    newly = summary.split("Newly failing:", 1)[1].split("<details>", 1)[0]
    assert set(re.findall(r"^- `([\w-]+)`", newly, re.M)) == set(broken)
    for result in broken.values():
        assert f'  - question: "{result["question"]}"' in newly
        assert f"  - expected: {result['expected_sections'][0]}" in newly
    junit = JUnitXml.fromfile(str(report_dir / "junit.xml"))
    flipped = {c.name.split(":")[0] for s in junit for c in s if c.result}
    assert flipped == {*broken, "accuracy >= " + f"{accuracy - 0.05:.2f}"}


def test_the_gitlab_job_runs_the_workflows_commands_and_keeps_the_same_files():
    _, job = workflow_job()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    github = [_command(line) for run in runs for line in run.splitlines() if _command(line)]
    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["course-evals"]
    lines = [*gitlab["before_script"], *gitlab["script"]]
    commands = [_command(line) for line in lines if _command(line)]

    assert commands == github  # pip installs, ingest, eval: the same, in order
    workflow, _ = workflow_job()
    assert {k: gitlab["variables"][k] for k in workflow["env"]} == workflow["env"]
    evaluate = next(c for c in commands if c[:2] == ["cert-assistant", "eval"])
    junit, report = (evaluate[evaluate.index(o) + 1] for o in ("--junit", "--report"))
    assert gitlab["artifacts"]["reports"]["junit"] == junit
    assert (
        gitlab["artifacts"]["paths"] == [f"{report}/"] and gitlab["artifacts"]["when"] == "always"
    )
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["with"]["path"] == f"{report}/" and upload["if"] == "always()"


def _command(line: str) -> list[str] | None:
    """A `pip` or `cert-assistant` command line as words; None for anything else."""
    words = shlex.split(line, comments=True)
    return words if words and words[0] in ("pip", "cert-assistant") else None


def _log(steps: list[Step]) -> str:
    return "\n".join(f"--- {s.name}: exit {s.code}\n{s.output[-3000:]}" for s in steps)
