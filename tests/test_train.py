"""Training the answerer's scorers on a few dev cases against the real index: the weights
match the code and load; `python -m evals.train` refuses the frozen test split and writes
the file given with `--out` (and never the shipped one)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from cert_core.settings import Settings
from evals import train as training
from evals.dataset import SPLITS, Case, load_dataset
from retrieval import make_assistant
from retrieval.adapter import ADAPTER_FILE, PROBE_TEXT, load_adapter
from retrieval.answerability import ANSWER_FEATURES
from retrieval.guard import task_request
from retrieval.injection import looks_like_injection
from retrieval.question import need_of
from retrieval.scorer import WEIGHTS_FILE, Scorer, load_weights
from retrieval.select import UNIT_FEATURES

pytestmark = pytest.mark.integration

ANSWERABLE = 12
REFUSED = 8


def few_dev_cases() -> list[Case]:
    """The first answerable dev cases and the first refused ones that the scorer (not the
    rule for counts and durations, nor the injection guard) has to refuse: ~20 in all, so
    the five-fold cross-validation has enough of each class."""
    cases = load_dataset(SPLITS["dev"])
    answerable = [c for c in cases if not c.refuse][:ANSWERABLE]
    refused = [
        c
        for c in cases
        if c.refuse
        and not c.history
        and not looks_like_injection(c.question)
        and not task_request(c.question)
        and need_of(c.question) not in ("count", "duration")
    ][:REFUSED]
    assert len(answerable) == ANSWERABLE and len(refused) == REFUSED
    return answerable + refused


@pytest.fixture(scope="module")
def small_dev(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The few dev cases as a dataset file."""
    path = tmp_path_factory.mktemp("train") / "small-dev.jsonl"
    dev = {json.loads(line)["id"]: line for line in SPLITS["dev"].read_text().splitlines()}
    path.write_text("".join(dev[c.id] + "\n" for c in few_dev_cases()), encoding="utf-8")
    return path


def test_training_on_dev_cases_gives_weights_that_match_the_code(
    real_index: Path, tmp_path: Path
) -> None:
    assistant = make_assistant(Settings(data_dir=real_index))
    try:
        cases = few_dev_cases()
        examples = training.collect(assistant, cases)
        assert len(examples) == len(cases)
        weights = training.train(examples)
    finally:
        assistant.retriever.store.client.close()

    select = Scorer.from_json(weights["select"], UNIT_FEATURES)
    answerable = Scorer.from_json(weights["answerable"], ANSWER_FEATURES)
    assert select.info["positives"] > 0
    assert select.info["examples"] > select.info["positives"]
    assert 0 < answerable.info["positives"] < answerable.info["examples"] <= len(cases)
    assert 0.0 < answerable.threshold < 1.0
    assert answerable.info["calibration"]

    path = tmp_path / "weights.json"
    path.write_text(json.dumps(weights), encoding="utf-8")
    loaded = load_weights(path)
    assert loaded.select == select and loaded.answerable == answerable


def test_main_refuses_the_frozen_test_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "weights.json"
    code = training.main(["--dataset", "evals/test.jsonl", "--out", str(out)])
    assert code == 2
    assert "test split is frozen" in capsys.readouterr().err
    assert not out.exists()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained_by_main(
    real_index: Path, small_dev: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """`python -m evals.train --dataset SMALL --out OUT` run once against the real index."""
    folder = tmp_path_factory.mktemp("trained")
    out, adapter = folder / "weights.json", folder / "adapter.npz"
    shipped = (digest(WEIGHTS_FILE), digest(ADAPTER_FILE))
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setenv("CERT_ASSISTANT_DATA_DIR", str(real_index))
        code = training.main(
            ["--dataset", str(small_dev), "--out", str(out), "--adapter-out", str(adapter)]
        )
    return {
        "code": code,
        "out": out,
        "adapter": adapter,
        "stdout": stdout.getvalue(),
        "shipped": shipped,
    }


def test_main_writes_the_weights_file_given_with_out(trained_by_main: dict) -> None:
    assert trained_by_main["code"] == 0
    out: Path = trained_by_main["out"]
    assert f"wrote {out}" in trained_by_main["stdout"]
    assert "answer threshold" in trained_by_main["stdout"]
    weights = load_weights(out)
    assert weights.select.features == UNIT_FEATURES
    assert weights.answerable.features == ANSWER_FEATURES
    # the shipped files untouched
    assert (digest(WEIGHTS_FILE), digest(ADAPTER_FILE)) == trained_by_main["shipped"]


def test_main_writes_a_query_adapter_for_the_model_it_searched_with(
    trained_by_main: dict, real_embedder
) -> None:
    adapter = load_adapter(trained_by_main["adapter"])
    assert adapter is not None
    assert adapter.fits(real_embedder.embed_query(PROBE_TEXT))
    assert adapter.info["trained_on"].endswith("small-dev.jsonl")
    figures = adapter.info["cross_validated"]
    assert figures["cases"] >= ANSWERABLE - 2  # the answerable cases with an answer unit
    assert f"query adapter: wrote {trained_by_main['adapter']}" in trained_by_main["stdout"]
    assert (
        f"MRR@10 {figures['mrr@10_before']} -> {figures['mrr@10_after']}"
        in (trained_by_main["stdout"])
    )


def test_the_weights_file_records_the_dataset_it_was_trained_on(trained_by_main: dict) -> None:
    data = json.loads(trained_by_main["out"].read_text(encoding="utf-8"))
    assert data["trained_on"].endswith("small-dev.jsonl")


def test_the_answerability_scorer_learns_only_the_cases_no_rule_refuses(real_index: Path) -> None:
    # "is the exam open book?" is refused by rule (a detail no unit holds) whatever the
    # scorer says, so it must not pull the scorer towards refusing what it does decide
    ruled = next(
        c for c in load_dataset(SPLITS["dev"]) if c.refuse and "open book" in c.question.lower()
    )
    assistant = make_assistant(Settings(data_dir=real_index))
    try:
        cases = few_dev_cases()
        without = training.train(training.collect(assistant, cases))
        with_ruled = training.train(training.collect(assistant, [*cases, ruled]))
    finally:
        assistant.retriever.store.client.close()

    counted = [
        Scorer.from_json(w["answerable"], ANSWER_FEATURES).info["examples"]
        for w in (without, with_ruled)
    ]
    assert counted[0] == counted[1]


def test_the_scorers_learn_from_searches_by_adapters_that_never_saw_the_case(
    real_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.adapt

    fitted_on: list[int] = []
    fit = evals.adapt.fit_adapter

    def recording_fit(questions, units, answers, **options):
        fitted_on.append(len(questions))
        return fit(questions, units, answers, **options)

    monkeypatch.setattr(evals.adapt, "fit_adapter", recording_fit)
    assistant = make_assistant(Settings(data_dir=real_index, query_adapter="none"))
    try:
        cases = few_dev_cases()
        first = training.collect(assistant, cases)
        everything = len(training.adapter_examples(assistant, first).answers)
        examples = training.cross_fitted(assistant, cases, first)
    finally:
        assistant.retriever.store.client.close()

    assert [e.case.id for e in examples] == [e.case.id for e in first]
    assert len(fitted_on) == 5 and all(0 < n < everything for n in fitted_on)
    assert sum(everything - n for n in fitted_on) == everything  # each case left out once


def test_out_of_fold_answers_each_case_with_an_adapter_that_never_saw_it(
    real_index: Path, small_dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evals import out_of_fold
    from evals.dataset import load_split

    searched_with: dict[str, object] = {}
    fitted_without: dict[int, set[str]] = {}
    fold_adapter = training.fold_adapter

    def recording_adapter(assistant, first, fold, k):
        fitted_without[k] = {e.case.id for e in first if fold[e.case.id] == k}
        return fold_adapter(assistant, first, fold, k)

    monkeypatch.setattr(out_of_fold, "fold_adapter", recording_adapter)
    assistant = make_assistant(Settings(data_dir=real_index))
    shipped = assistant.retriever.adapter
    ask = assistant.ask

    def recording_ask(question, history=None):
        searched_with[question] = assistant.retriever.adapter
        return ask(question, history)

    monkeypatch.setattr(assistant, "ask", recording_ask)
    split = load_split(small_dev, "small")
    try:
        run = out_of_fold.out_of_fold(assistant, split)
    finally:
        assistant.retriever.store.client.close()

    results = run.results["small-out-of-fold"]["hybrid"]
    assert [r.id for r in results] == [c.id for c in split.cases]  # every case, once, in order
    assert set().union(*fitted_without.values()) == {c.id for c in split.cases}
    for case in split.cases:
        adapter = searched_with[case.question]
        assert adapter is not None and adapter is not shipped
        assert case.id in fitted_without[adapter.info["fold"]]  # its fold was left out
    assert assistant.retriever.adapter is shipped


def test_out_of_fold_refuses_the_frozen_test_split(capsys: pytest.CaptureFixture[str]) -> None:
    from evals import out_of_fold

    assert out_of_fold.main(["--dataset", str(SPLITS["test"])]) == 2
    assert "test split is frozen" in capsys.readouterr().err
