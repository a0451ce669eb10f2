"""A "Copy" button that puts a text on the learner's clipboard: a Streamlit component (v2).

The component lives in the page itself (a shadow root, no iframe), so the clipboard works in
the app and inside the course site's iframe (`allow="clipboard-write"`), and it needs nothing
from the network. Where the browser has no Clipboard API (plain http on another host), it
falls back to a selected text area and `document.execCommand("copy")`.
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<button type="button" aria-label="Copy the answer" title="Copy the answer">
  <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor"
    d="M9 18q-.8 0-1.4-.6T7 16V4q0-.8.6-1.4T9 2h9q.8 0 1.4.6T20 4v12q0 .8-.6 1.4T18 18Zm0-2h9V4H9Z
    m-4 6q-.8 0-1.4-.6T3 20V6h2v14h11v2ZM9 16V4Z"/></svg>
  <span>Copy</span>
</button>
<span class="status" role="status" aria-live="polite"></span>
"""

_CSS = """
button {
  display: inline-flex; align-items: center; gap: 0.35rem; cursor: pointer;
  padding: 0.2rem 0.5rem; border: 1px solid transparent; background: transparent;
  border-radius: var(--st-button-radius, 0.5rem); color: var(--st-text-color, inherit);
  font-family: var(--st-font, inherit); font-size: var(--st-base-font-size, 1rem);
}
button:hover, button:focus-visible { color: var(--st-primary-color); outline: none;
  border-color: var(--st-primary-color); }
.status { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
"""

_JS = """
async function copyText(root, text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");  // no Clipboard API: the old way
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  root.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

export default function ({ parentElement, data }) {
  const button = parentElement.querySelector("button");
  const label = button.querySelector("span");
  const status = parentElement.querySelector(".status");
  button.onclick = async () => {
    try {
      await copyText(parentElement, data.text);
      label.textContent = "Copied";
    } catch (error) {
      label.textContent = "Copy failed";
    }
    status.textContent = label.textContent;
    setTimeout(() => { label.textContent = "Copy"; status.textContent = ""; }, 2000);
  };
}
"""

_copy = st.components.v2.component("cert_assistant.copy_button", html=_HTML, css=_CSS, js=_JS)


def copy_button(text: str, key: str) -> None:
    """A "Copy" button that copies `text` (shown as is, never parsed) to the clipboard.

    Args:
        text: What the clipboard gets.
        key: The button's stable widget key.
    """
    _copy(key=key, data={"text": text}, width="content")
