"""`cert-assistant` in a subprocess with the fake embedder, for the lock and fault tests.

Run as `python tests/fake_cli.py ingest ...`: the real command line, with `FakeEmbedder` in
place of the model and no ONNX export, so a run takes a second or two. Two variables shape it:

- `FAKE_EMBED_SECONDS`: a pause in every embedding call, so a run can be overlapped or killed
  while it writes;
- `FAKE_EMBED_MARK`: a file touched at the first embedding call, i.e. once the run holds the
  index and has read its manifest.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FakeEmbedder  # noqa: E402

import ingest  # noqa: E402
from cert_assistant.cli import main  # noqa: E402


class SlowFakeEmbedder(FakeEmbedder):
    """`FakeEmbedder` that pauses in every call and marks its first one."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages after the configured pause."""
        if mark := os.environ.get("FAKE_EMBED_MARK"):
            Path(mark).touch()
        time.sleep(float(os.environ.get("FAKE_EMBED_SECONDS", "0")))
        return super().embed_documents(texts)


if __name__ == "__main__":
    ingest.make_embedder = lambda settings: SlowFakeEmbedder()
    ingest.ensure_onnx = lambda settings: None
    sys.exit(main(sys.argv[1:]))
