"""cert-assistant in the browser: `streamlit run app.py` (`?embed=true` for the course site).

Thin wiring only: the page config, a compact layout when embedded, and the two pages
(`ui/chat.py` for learners, `ui/staff.py` for staff).
"""

import streamlit as st

# Embedded in the course site: no header or sidebar, so the chat gets the whole frame.
COMPACT_CSS = """
<style>
  [data-testid="stMainBlockContainer"] { padding: 1rem 1rem 0.5rem; max-width: 100%; }
  [data-testid="stBottomBlockContainer"] { padding: 0.5rem 1rem 1rem; max-width: 100%; }
  [data-testid="stHeader"] { display: none; }
</style>
"""

st.set_page_config(page_title="Course assistant", page_icon=":material/school:")
embedded = bool(st.context.is_embedded)
if embedded:
    st.html(COMPACT_CSS)
pages = [
    st.Page("ui/chat.py", title="Ask the course", icon=":material/forum:", default=True),
    st.Page("ui/staff.py", title="Staff: feedback", icon=":material/insights:", url_path="staff"),
]
st.navigation(pages, position="hidden" if embedded else "sidebar").run()
