"""cert-assistant in the browser: `streamlit run app.py` (`?embed=true` for the course site).

Thin wiring only: the page config, a compact layout when embedded, and the learner's page
(`ui/chat.py`). It is the only page this app knows: the staff dashboard is a separate app
with its own port and sign-in (`cert-assistant staff`, `ui/staff_app.py`), so no link, URL
or page switch here leads to it.
"""

import streamlit as st

from ui.page_style import readable_captions

# Embedded in the course site: no header or sidebar, so the chat gets the whole frame.
COMPACT_CSS = """
<style>
  [data-testid="stMainBlockContainer"] { padding: 1rem 1rem 0.5rem; max-width: 100%; }
  [data-testid="stBottomBlockContainer"] { padding: 0.5rem 1rem 1rem; max-width: 100%; }
  [data-testid="stHeader"] { display: none; }
</style>
"""

# An emoji icon is drawn in the page; a `:material/...` one is fetched from fonts.gstatic.com,
# and the app loads nothing from outside hosts.
st.set_page_config(page_title="Course assistant", page_icon="🎓")
readable_captions()
embedded = bool(st.context.is_embedded)
if embedded:
    st.html(COMPACT_CSS)
chat = st.Page("ui/chat.py", title="Ask the course", icon="🎓", default=True)
st.navigation([chat], position="hidden").run()
