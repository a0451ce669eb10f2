"""The staff dashboard's own app (`cert-assistant staff`): a sign-in, then the page `ui/staff.py`.

It is not part of the learner app: `app.py` never registers the staff page, so its server has
no link, URL or page switch that leads here. Staff sign in through an identity provider
(`st.login`) where `.streamlit/secrets.toml` configures one, else with the staff password
(`cert_assistant.staff_access` decides which and checks it).
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import streamlit as st

from cert_assistant.staff_access import (
    StaffAccessError,
    StaffSignIn,
    auth_secrets,
    email_allowed,
    password_matches,
    staff_sign_in,
)
from ui.page_style import readable_captions
from ui.resources import load_settings, load_sign_in_throttle
from ui.safe_markdown import escape

log = logging.getLogger("ui.staff_app")  # scripts run as __main__: name the logger

# Streamlit puts this file's folder first on sys.path, where `ui/coverage.py` would hide the
# `coverage` package that numba (under bm25s) imports once the dashboard loads the assistant
# (a disliked follow-up's search). `ui` is imported as a package from the project folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

TITLE = "Staff dashboard"
SIGNED_IN = "staff-signed-in"  # session state: this session gave the right password


def require_sign_in() -> StaffSignIn:
    """The sign-in in force; stops the page, saying what to set, when none is usable."""
    try:
        return staff_sign_in(load_settings(), auth_secrets())
    except StaffAccessError as error:
        st.title(TITLE)
        st.error(str(error), icon=":material/lock:")
        st.stop()
        raise AssertionError("unreachable") from error  # st.stop() ends the run


def ask_password(sign_in: StaffSignIn) -> None:
    """The password form; returns only once this session has given the right password."""
    if st.session_state.get(SIGNED_IN):
        return
    st.title(TITLE)
    # Cleared on submit: the password stays neither in the field nor in session state.
    with st.form("staff-sign-in", clear_on_submit=True):
        given = st.text_input("Staff password", type="password", key="staff-password")
        submitted = st.form_submit_button("Sign in", key="staff-sign-in-button")
    if submitted:
        throttle = load_sign_in_throttle()
        assert sign_in.password is not None  # a password sign-in always has one
        if wait := throttle.wait():
            st.error(f"Too many wrong passwords: try again in {math.ceil(wait)} s.")
        elif password_matches(given, sign_in.password):
            st.session_state[SIGNED_IN] = True
            st.rerun()
        else:
            throttle.failed()
            log.warning("Staff sign-in refused: wrong password")
            st.error("Wrong password.", icon=":material/lock:")
    st.stop()


def ask_provider(sign_in: StaffSignIn) -> None:
    """The identity provider's login; returns only for a signed-in address on the staff list."""
    if not st.user.is_logged_in:
        st.title(TITLE)
        st.write("Sign in with your staff account.")
        for provider in sign_in.providers:
            st.button(
                f"Sign in with {provider}" if provider else "Sign in",
                key=f"sign-in-{provider or 'default'}",
                on_click=st.login,
                args=(provider,) if provider else (),
            )
        st.stop()
    email, verified = st.user.get("email"), st.user.get("email_verified")
    if not email_allowed(email, sign_in.emails, verified if isinstance(verified, bool) else None):
        log.warning("Staff sign-in refused: the address is not on CERT_ASSISTANT_STAFF_EMAILS")
        st.title(TITLE)
        st.error(
            f"{escape(str(email or 'This account'))} is not on the staff list. Ask for it to "
            "be added to CERT_ASSISTANT_STAFF_EMAILS.",
            icon=":material/lock:",
        )
        st.button("Sign out", key="sign-out", on_click=st.logout)
        st.stop()


def render_sign_out(sign_in: StaffSignIn) -> None:
    """Who is signed in, and the way out."""
    with st.sidebar:
        if sign_in.uses_provider:
            st.caption(f"Signed in as {escape(str(st.user.get('email')))}")
            st.button("Sign out", key="sign-out", on_click=st.logout)
        else:
            st.button("Sign out", key="sign-out", on_click=st.session_state.pop, args=(SIGNED_IN,))


st.set_page_config(page_title=f"{TITLE} · Course assistant")
readable_captions()
sign_in = require_sign_in()
if sign_in.uses_provider:
    ask_provider(sign_in)
else:
    ask_password(sign_in)
render_sign_out(sign_in)
st.navigation([st.Page("staff.py", title=TITLE, default=True)], position="hidden").run()
