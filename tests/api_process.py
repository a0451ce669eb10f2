"""`cert-assistant serve` in a subprocess on loopback, for the browser, scale-out and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_SECONDS = 180  # loading the model on a busy two-core machine can take a while


@dataclass
class ApiProcess:
    """A running API: its base URL, process and log file."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(errors="replace")


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_env(**settings: str) -> dict[str, str]:
    """This process's environment without CERT_ASSISTANT_* settings, plus `settings`, offline.

    Keys are setting names (`data_dir="..."` becomes `CERT_ASSISTANT_DATA_DIR`).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "0"})
    env.update({f"CERT_ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@contextmanager
def running_api(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[ApiProcess]:
    """Start `cert-assistant serve` and wait until `/healthz` answers 200; stop it afterwards.

    Args:
        env: The whole environment of the server (see `api_env`).
        log: File that receives the server's output, shown when it fails to start.
        port: Port to listen on; a free one by default.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "cert_assistant.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    api = ApiProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_healthy(api)
        yield api
    finally:
        stop_process(process, grace=20)


def stop_process(process: subprocess.Popen, grace: float = 10, then: float = 10) -> None:
    """Ask a server process to stop; kill it when it has not within `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=then)


def _wait_healthy(api: ApiProcess) -> None:
    deadline = time.monotonic() + START_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            pytest.fail(f"the API exited with {api.process.returncode}:\n{api.log_text()}")
        try:
            response = httpx.get(f"{api.url}/healthz", timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.25)
    pytest.fail(f"the API at {api.url} was not healthy in {START_SECONDS} s ({last}):\n"
                f"{api.log_text()}")  # fmt: skip
