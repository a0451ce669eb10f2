"""The chat's server: `streamlit run chat_server.py` serves `app.py` once the assistant is loaded.

`streamlit run app.py` loads the embedding model and the course index in the first session
that opens the page, so the first learner after a start waited ~10 s before the chat took a
question. Here Streamlit's ASGI server (`st.App`) runs a start-up hook before it accepts any
connection: it fills the same `st.cache_resource` entries the page reads (`ui/resources.py`),
and the first session finds them ready. The hook runs in a worker thread because loading
blocks; a failure is logged and left to the page, which explains it to the learner.

It sits next to `app.py` because Streamlit puts the folder of the file it runs on `sys.path`:
run from `ui/`, `ui/coverage.py` would hide the `coverage` package from every import.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

log = logging.getLogger("chat_server")

APP = Path(__file__).resolve().parent / "app.py"


def warm_up() -> None:
    """Fill the caches the chat reads: settings, feedback store and assistant.

    Nothing raised here stops the server: without an index or with a bad setting the page
    says what to do, as it would without a warm-up.
    """
    started = time.perf_counter()
    try:
        from ui.resources import load_assistant, load_feedback_store, load_settings

        load_settings()
        load_feedback_store()
        load_assistant()
        # What the first session would import: the chat page's own modules (imported here,
        # they register the page's components with the runtime that serves it), pandas,
        # which Streamlit imports for the first streamed answer, and the emoji table it
        # checks the page icon against (0.3 s each on a busy machine).
        import pandas  # noqa: F401
        import streamlit.emojis  # noqa: F401

        import ui.conversation_memory
        import ui.coverage
        import ui.followups
        import ui.messages  # noqa: F401
    except Exception as error:  # the page shows the same error to whoever opens it
        log.warning("Warm-up stopped, the first page load will explain: %s", error)
        return
    print(f"  Assistant loaded in {time.perf_counter() - started:.1f} s", flush=True)


@asynccontextmanager
async def warmed(_app: st.App) -> AsyncIterator[None]:
    """Start-up hook: load everything the first answer needs before accepting sessions."""
    await asyncio.to_thread(warm_up)
    yield


app = st.App(APP, lifespan=warmed)
