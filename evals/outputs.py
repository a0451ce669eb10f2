"""Where a run's CI files go: each destination checked before the run (a typo should not cost a
full evaluation), then written, and the summary appended to the CI page when one is given."""

from __future__ import annotations

import os
from pathlib import Path

from cert_core.errors import CertAssistantError


class OutputError(CertAssistantError):
    """An output file cannot be written where it was asked for (exit code 2)."""


def check_destination(path: Path, option: str) -> None:
    """Fail now, not after the run, when `path` cannot become a file.

    Its folder may be missing (it is created); it must not be a folder itself, nor sit below
    a file, nor in a folder this process cannot write.

    Raises:
        OutputError: Naming the option and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; give a file name, e.g. {path}/out")
    folder = next((p for p in path.parents if p.exists()), Path.cwd())
    if not folder.is_dir():
        raise OutputError(f"{option} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{option} {path}: cannot write in {folder}")


def write_output(path: Path, text: str, option: str) -> None:
    """Write `text` to `path`, creating its folder.

    Raises:
        OutputError: It cannot be written.
    """
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(f"Cannot write {option} {path}: {error.strerror or error}") from error


def append_step_summary(path: str | None, text: str) -> bool:
    """Append the summary to a CI step summary file (GitHub's `$GITHUB_STEP_SUMMARY`).

    Args:
        path: The file, or None/empty when not running in such a CI.
        text: The Markdown.

    Returns:
        Whether it was appended.

    Raises:
        OutputError: The file is set but cannot be appended to.
    """
    if not path:
        return False
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(text if text.endswith("\n") else text + "\n")
    except OSError as error:
        raise OutputError(
            f"Cannot append to GITHUB_STEP_SUMMARY {path}: {error.strerror or error}"
        ) from error
    return True
