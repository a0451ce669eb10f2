"""Errors a user can cause, each with a message that says what to do next."""


class CertAssistantError(Exception):
    """Base of every error the assistant reports to a person instead of a traceback."""


class IndexMissingError(CertAssistantError):
    """The Chroma index has not been built yet."""

    def __init__(self, location: str) -> None:
        super().__init__(f"No course index at {location}. Build it with: cert-assistant ingest")


class StoreUnavailableError(CertAssistantError):
    """The Chroma server cannot be reached."""


class EmbeddingModelError(CertAssistantError):
    """The embedding model cannot be loaded."""


class QuestionError(CertAssistantError):
    """A question is empty, too long, or otherwise unusable.

    Attributes:
        field: What is wrong: `question` or `history`.
        too_large: The input is over a size limit (rather than malformed or empty).
    """

    def __init__(self, message: str, field: str = "question", too_large: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.too_large = too_large


class SettingsError(CertAssistantError):
    """A `CERT_ASSISTANT_*` environment variable holds a value that is not allowed."""


class LearnerWordsError(CertAssistantError):
    """The course's thesaurus of learner words (`learner-words.toml`) cannot be read."""
