"""Query embeddings through onnxruntime: the same model as sentence-transformers, without torch.

`cert-assistant ask` starts cold, and importing sentence-transformers (torch, transformers,
scikit-learn) alone takes longer than the whole answer may. Ingest, which loads the real model
anyway, exports its transformer to ONNX once (`ensure_onnx`); questions are then embedded by
`OnnxEmbedder`, which needs only onnxruntime, tokenizers and numpy and gives the same vectors.

Beside the export lies a table of the vectors of the tokenizer's whole words (`ensure_word_table`,
made once per export): a learner's word the course never uses ("tough", "freshers") is looked up
there instead of costing a second model call while the learner waits (`retrieval.neighbours`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import uuid
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from cert_core.errors import EmbeddingModelError
from ingest.embeddings import SentenceTransformerEmbedder, make_embedder, model_id, resolve_model

if TYPE_CHECKING:
    import numpy as np

    from cert_core.settings import Settings

logger = logging.getLogger(__name__)

FORMAT = 1  # bump when the folder layout or meta.json changes meaning
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SOURCE_SUFFIXES = {".json", ".safetensors", ".bin", ".txt", ".model"}
_SELF_CHECK = ["What does the course cover?", "Ünïcödé, 日本語 and emoji 🚀", "word " * 300]
_SELF_CHECK_TOLERANCE = 1e-4
_UNFINISHED = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}$")  # export_onnx's working folders
_EXPORT_WAIT_SECONDS = 900  # an export takes under a minute; a longer hold is a hung process
WORDS = "words.txt"  # the word table: one whole word of the tokenizer per line...
WORD_VECTORS = "words.npy"  # ...and its vector on the same row
_WHOLE_WORD = re.compile(r"[a-z]{2,}")


def safe_model_id(name: str) -> str:
    """A folder name for a model name or path.

    >>> safe_model_id("sentence-transformers/all-MiniLM-L6-v2")
    'sentence-transformers--all-MiniLM-L6-v2'
    >>> safe_model_id("/models/my model/")
    'models--my_model'
    """
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in name.split("/") if part]
    return "--".join(parts)[-120:] or "model"


def onnx_folder(settings: Settings) -> Path:
    """Folder of the ONNX export of the settings' embedding model."""
    return settings.data_dir / "models" / safe_model_id(model_id(settings))


class OnnxEmbedder(Embeddings):
    """LangChain `Embeddings` over an `export_onnx` folder; the session loads on first use.

    Tokenises with the model's own tokenizer (truncated to its max_seq_length), mean-pools the
    token embeddings under the attention mask and L2-normalises, as
    `SentenceTransformer.encode(..., normalize_embeddings=True)` does.

    Raises:
        EmbeddingModelError: The folder has no readable meta.json (on construction), or its
            model or tokenizer cannot be loaded (on first use).
    """

    def __init__(self, folder: Path, batch_size: int = 32, threads: int = 1) -> None:
        self.folder = Path(folder)
        self.meta = _read_meta(self.folder)
        self.name: str = self.meta["model_id"]
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._words: tuple[dict[str, int], np.ndarray] | None | bool = None  # False: none
        self._lock = threading.Lock()

    def load(self) -> OnnxEmbedder:
        """Load the ONNX session and the tokenizer now instead of on the first text."""
        with self._lock:
            if self._session is None:
                self._tokenizer, self._session = _load_runtime(self.folder, self.meta, self.threads)
        return self

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages; see `Embeddings.embed_documents`."""
        if not texts:
            return []
        self.load()
        # Embed similar lengths together so short texts are not padded to a long one's size.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            part = order[start : start + self.batch_size]
            for index, vector in zip(part, self._embed([texts[i] for i in part]), strict=True):
                vectors[index] = vector.tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one question; see `Embeddings.embed_query`."""
        return self.embed_documents([text])[0]

    def word_vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """The vectors of those `words` that the export's word table holds, without a model
        call; none when the export has no readable table (`ensure_word_table`)."""
        import numpy as np

        with self._lock:
            if self._words is None:
                self._words = _read_word_table(self.folder) or False
            table = self._words
        if not table:
            return {}
        rows, matrix = table
        return {w: np.array(matrix[rows[w]]) for w in words if w in rows}

    def _embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {
            item.name: np.asarray(columns[item.name], dtype=np.int64)
            for item in self._session.get_inputs()
        }
        tokens = self._session.run(None, feed)[0]
        mask = np.asarray(columns["attention_mask"], dtype=tokens.dtype)[..., None]
        vectors = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self.meta["normalize"]:
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors


def make_query_embedder(settings: Settings, fallback: Embeddings | None = None) -> Embeddings:
    """The fastest embedder for questions that gives the same vectors as the index's.

    Args:
        settings: Which model, and where its ONNX export lives (`onnx_folder`).
        fallback: Returned when no usable export exists; by default `make_embedder(settings)`.

    Returns:
        A loaded `OnnxEmbedder` when the export exists and matches the model, else the fallback.
        A missing, stale or broken export is never an error: it only costs speed.
    """
    folder = onnx_folder(settings)
    reason = stale_reason(folder, model_id(settings))
    if reason is None:
        try:
            return OnnxEmbedder(folder, settings.embedding_batch_size).load()
        except Exception as error:  # noqa: BLE001 - any broken export means: use the real model
            reason = str(error)
    logger.debug("Not using the ONNX export at %s: %s", folder, reason)
    return fallback if fallback is not None else make_embedder(settings)


def ensure_onnx(settings: Settings) -> Path | None:
    """Export the settings' model to `onnx_folder(settings)` unless a current export is there.

    Meant for ingest, which has the real model loaded anyway: a failure is logged, never raised,
    so the index is built whether or not the export works. One process at a time exports
    (a file lock in the models folder, released by the system however the process ends), and
    it first removes what exports killed before they finished left behind.

    Returns:
        The export's folder, or None when exporting failed.
    """
    from filelock import FileLock, Timeout

    folder = onnx_folder(settings)
    name = model_id(settings)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(folder.parent / ".export.lock", timeout=_EXPORT_WAIT_SECONDS):
            remove_unfinished_exports(folder.parent)
            if stale_reason(folder, name) is not None:
                export_onnx(name, folder)
            try:
                ensure_word_table(folder)
            except Exception as error:  # noqa: BLE001 - the table too only saves time
                logger.warning("Learners' words will each cost a model call: %s", error)
            return folder
    except Timeout:
        logger.warning(
            "Questions will use sentence-transformers: another process has been exporting the "
            "query model to %s for %g s.",
            folder.parent,
            _EXPORT_WAIT_SECONDS,
        )
    except Exception as error:  # noqa: BLE001 - the export is an optimisation, not a must
        logger.warning("Questions will use sentence-transformers: ONNX export failed: %s", error)
    return None


def ensure_word_table(folder: Path) -> bool:
    """Embed the whole words of the export's tokenizer into its word table, unless a readable
    one is there (about ten seconds for MiniLM's 22,000 words on two cores).

    Call it while holding the export lock. The table is written under temporary names and
    renamed into place; a reader checks that its two files agree.

    Returns:
        Whether the folder now has a readable table.
    """
    import numpy as np

    if _read_word_table(folder) is not None:
        return True
    embedder = OnnxEmbedder(folder).load()
    words = sorted(w for w in embedder._tokenizer.get_vocab() if _WHOLE_WORD.fullmatch(w))
    order = sorted(range(len(words)), key=lambda i: len(words[i]))  # alike lengths together
    matrix = np.zeros((len(words), int(embedder.meta["dimension"])), dtype=np.float32)
    for start in range(0, len(order), 256):
        part = order[start : start + 256]
        matrix[part] = embedder._embed([words[i] for i in part])
    work = f".tmp-{uuid.uuid4().hex[:8]}"
    with (folder / f"{WORD_VECTORS}{work}").open("wb") as out:
        np.save(out, matrix)
    (folder / f"{WORDS}{work}").write_text("\n".join(words) + "\n", encoding="utf-8")
    (folder / f"{WORD_VECTORS}{work}").replace(folder / WORD_VECTORS)
    (folder / f"{WORDS}{work}").replace(folder / WORDS)
    return _read_word_table(folder) is not None


def _read_word_table(folder: Path) -> tuple[dict[str, int], np.ndarray] | None:
    """The export's word table, `({word: row}, vectors)`, mapped from disk (its rows are read
    only when asked for), or None when it is missing or its two files disagree."""
    import numpy as np

    try:
        words = (folder / WORDS).read_text(encoding="utf-8").split()
        matrix = np.load(folder / WORD_VECTORS, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        logger.warning("ignoring the word table in %s: its two files disagree", folder)
        return None
    return {word: row for row, word in enumerate(words)}, matrix


def remove_unfinished_exports(models: Path) -> list[str]:
    """Remove the working folders of exports that were killed before they finished.

    `export_onnx` builds in `.NAME.tmp-XXXXXXXX` and moves an old export aside as
    `.NAME.old-XXXXXXXX`; both go when it ends, unless the process is killed. Call it only
    while holding the export lock, so that no export in progress loses its folder.

    Returns:
        The names of the folders removed.
    """
    removed = []
    for path in sorted(models.iterdir()) if models.is_dir() else []:
        if _UNFINISHED.match(path.name) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        logger.info("Removed %d unfinished ONNX export(s) in %s", len(removed), models)
    return removed


def stale_reason(folder: Path, name: str) -> str | None:
    """Why the export in `folder` cannot stand in for model `name`, or None when it can.

    Cheap enough for every process start: reads meta.json and the source files' sizes and
    modification times, and hashes the source files only when those changed.
    """
    try:
        meta = _read_meta(folder)
    except EmbeddingModelError as error:
        return str(error)
    if meta.get("format") != FORMAT or meta.get("model_id") != name:
        return f"it was made for {meta.get('model_id')!r} (format {meta.get('format')})"
    onnx = folder / "model.onnx"
    if not (folder / "tokenizer.json").is_file() or not onnx.is_file():
        return "model.onnx or tokenizer.json is missing"
    if onnx.stat().st_size != meta.get("onnx_bytes"):
        return "model.onnx is not the file that was exported"
    if meta.get("sentence_transformers") != _version("sentence-transformers"):
        return "sentence-transformers changed since the export"
    try:
        source = Path(resolve_model(name))
    except EmbeddingModelError as error:
        return str(error)
    recorded = meta.get("source") or {}
    if not source.is_dir() or _stat_key(source) == recorded.get("stat"):
        return None  # a hub name has no local files to compare: the name and version must do
    if _content_hash(source) != recorded.get("sha256"):
        return f"the model files in {source} changed since the export"
    return None


def export_onnx(model_name_or_path: str, folder: Path) -> Path:
    """Export a sentence-transformers model's transformer, tokenizer and pooling to `folder`.

    Loads sentence-transformers and torch (slow: call it where they are loaded anyway). The
    export is built in a temporary folder beside `folder`, checked against the real model, and
    renamed into place, so an interrupted export never leaves a half-written folder.

    Args:
        model_name_or_path: Model name as in `model_id` (the default means the bundled model).
        folder: Where the export goes: `model.onnx`, `tokenizer.json` and `meta.json`.

    Returns:
        `folder`.

    Raises:
        EmbeddingModelError: The model cannot be loaded, its pipeline is not
            transformer → mean pooling (→ normalize), or the export's vectors differ.
    """
    model = SentenceTransformerEmbedder(model_name_or_path).model
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    work.mkdir()
    try:
        meta = _describe(model, model_name_or_path)
        _save_tokenizer(model, work / "tokenizer.json")
        _export_transformer(model, work / "model.onnx")
        meta["onnx_bytes"] = (work / "model.onnx").stat().st_size
        (work / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _self_check(model, work)
        _replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _describe(model: Any, name: str) -> dict[str, Any]:
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise EmbeddingModelError(f"Cannot export {name!r}: unsupported modules {kinds}.")
    pooling = model[1].get_config_dict()
    mode = pooling.get("pooling_mode") or (
        "mean" if pooling.get("pooling_mode_mean_tokens") else ""
    )
    if mode != "mean":
        raise EmbeddingModelError(f"Cannot export {name!r}: pooling {mode!r} is not mean.")
    dimension = getattr(model, "get_embedding_dimension", None)
    dimension = dimension or model.get_sentence_embedding_dimension
    source = Path(resolve_model(name))
    return {
        "format": FORMAT,
        "model_id": name,
        "max_seq_length": model.max_seq_length,
        "dimension": dimension(),
        "pooling": mode,
        "normalize": True,  # the index always stores normalize_embeddings=True vectors
        "pad_id": model.tokenizer.pad_token_id or 0,
        "pad_token": model.tokenizer.pad_token or "[PAD]",
        "sentence_transformers": _version("sentence-transformers"),
        "torch": _version("torch"),
        "source": {
            "stat": _stat_key(source) if source.is_dir() else None,
            "sha256": _content_hash(source) if source.is_dir() else None,
        },
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _save_tokenizer(model: Any, path: Path) -> None:
    from tokenizers import Tokenizer

    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EmbeddingModelError(
            "Cannot export: the model has no fast (tokenizer.json) tokenizer."
        )
    # A copy without the file's own truncation and padding: OnnxEmbedder sets both from meta.
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(path))


def _export_transformer(model: Any, path: Path) -> None:
    import inspect

    import torch

    transformer = model[0].auto_model.eval()
    names = [n for n in _MODEL_INPUTS if n in inspect.signature(transformer.forward).parameters]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # Two texts of different lengths, so the traced graph keeps a real padding mask.
    features = model.tokenizer(
        ["a short one", "a longer text to pad the short one"], padding=True, return_tensors="pt"
    )
    dynamic = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter needs only `onnx`; it warns that it is deprecated and that
        # traced shape checks become constants, which holds for an encoder with a full mask.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(),
            tuple(features[n] for n in names),
            str(path),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )


def _self_check(model: Any, folder: Path) -> None:
    import numpy as np

    expected = model.encode(_SELF_CHECK, normalize_embeddings=True, show_progress_bar=False)
    actual = np.asarray(OnnxEmbedder(folder).embed_documents(_SELF_CHECK))
    difference = float(np.abs(actual - expected).max())
    if difference > _SELF_CHECK_TOLERANCE:
        raise EmbeddingModelError(f"The ONNX export differs from the model by {difference:.2g}.")


def _replace(work: Path, folder: Path) -> None:
    # Directories cannot be swapped in one rename: for the moment in between, readers find
    # no export and fall back to sentence-transformers, which is slower but right.
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        if folder.exists():
            folder.rename(old)
        work.rename(folder)
    except OSError:
        if not (folder / "meta.json").is_file():
            raise
        # A concurrent export of the same model won the race; its folder is as good as ours.
    shutil.rmtree(old, ignore_errors=True)


def _load_runtime(folder: Path, meta: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import onnxruntime
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no optimiser chatter on the terminal
        session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types
        raise EmbeddingModelError(
            f"Cannot load the ONNX export in {folder}: {error}. Delete it and run "
            "cert-assistant ingest to export it again."
        ) from error
    return tokenizer, session


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        for key in ("model_id", "max_seq_length", "pad_id", "pad_token", "normalize"):
            meta[key]  # noqa: B018 - presence check
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EmbeddingModelError(f"No usable ONNX export in {folder}: {error!r}.") from error
    return meta


def _source_files(root: Path) -> list[Path]:
    # What sentence-transformers reads: configs, vocabularies and weights in the model folder
    # and its module subfolders, not other runtimes' copies (onnx/, openvino/) or docs.
    files = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        skip = len(parts) > 2 or any(p.startswith(".") or p in ("onnx", "openvino") for p in parts)
        if not skip and path.suffix in _SOURCE_SUFFIXES and path.is_file():
            files.append(path)
    return files


def _stat_key(root: Path) -> str:
    lines = []
    for path in _source_files(root):
        stat = path.stat()
        lines.append(f"{path.relative_to(root).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _content_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
