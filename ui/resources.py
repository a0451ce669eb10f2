"""What the pages share, built once per process: settings, the assistant and the feedback store."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import streamlit as st

from cert_assistant.feedback import FeedbackStore
from cert_assistant.staff_access import SignInThrottle
from cert_core.errors import IndexMissingError
from cert_core.settings import Settings, read_settings

if TYPE_CHECKING:
    from retrieval import Assistant


@st.cache_resource(show_spinner=False)
def load_settings() -> Settings:
    """The settings, read from the environment once per process.

    Raises:
        SettingsError: A setting has a value it cannot take (not cached: read again).
    """
    return read_settings()


@st.cache_resource(show_spinner="Loading the course index and the embedding model…")
def load_assistant() -> Assistant:
    """The assistant, with its query model loaded, so the first question is as fast as the rest.

    Raises:
        StoreUnavailableError: The Chroma server cannot be reached (not cached: retried).
    """
    from retrieval import make_assistant

    assistant = make_assistant(load_settings())
    # Load the query model and BM25 now. Without an index there is nothing to load: the
    # page explains how to build it, and the assistant picks it up once built.
    with contextlib.suppress(IndexMissingError):
        assistant.warm_up()
    return assistant


@st.cache_resource(show_spinner=False)
def load_feedback_store() -> FeedbackStore:
    """The feedback store at `settings.feedback_url`: the SQLite file, or a shared database."""
    return FeedbackStore(load_settings().feedback_url)


@st.cache_resource(show_spinner=False)
def load_sign_in_throttle() -> SignInThrottle:
    """One count of wrong staff passwords for every session of the staff dashboard's process."""
    return SignInThrottle()
