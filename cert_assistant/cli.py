"""The `cert-assistant` command: thin wiring from arguments to ingest/, retrieval/ and evals/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cert_assistant.errors import CertAssistantError
from cert_assistant.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        return args.run(args, settings)
    except CertAssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the index in use is unchanged", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cert-assistant",
        description="Answers questions about the Certified MLOps Architect course, with citations.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    ingest = _command(
        commands,
        "ingest",
        _ingest,
        "Index course files into Chroma (only what changed is embedded again).",
    )
    ingest.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or folders to index (default: the knowledge folder, "
        "CERT_ASSISTANT_KNOWLEDGE_DIR)",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    _command(commands, "stats", _stats, "Show what the index holds and where it lives.")
    return parser


def _command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace, Settings], int],
    summary: str,
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=summary, description=summary)
    sub.set_defaults(run=run)
    return sub


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import ingest, make_embedder, make_store, model_id

    paths = args.paths or [settings.knowledge_dir]
    report = ingest(
        paths,
        make_store(settings),
        lambda: make_embedder(settings),
        model=model_id(settings),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        progress=not args.quiet,
    )
    for skipped in report.skipped:
        print(f"skipped {skipped.source}: {skipped.reason}", file=sys.stderr)
    for ignored in report.ignored:
        print(f"ignored {ignored}: not a supported file type", file=sys.stderr)
    print(
        f"{report.documents} documents, {report.chunks} chunks: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted "
        f"in {report.seconds:.1f} s"
    )
    if not report.changed:
        print("Index is up to date: nothing was embedded.")
    if report.skipped:
        print(f"{len(report.skipped)} file(s) skipped; see above.", file=sys.stderr)
        return 1
    return 0


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import make_store

    store = make_store(settings)
    manifest = store.require_manifest()
    sources = sorted({s.chunk.source for s in store.chunks()})
    print(f"store:        {settings.store_location} (collection {manifest.active})")
    print(f"model:        {manifest.model}")
    print(f"documents:    {manifest.documents}")
    for source in sources:
        print(f"              {source}")
    print(f"chunks:       {manifest.chunks}")
    print(f"last change:  {manifest.ingested_at}")
    print(f"last ingest:  {manifest.checked_at}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
