"""The browser's memory of its conversation: the id in `localStorage`, the turns in the store.

A Streamlit session ends with the page, so a reload, or the next course page with the chat
embedded, used to start an empty chat. This component (v2, no iframe, nothing drawn) keeps
the conversation's id in the browser: when a session starts, it reports the id the browser
kept, and the page shows that conversation's turns again; after that it keeps whichever
conversation the page is on. `localStorage` rather than `sessionStorage`, because a citation
opens the course page in a new tab, whose chat should go on too; "New conversation" forgets.

The id is the only key to the turns, so it is 128 random bits, never in a URL; an id the
store has no turns for shows an empty chat.
"""

from __future__ import annotations

import json
import secrets
import uuid

import streamlit as st

STORAGE_KEY = "cert-assistant.conversation"

_JS = (
    f"const STORAGE_KEY = {json.dumps(STORAGE_KEY)};\n"
    + """

function storage() {
  try { return window.localStorage; } catch (error) { return null; }  // blocked: no memory
}

export default function ({ data, setStateValue }) {
  const memory = storage();
  let kept = null;
  try { kept = memory && memory.getItem(STORAGE_KEY); } catch (error) { kept = null; }
  if (data.starting && kept && kept !== data.id) {
    setStateValue("kept", kept);  // the page switches to it, then tells us to keep it
    return;
  }
  try { if (memory) memory.setItem(STORAGE_KEY, data.id); } catch (error) { /* full */ }
}
"""
)

_memory = st.components.v2.component("cert_assistant.conversation_memory", js=_JS)
# It draws nothing, but its empty box would still take a gap at the top of the chat.
_HIDDEN = "<style>.st-key-conversation-memory { display: none; }</style>"


def new_conversation_id() -> str:
    """A fresh conversation id: 128 random bits, written as a UUID (what the store takes).

    >>> len(uuid.UUID(new_conversation_id()).hex)
    32
    """
    return str(uuid.UUID(bytes=secrets.token_bytes(16)))


def kept_conversation(conversation_id: str, starting: bool) -> str | None:
    """Keep `conversation_id` in the browser, or learn the one it kept from an earlier page.

    Args:
        conversation_id: The conversation the page is on now.
        starting: True while the session has shown nothing yet and not heard from the
            browser: then a different id the browser kept is reported instead of replaced.

    Returns:
        The id the browser kept, once it has reported one that differs, as a UUID string;
        None before that, when it kept none, or when what it kept is not an id.
    """
    st.html(_HIDDEN)
    result = _memory(
        key="conversation-memory",
        data={"id": conversation_id, "starting": starting},
        on_kept_change=lambda: None,
        width="content",
    )
    kept = getattr(result, "kept", None)
    try:
        return str(uuid.UUID(str(kept))) if kept else None
    except ValueError:  # edited by hand or by a script: start afresh
        return None
