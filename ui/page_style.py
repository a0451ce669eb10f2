"""The look both apps share where Streamlit's theme has no setting for it."""

from __future__ import annotations

import streamlit as st

# Streamlit draws captions in a grey of 3.9:1 on white, under the 4.5:1 that WCAG AA asks of
# small text. The theme has no caption colour, so captions take the text colour of the theme
# in force (light or dark) at 75 %: 5.8:1 on white, 5.1:1 on the sidebar, and as readable on
# the dark background.
READABLE_CAPTIONS = """
<style>
  [data-testid="stCaptionContainer"] { color: inherit; opacity: 0.75; }
</style>
"""


def readable_captions() -> None:
    """Make this page's captions readable (a style only: it takes no room on the page)."""
    st.html(READABLE_CAPTIONS)
