"""Staff sign-in: which one applies, password and address checks, and `cert-assistant staff`."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from cert_assistant import cli, staff_access
from cert_assistant.staff_access import (
    SignInThrottle,
    StaffAccessError,
    email_allowed,
    identity_providers,
    password_matches,
    staff_sign_in,
)
from cert_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
PROVIDER = {
    "client_id": "dashboard",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://id.school.example/.well-known/openid-configuration",
}
AUTH = {"redirect_uri": "http://localhost:8502/oauth2callback", "cookie_secret": "x" * 32}


@pytest.fixture
def authlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend `streamlit[auth]` is installed (the checks never call Authlib itself)."""
    monkeypatch.setattr(staff_access, "_authlib_installed", lambda: True)


def test_the_password_is_used_when_no_provider_is_configured() -> None:
    sign_in = staff_sign_in(Settings(staff_password=PASSWORD), None)

    assert not sign_in.uses_provider
    assert sign_in.password is not None and sign_in.password.get_secret_value() == PASSWORD
    assert PASSWORD not in sign_in.describe() and PASSWORD not in repr(sign_in)


@pytest.mark.parametrize("password", [None, ""], ids=["unset", "empty"])
def test_without_any_sign_in_the_error_says_what_to_set(password: str | None) -> None:
    with pytest.raises(StaffAccessError) as raised:
        staff_sign_in(Settings(staff_password=password), None)

    message = str(raised.value)
    assert "CERT_ASSISTANT_STAFF_PASSWORD" in message
    assert "[auth]" in message and "CERT_ASSISTANT_STAFF_EMAILS" in message


def test_a_short_password_is_refused_without_being_echoed() -> None:
    with pytest.raises(StaffAccessError, match="at least 12 characters") as raised:
        staff_sign_in(Settings(staff_password="hunter2"), None)
    assert "hunter2" not in str(raised.value)


def test_a_provider_wins_over_the_password_and_needs_a_staff_list(authlib: None) -> None:
    auth = {**AUTH, **PROVIDER}
    with pytest.raises(StaffAccessError, match="CERT_ASSISTANT_STAFF_EMAILS"):
        staff_sign_in(Settings(staff_password=PASSWORD), auth)

    settings = Settings(staff_password=PASSWORD, staff_emails="ana@school.example, @staff.example")
    sign_in = staff_sign_in(settings, auth)
    assert sign_in.providers == (None,) and sign_in.password is None
    assert sign_in.emails == ("ana@school.example", "@staff.example")


def test_a_provider_without_authlib_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff_access, "_authlib_installed", lambda: False)
    with pytest.raises(StaffAccessError, match=r"streamlit\[auth\]"):
        staff_sign_in(Settings(staff_emails="*"), {**AUTH, **PROVIDER})


def test_providers_named_and_default_and_incomplete_sections() -> None:
    assert identity_providers({**AUTH, "google": PROVIDER, "okta": PROVIDER}) == ("google", "okta")
    assert identity_providers({**AUTH, **PROVIDER, "client_kwargs": {"prompt": "login"}}) == (None,)
    with pytest.raises(StaffAccessError, match="lacks cookie_secret"):
        identity_providers({"redirect_uri": AUTH["redirect_uri"], **PROVIDER})
    with pytest.raises(StaffAccessError, match=r"\[auth.google\].*lacks client_secret"):
        identity_providers({**AUTH, "google": {**PROVIDER, "client_secret": ""}})
    with pytest.raises(StaffAccessError, match="names no identity provider"):
        identity_providers(AUTH)


def test_password_comparison_is_exact() -> None:
    secret = SecretStr(PASSWORD)
    assert password_matches(PASSWORD, secret)
    for wrong in ("", PASSWORD[:-1], PASSWORD + " ", PASSWORD.upper(), "é" + PASSWORD[1:]):
        assert not password_matches(wrong, secret)


def test_staff_list_matches_addresses_domains_and_everyone() -> None:
    allowed = ["ana@school.example", "@staff.example"]
    assert email_allowed("ANA@school.example ", allowed)
    assert email_allowed("bo@staff.example", allowed, verified=True)
    assert not email_allowed("bo@notstaff.example", allowed)
    assert not email_allowed("bo@staff.example.evil", allowed)
    assert not email_allowed("bo@staff.example", allowed, verified=False)
    assert not email_allowed(None, ["*"]) and not email_allowed("", ["*"])
    assert email_allowed("anyone@anywhere.example", ["*"])


def test_throttle_stops_guessing_for_the_rest_of_the_window() -> None:
    now = [1000.0]
    throttle = SignInThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait() == 0
        throttle.failed()
        now[0] += 1
    assert throttle.wait() == pytest.approx(57)
    now[0] += 57
    assert throttle.wait() == 0  # the first failure is a window old


def test_cli_refuses_to_start_without_a_sign_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CERT_ASSISTANT_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr(staff_access, "auth_secrets", lambda: None)
    monkeypatch.setattr(os, "execve", _never_exec)

    assert cli.main(["staff"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "CERT_ASSISTANT_STAFF_PASSWORD" in error


def test_cli_starts_the_dashboard_without_putting_the_password_anywhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CERT_ASSISTANT_STAFF_PASSWORD", PASSWORD)
    monkeypatch.setattr(staff_access, "auth_secrets", lambda: None)
    started: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execve", lambda path, args, env: started.append((path, args, env)))

    assert cli.main(["staff", "--port", "8642"]) == 0
    ((path, args, env),) = started
    assert path == sys.executable
    assert args[1:5] == ["-m", "streamlit", "run", str(ROOT / "ui" / "staff_app.py")]
    assert args[args.index("--server.port") + 1] == "8642"
    assert args[args.index("--server.address") + 1] == "127.0.0.1"
    assert str(ROOT) in env["PYTHONPATH"].split(os.pathsep)
    printed = capsys.readouterr()
    assert "http://127.0.0.1:8642" in printed.out and "staff password" in printed.out
    assert PASSWORD not in " ".join(args) + printed.out + printed.err


def test_cli_reads_the_identity_provider_from_streamlit_secrets(tmp_path: Path) -> None:
    """A real `cert-assistant staff` in a folder whose secrets configure a provider."""
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    lines = ["[auth]", *(f'{k} = "{v}"' for k, v in {**AUTH, **PROVIDER}.items())]
    secrets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env |= {"HOME": str(tmp_path), "CERT_ASSISTANT_STAFF_PASSWORD": PASSWORD}

    done = subprocess.run(
        [sys.executable, "-m", "cert_assistant.cli", "staff"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # The provider is chosen over the password, and it needs a staff list (or Authlib) first.
    assert done.returncode == 2, done.stderr
    assert "CERT_ASSISTANT_STAFF_EMAILS" in done.stderr or "streamlit[auth]" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_doctests_pass() -> None:
    failed, attempted = doctest.testmod(staff_access)
    assert attempted > 0 and failed == 0


def _never_exec(*args: object) -> None:
    raise AssertionError("the dashboard must not start")
