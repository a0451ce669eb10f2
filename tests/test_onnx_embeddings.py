"""The ONNX export of the real bundled model gives sentence-transformers' vectors, lightly.

Compared against `SentenceTransformerEmbedder` (the library it stands in for at question time),
on short questions, passages past the 256-token limit, unicode and mixed-length batches.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ingest.onnx_embeddings as onnx_embeddings
from cert_core.errors import EmbeddingModelError
from cert_core.settings import Settings
from ingest import (
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    ensure_onnx,
    export_onnx,
    make_query_embedder,
    model_id,
)
from ingest.embeddings import DEFAULT_MODEL
from ingest.onnx_embeddings import (
    WORD_VECTORS,
    WORDS,
    ensure_word_table,
    onnx_folder,
    safe_model_id,
    stale_reason,
)

ROOT = Path(__file__).resolve().parents[1]
LONG = (
    "Model monitoring watches data drift, concept drift and prediction quality in production; "
    "when a threshold is crossed the pipeline retrains, validates and promotes a new version. "
)

TEXTS = [
    "What is MLOps?",
    "how long is the exam",
    "Who teaches the course?",
    "feature store",
    "CI/CD for ML pipelines vs. classic CI/CD",
    "Is there a refund policy if I fail?",
    "kubeflow OR mlflow OR airflow?",
    "x",
    "",
    "   padded with spaces   ",
    "UPPER CASE QUESTION ABOUT DATA VERSIONING",
    "Line one\nline two\ttabbed",
    "Prix de la certification en € et délais d'inscription ?",
    "Wie lange dauert die Prüfung für Architekten?",
    "Что такое дрейф данных?",
    "機械学習の運用とは何ですか",
    "ما هي شهادة مهندس عمليات التعلم الآلي؟",
    "🚀 deploy models 🤖 with confidence ✅",
    "naïve café façade coöperate",
    "def train(model, data): return model.fit(data)  # code in a question",
    "version 2.3.1 released on 2024-05-01 with 99.9% uptime",
    "supercalifragilisticexpialidocious" * 20,
    "The course covers data versioning, feature stores, model registries and monitoring.",
    "Garbage in, garbage out: automated validation checks stop bad data before training.",
    LONG * 2,
    LONG * 10,  # far past 256 tokens: truncated
    " ".join(f"token{i}" for i in range(600)),  # word pieces well past the limit
    "日本語のテキスト " * 200,
    "Lineage tracking records which data and code produced each model artefact. " * 8,
    "end-to-end automation",
]


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    """The real bundled model exported once for the session."""
    return export_onnx(DEFAULT_MODEL, tmp_path_factory.mktemp("onnx") / "export")


@pytest.fixture(scope="session")
def onnx_embedder(exported: Path) -> OnnxEmbedder:
    """An `OnnxEmbedder` over the session's export, loaded."""
    return OnnxEmbedder(exported).load()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data_dir is a fresh folder."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def installed(exported: Path, settings: Settings) -> Path:
    """A private copy of the export where `settings` look for it, for a test to break."""
    folder = onnx_folder(settings)
    shutil.copytree(exported, folder)
    return folder


def test_safe_model_id_is_one_folder_name() -> None:
    assert safe_model_id(DEFAULT_MODEL) == "sentence-transformers--all-MiniLM-L6-v2"
    assert "/" not in safe_model_id("/a/../b c/model")


@pytest.mark.integration
def test_export_writes_the_layout_and_its_description(exported: Path) -> None:
    assert sorted(p.name for p in exported.iterdir()) == [
        "meta.json",
        "model.onnx",
        "tokenizer.json",
    ]
    meta = json.loads((exported / "meta.json").read_text())
    assert meta["model_id"] == DEFAULT_MODEL
    assert (meta["max_seq_length"], meta["dimension"], meta["pooling"]) == (256, 384, "mean")
    assert meta["normalize"] is True
    assert len(meta["source"]["sha256"]) == 64
    assert stale_reason(exported, DEFAULT_MODEL) is None
    assert not list(exported.parent.glob(".*")), "no temporary folder is left behind"


@pytest.mark.integration
def test_each_text_matches_sentence_transformers(onnx_embedder, real_embedder) -> None:
    expected = np.array([real_embedder.embed_query(t) for t in TEXTS])
    actual = np.array([onnx_embedder.embed_query(t) for t in TEXTS])
    assert actual.shape == (len(TEXTS), 384)
    assert _cosine(actual, expected).min() > 0.9999
    assert np.abs(actual - expected).max(axis=1).max() < 1e-4
    assert np.allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)


@pytest.mark.integration
def test_a_mixed_batch_matches_sentence_transformers(onnx_embedder, real_embedder) -> None:
    batch = TEXTS[::-1]  # long and short interleaved differently from the sorted order
    expected = np.array(real_embedder.embed_documents(batch))
    actual = np.array(onnx_embedder.embed_documents(batch))
    assert _cosine(actual, expected).min() > 0.9999
    assert np.abs(actual - expected).max() < 1e-4
    one_by_one = np.array([onnx_embedder.embed_query(t) for t in batch])
    assert np.abs(actual - one_by_one).max() < 1e-5, "padding must not change a vector"


@pytest.mark.integration
def test_text_past_the_token_limit_is_truncated(onnx_embedder) -> None:
    head = " ".join(f"word{i}" for i in range(400))
    first, second = onnx_embedder.embed_documents([head + " apples", head + " rockets"])
    assert np.abs(np.array(first) - np.array(second)).max() < 1e-6


@pytest.mark.integration
def test_small_batches_give_the_same_vectors(exported: Path, onnx_embedder) -> None:
    small = OnnxEmbedder(exported, batch_size=3, threads=2)
    assert small.name == DEFAULT_MODEL
    assert (
        np.abs(
            np.array(small.embed_documents(TEXTS)) - np.array(onnx_embedder.embed_documents(TEXTS))
        ).max()
        < 1e-5
    )
    assert small.embed_documents([]) == []


def test_import_stays_light() -> None:
    code = (
        "import sys, ingest.onnx_embeddings\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.integration
def test_embedding_with_the_export_stays_light(exported: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ingest.onnx_embeddings import OnnxEmbedder\n"
        f"vector = OnnxEmbedder(Path({str(exported)!r})).embed_query('What is MLOps?')\n"
        "assert len(vector) == 384\n"
        "print(','.join(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_without_an_export_questions_use_sentence_transformers(settings, fake_embedder) -> None:
    assert make_query_embedder(settings, fallback=fake_embedder) is fake_embedder
    embedder = make_query_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == model_id(settings)


def test_an_embedder_over_no_export_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="No usable ONNX export"):
        OnnxEmbedder(tmp_path)


@pytest.mark.integration
def test_a_current_export_is_used(installed: Path, settings, fake_embedder) -> None:
    embedder = make_query_embedder(settings, fallback=fake_embedder)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.folder == installed


@pytest.mark.integration
@pytest.mark.parametrize(
    "damage",
    [
        "delete model.onnx",
        "delete tokenizer.json",
        "truncate model.onnx",
        "garble model.onnx",
        "garble tokenizer.json",
        "garble meta.json",
        "another model",
        "another sentence-transformers",
        "changed source",
    ],
)
def test_a_stale_or_broken_export_falls_back(
    damage: str, installed: Path, settings, fake_embedder, monkeypatch
) -> None:
    meta_path = installed / "meta.json"
    meta = json.loads(meta_path.read_text())
    match damage.split():
        case ["delete", name]:
            (installed / name).unlink()
        case ["truncate", name]:
            with (installed / name).open("r+b") as file:
                file.truncate(1000)
        case ["garble", name]:
            size = (installed / name).stat().st_size
            (installed / name).write_bytes(b"\x00garbage" * (size // 8) + b"\x00" * (size % 8))
        case ["another", "model"]:
            meta_path.write_text(json.dumps({**meta, "model_id": "someone/else"}))
        case ["another", _]:
            meta_path.write_text(json.dumps({**meta, "sentence_transformers": "0.0.1"}))
        case ["changed", "source"]:
            source = {"stat": "0" * 64, "sha256": "1" * 64}
            meta_path.write_text(json.dumps({**meta, "source": source}))
    assert make_query_embedder(settings, fallback=fake_embedder) is fake_embedder


@pytest.mark.integration
def test_a_moved_but_identical_source_still_counts_as_current(installed: Path) -> None:
    meta = json.loads((installed / "meta.json").read_text())
    meta["source"]["stat"] = "0" * 64  # as after a reinstall: new times, same bytes
    (installed / "meta.json").write_text(json.dumps(meta))
    assert stale_reason(installed, DEFAULT_MODEL) is None


@pytest.mark.integration
def test_ensure_onnx_keeps_a_current_export_and_adds_its_word_table(
    installed: Path, settings
) -> None:
    assert not (installed / WORDS).exists()  # an export from before word tables
    model = (installed / "model.onnx").stat().st_mtime_ns

    assert ensure_onnx(settings) == installed
    table = (installed / WORD_VECTORS).stat().st_mtime_ns
    assert ensure_onnx(settings) == installed

    assert (installed / "model.onnx").stat().st_mtime_ns == model  # not exported again
    assert (installed / WORD_VECTORS).stat().st_mtime_ns == table  # made once
    embedder = OnnxEmbedder(installed)
    found = embedder.word_vectors(["tough", "laptop", "xqzvbn"])
    assert sorted(found) == ["laptop", "tough"]  # whole words of the vocabulary only
    for word, vector in found.items():  # the very vectors the model gives the word
        assert np.allclose(vector, embedder.embed_documents([word])[0], atol=1e-5)


@pytest.mark.integration
def test_a_word_table_whose_files_disagree_is_not_used_and_is_made_again(installed: Path) -> None:
    (installed / WORDS).write_text("tough\nlaptop\nboss\n", encoding="utf-8")
    np.save(installed / WORD_VECTORS, np.zeros((2, 384), dtype=np.float32))

    assert OnnxEmbedder(installed).word_vectors(["tough"]) == {}  # embedded as before
    assert ensure_word_table(installed)
    assert "tough" in OnnxEmbedder(installed).word_vectors(["tough"])


@pytest.mark.integration
def test_ensure_onnx_logs_a_failed_export_and_returns_none(tmp_path: Path, caplog) -> None:
    settings = Settings(data_dir=tmp_path / "data", embedding_model=str(tmp_path / "no-model"))
    with caplog.at_level(logging.WARNING, logger="ingest.onnx_embeddings"):
        assert ensure_onnx(settings) is None
    assert "ONNX export failed" in caplog.text
    assert not onnx_folder(settings).exists()


@pytest.mark.integration
def test_an_interrupted_export_leaves_the_old_folder_whole(
    installed: Path, real_embedder, monkeypatch
) -> None:
    def interrupted(model, path: Path) -> None:
        path.write_bytes(b"half a model")
        raise KeyboardInterrupt

    before = {p.name: p.read_bytes() for p in installed.iterdir()}
    monkeypatch.setattr(onnx_embeddings, "_export_transformer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(DEFAULT_MODEL, installed)
    assert {p.name: p.read_bytes() for p in installed.iterdir()} == before
    assert [p.name for p in installed.parent.iterdir()] == [installed.name]
