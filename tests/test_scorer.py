"""The learned scorers: the logistic math on a tiny example worked out by hand, a save and
reload round trip, weights files that are malformed or trained on other features (refused
with a message that says to retrain), and the shipped `retrieval/weights.json`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from retrieval.answerability import ANSWER_FEATURES, ANSWER_SIGNS
from retrieval.scorer import WEIGHTS_FILE, Scorer, WeightsError, load_weights
from retrieval.select import UNIT_FEATURES

TINY = Scorer(
    features=("a", "b"),
    coef=(2.0, -1.0),
    intercept=0.5,
    mean=(1.0, 0.0),
    scale=(2.0, 1.0),
    threshold=0.7,
    info={"examples": 10, "positives": 4},
)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_probability_standardises_then_applies_the_logistic() -> None:
    # z = 0.5 + 2 * (3 - 1) / 2 - 1 * (1 - 0) / 1 = 1.5
    assert TINY.probability({"a": 3.0, "b": 1.0}) == pytest.approx(sigmoid(1.5))


def test_a_missing_feature_counts_as_zero() -> None:
    # z = 0.5 + 2 * (0 - 1) / 2 - 1 * (2 - 0) / 1 = -2.5
    assert TINY.probability({"b": 2.0}) == pytest.approx(sigmoid(-2.5))


def test_a_zero_scale_counts_as_one() -> None:
    flat = Scorer(("a",), (1.0,), 0.0, (0.0,), (0.0,))
    assert flat.probability({"a": 2.0}) == pytest.approx(sigmoid(2.0))


def test_extreme_values_give_a_probability_without_overflow() -> None:
    assert TINY.probability({"a": 1e9, "b": 0.0}) == pytest.approx(1.0)
    assert TINY.probability({"a": -1e9, "b": 0.0}) == pytest.approx(0.0)


def test_decide_is_yes_at_or_above_the_threshold() -> None:
    # With b = 0, z = a - 0.5: the probability reaches 0.7 at a = ln(0.7 / 0.3) + 0.5.
    at = math.log(0.7 / 0.3) + 0.5
    assert TINY.decide({"a": at + 1e-6, "b": 0.0})
    assert not TINY.decide({"a": at - 1e-3, "b": 0.0})
    assert Scorer(("a",), (0.0,), 0.0, (0.0,), (1.0,), threshold=0.5).decide({"a": 0.0})


def test_to_json_and_back_gives_the_same_scorer() -> None:
    data = json.loads(json.dumps(TINY.to_json()))
    again = Scorer.from_json(data, ("a", "b"))
    assert again == TINY
    assert again.probability({"a": 3.0, "b": 1.0}) == TINY.probability({"a": 3.0, "b": 1.0})


def test_from_json_without_a_threshold_decides_at_one_half() -> None:
    data = TINY.to_json()
    del data["threshold"], data["info"]
    assert Scorer.from_json(data, ("a", "b")).threshold == 0.5


def test_from_json_refuses_other_features_and_says_how_to_retrain() -> None:
    with pytest.raises(WeightsError, match=r"python -m evals\.train"):
        Scorer.from_json(TINY.to_json(), ("a", "b", "c"))


def test_from_json_refuses_a_scorer_with_a_field_missing() -> None:
    data = TINY.to_json()
    del data["coef"]
    with pytest.raises(WeightsError, match="coef"):
        Scorer.from_json(data, ("a", "b"))


def weights_file(tmp_path: Path, select: dict, answerable: dict) -> Path:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"select": select, "answerable": answerable}), encoding="utf-8")
    return path


def scorer_data(features: tuple[str, ...]) -> dict[str, object]:
    count = len(features)
    return Scorer(features, (0.1,) * count, 0.0, (0.0,) * count, (1.0,) * count).to_json()


def test_load_weights_reads_both_scorers(tmp_path: Path) -> None:
    path = weights_file(tmp_path, scorer_data(UNIT_FEATURES), scorer_data(ANSWER_FEATURES))
    weights = load_weights(path)
    assert weights.select.features == UNIT_FEATURES
    assert weights.answerable.features == ANSWER_FEATURES


@pytest.mark.parametrize(
    "content",
    ["{not json", "", '{"select": {}, "answerable": {}}', "{}", "[]"],
    ids=["broken", "empty", "empty-scorers", "no-scorers", "a-list"],
)
def test_a_malformed_weights_file_is_a_weights_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "weights.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(WeightsError):
        load_weights(path)


def test_an_unreadable_weights_file_error_names_it_and_how_to_rebuild_it(tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(WeightsError, match=r"weights\.json") as raised:
        load_weights(path)
    assert "python -m evals.train" in str(raised.value)


def test_a_missing_weights_file_is_a_weights_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(WeightsError, match="nowhere.json"):
        load_weights(path)


def test_weights_trained_on_other_features_are_refused_with_the_retrain_command(
    tmp_path: Path,
) -> None:
    older = UNIT_FEATURES[:-1]  # a file from before the code computed `faq`
    path = weights_file(tmp_path, scorer_data(older), scorer_data(ANSWER_FEATURES))
    with pytest.raises(WeightsError, match=r"python -m evals\.train"):
        load_weights(path)


def test_coefficients_that_do_not_match_the_features_are_refused_at_load(
    tmp_path: Path,
) -> None:
    select = scorer_data(UNIT_FEATURES)
    select["coef"] = select["coef"][:-1]  # type: ignore[index]
    path = weights_file(tmp_path, select, scorer_data(ANSWER_FEATURES))
    with pytest.raises(WeightsError):
        load_weights(path)


def test_the_shipped_weights_load_and_match_the_code() -> None:
    weights = load_weights(WEIGHTS_FILE)
    assert weights.select.features == UNIT_FEATURES
    assert weights.answerable.features == ANSWER_FEATURES
    for scorer in (weights.select, weights.answerable):
        count = len(scorer.features)
        assert len(scorer.coef) == len(scorer.mean) == len(scorer.scale) == count
        assert all(s > 0 for s in scorer.scale)
        assert 0.0 < scorer.threshold < 1.0


def test_the_shipped_weights_record_a_calibration_table() -> None:
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert data["trained_on"] == "evals/dev.jsonl"
    calibration = data["answerable"]["info"]["calibration"]
    assert calibration
    for row in calibration:
        assert set(row) == {"bin", "cases", "predicted", "observed"}
        low, high = (float(x) for x in row["bin"].split("-"))
        assert low <= row["predicted"] <= high
        assert 0.0 <= row["observed"] <= 1.0 and row["cases"] > 0
    assert sum(row["cases"] for row in calibration) == data["answerable"]["info"]["examples"]


def test_the_shipped_answerability_coefficients_keep_to_the_signs_of_their_features() -> None:
    scorer = load_weights(WEIGHTS_FILE).answerable
    for name, coef in zip(scorer.features, scorer.coef, strict=True):
        assert coef * ANSWER_SIGNS[name] >= 0, name  # closeness never pushes towards refusing


def test_signed_training_keeps_a_correlated_feature_from_taking_the_wrong_sign() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from evals.train import fit

    rng = np.random.default_rng(0)
    close, apart = rng.normal(size=400), rng.normal(size=400)
    twin = close + apart  # a near copy, as chunk and unit similarity are
    # what answers is the close one; where the twin runs ahead of it, a little less so
    answered = (close - 0.5 * apart + 0.3 * rng.normal(size=400) > 0).astype(int)
    rows = np.column_stack([close, twin]).tolist()

    free = fit(rows, answered.tolist(), ("close", "twin"))
    signed = fit(rows, answered.tolist(), ("close", "twin"), {"close": 1, "twin": 1})
    unbounded = fit(rows, answered.tolist(), ("close", "twin"), {})

    assert free.coef[1] < 0  # the twin's weight goes against its meaning when free
    assert signed.coef[0] > 0 and signed.coef[1] == 0
    # without bounds the signed optimiser is scikit-learn's logistic regression
    x = (np.asarray(rows) - free.mean) / free.scale
    reference = LogisticRegression(class_weight="balanced", max_iter=1000).fit(x, answered)
    assert np.allclose(unbounded.coef, reference.coef_[0], atol=0.01)
    assert abs(unbounded.intercept - reference.intercept_[0]) < 0.01
