"""Who may open the staff dashboard: an identity provider's login, or else the staff password.

Shared by `cert-assistant staff`, which refuses to start without a usable sign-in, and by the
dashboard (`ui/staff_app.py`), which asks for it. Streamlit's `st.login` runs the OIDC flow;
this module only decides which sign-in applies and checks what a person gave.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from cert_core.errors import CertAssistantError
from cert_core.settings import Settings

MIN_PASSWORD_CHARS = 12
SECRETS_FILE = ".streamlit/secrets.toml"
SHARED_KEYS = ("redirect_uri", "cookie_secret")  # Streamlit needs both in [auth]
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
NOT_A_PROVIDER = ("client_kwargs",)  # sub-tables of [auth] that are settings, not providers

NO_SIGN_IN = (
    "The staff dashboard needs a sign-in and none is configured. Either set "
    f"CERT_ASSISTANT_STAFF_PASSWORD to a password or token of at least {MIN_PASSWORD_CHARS} "
    f"characters, or configure an identity provider in {SECRETS_FILE} ([auth] with "
    "redirect_uri, cookie_secret, client_id, client_secret and server_metadata_url) and "
    "set CERT_ASSISTANT_STAFF_EMAILS to who may sign in."
)


class StaffAccessError(CertAssistantError):
    """No usable staff sign-in is configured; the message says what to set."""


@dataclass(frozen=True)
class StaffSignIn:
    """How staff prove who they are.

    Attributes:
        providers: Identity providers for `st.login`: None stands for the `[auth]` section's
            own keys, a name for an `[auth.NAME]` section. Empty when the password is used.
        emails: Who may open the dashboard after a provider's login (see `email_allowed`).
        password: The staff password or token; None when a provider is used.
    """

    providers: tuple[str | None, ...] = ()
    emails: tuple[str, ...] = ()
    password: SecretStr | None = None

    @property
    def uses_provider(self) -> bool:
        """True for an identity provider's login, False for the staff password."""
        return bool(self.providers)

    def describe(self) -> str:
        """The sign-in in words, for the start-up line (never the password itself)."""
        if self.uses_provider:
            names = ", ".join(p or "default" for p in self.providers)
            return f"identity provider ({names}) for {', '.join(self.emails)}"
        return "staff password (CERT_ASSISTANT_STAFF_PASSWORD)"


def staff_sign_in(settings: Settings, auth: Mapping[str, Any] | None) -> StaffSignIn:
    """The sign-in that guards the dashboard: a provider where one is configured, else the password.

    Args:
        settings: Supplies `staff_password` and `staff_emails`.
        auth: The `[auth]` section of Streamlit's secrets, or None (see `auth_secrets`).

    Raises:
        StaffAccessError: Neither is configured, or what is configured is incomplete.
    """
    providers = identity_providers(auth or {})
    if providers:
        if not settings.staff_emails:
            raise StaffAccessError(
                f"An identity provider is configured in {SECRETS_FILE}, but nobody may sign "
                "in: set CERT_ASSISTANT_STAFF_EMAILS to the staff's addresses or @domain, "
                "comma-separated (`*` lets in anyone the provider signs in)."
            )
        if not _authlib_installed():
            raise StaffAccessError(
                "Signing in through an identity provider needs Authlib: "
                "pip install 'streamlit[auth]'"
            )
        return StaffSignIn(providers=providers, emails=tuple(settings.staff_emails))
    password = settings.staff_password
    if password is None or not password.get_secret_value():
        raise StaffAccessError(NO_SIGN_IN)
    if len(password.get_secret_value()) < MIN_PASSWORD_CHARS:
        raise StaffAccessError(
            f"CERT_ASSISTANT_STAFF_PASSWORD is too short: use at least {MIN_PASSWORD_CHARS} "
            "characters (a long random token is best)."
        )
    return StaffSignIn(password=password)


def identity_providers(auth: Mapping[str, Any]) -> tuple[str | None, ...]:
    """The OIDC providers an `[auth]` section configures; empty when it configures none.

    >>> keys = {"client_id": "c", "client_secret": "s", "server_metadata_url": "https://i/"}
    >>> identity_providers({"redirect_uri": "u", "cookie_secret": "x", **keys})
    (None,)
    >>> identity_providers({"redirect_uri": "u", "cookie_secret": "x", "google": keys})
    ('google',)
    >>> identity_providers({})
    ()

    Raises:
        StaffAccessError: The section is there but a key Streamlit needs is missing.
    """
    if not auth:
        return ()
    where = f"[auth] in {SECRETS_FILE}"
    missing = [key for key in SHARED_KEYS if not auth.get(key)]
    if missing:
        raise StaffAccessError(f"{where} lacks {', '.join(missing)}: add it, or remove [auth].")
    providers: list[str | None] = []
    if any(key in auth for key in PROVIDER_KEYS):
        _require_provider_keys(auth, where)
        providers.append(None)
    for name, section in auth.items():
        if isinstance(section, Mapping) and name not in NOT_A_PROVIDER:
            _require_provider_keys(section, f"[auth.{name}] in {SECRETS_FILE}")
            providers.append(name)
    if not providers:
        raise StaffAccessError(
            f"{where} names no identity provider: add client_id, client_secret and "
            "server_metadata_url to it, or an [auth.NAME] section with them."
        )
    return tuple(providers)


def auth_secrets() -> dict[str, Any] | None:
    """The `[auth]` section of Streamlit's secrets files, as Streamlit itself would read it."""
    import streamlit as st

    if not st.secrets.load_if_toml_exists():
        return None
    auth = st.secrets.to_dict().get("auth")
    return auth if isinstance(auth, dict) else None


def password_matches(given: str, expected: SecretStr) -> bool:
    """Whether `given` is the staff password, in time that does not depend on where they differ.

    Both sides are hashed first, so the comparison does not reveal the length either.

    >>> password_matches("correct horse", SecretStr("correct horse"))
    True
    >>> password_matches("correct hors", SecretStr("correct horse"))
    False
    """
    digest = hashlib.sha256
    return hmac.compare_digest(
        digest(given.encode("utf-8")).digest(),
        digest(expected.get_secret_value().encode("utf-8")).digest(),
    )


def email_allowed(email: str | None, allowed: Sequence[str], verified: bool | None = None) -> bool:
    """Whether a provider's signed-in address is on the staff list.

    Args:
        email: The address the provider vouches for (`st.user.email`).
        allowed: Addresses, `@domain`s, or `*` for anyone the provider signs in.
        verified: The provider's `email_verified` claim, when it sends one.

    >>> email_allowed("Ana@School.example", ["@school.example"])
    True
    >>> email_allowed("ana@evil.example", ["ana@school.example", "@school.example"])
    False
    >>> email_allowed("ana@school.example", ["*"], verified=False)
    False
    """
    if not email or verified is False:
        return False
    email = email.strip().lower()
    for entry in (a.strip().lower() for a in allowed):
        if entry == "*" or entry == email or (entry.startswith("@") and email.endswith(entry)):
            return True
    return False


class SignInThrottle:
    """Slows password guessing across every session of the process.

    After `limit` wrong passwords within `window` seconds, no password is checked until the
    oldest of them is `window` seconds old.
    """

    def __init__(
        self, limit: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Seconds until a password may be tried; 0 when it may be tried now."""
        with self._lock:
            now = self._clock()
            while self._failures and now - self._failures[0] >= self.window:
                self._failures.popleft()
            if len(self._failures) < self.limit:
                return 0.0
            return self.window - (now - self._failures[0])

    def failed(self) -> None:
        """Count one wrong password."""
        with self._lock:
            self._failures.append(self._clock())


def _authlib_installed() -> bool:
    """Streamlit's `st.login` needs Authlib (the `streamlit[auth]` extra)."""
    return importlib.util.find_spec("authlib") is not None


def _require_provider_keys(section: Mapping[str, Any], where: str) -> None:
    missing = [key for key in PROVIDER_KEYS if not section.get(key)]
    if missing:
        raise StaffAccessError(f"{where} lacks {', '.join(missing)}.")
