"""The `cert-assistant` command: thin wiring from arguments to ingest/, retrieval/ and evals/."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cert_core.errors import CertAssistantError, LearnerWordsError
from cert_core.settings import Settings, read_settings

RETRIEVERS = ("hybrid", "dense", "bm25")  # evals.RETRIEVERS; evals is imported only by `eval`
SPLITS = ("dev", "test")  # evals.SPLITS
EVAL_EXIT_CODES = """exit codes:
  0  the run finished (and with --gate, every minimum was met)
  1  --gate: a metric of a split is below its minimum
  2  usage or setup error: bad option, dataset, thresholds or baseline file, no index,
     an output file that cannot be written"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    0: done. 1: done, but something needs a look (a file skipped, a gate failed), or another
    ingest kept the index busy for longer than `CERT_ASSISTANT_INGEST_WAIT_SECONDS`.
    2: could not run (bad usage or setting, no index or a damaged one, store unreachable).
    130: interrupted. 141: the output was closed before it was all written (`| head`).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code = args.run(args, load_settings())
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except CertAssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted: the index in use is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _drop_stdout()
        with contextlib.suppress(OSError):
            print("error: the output was closed before it was all written", file=sys.stderr)
        return 141


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail a second time."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def load_settings() -> Settings:
    """Settings from the environment, with a bad value reported as a `SettingsError`."""
    return read_settings()


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
    # --- pages of the course site (ingest/web.py) ---
    ingest.add_argument(
        "--url",
        dest="urls",
        action="extend",
        nargs="+",
        default=[],
        metavar="URL",
        help="pages of the course site to index, each cited by its URL (instead of files)",
    )
    ingest.add_argument(
        "--sitemap",
        dest="sitemaps",
        action="extend",
        nargs="+",
        default=[],
        metavar="URL",
        help="sitemaps whose pages to index; pages they stop listing are deleted",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    _command(commands, "stats", _stats, "Show what the index holds and where it lives.")

    ask = _command(
        commands,
        "ask",
        _ask,
        "Answer a question about the course, with numbered sources and links.",
    )
    ask.add_argument("question", nargs="?", help="the question (in quotes)")
    ask.add_argument(
        "--batch",
        type=Path,
        metavar="FILE.jsonl",
        help='answer every {"id", "question", "history"?} line of a JSONL file',
    )
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")

    bench = _command(
        commands,
        "bench",
        _bench,
        "Measure load time and answer latency against a plain LangChain baseline.",
    )
    bench.add_argument("--dataset", type=Path, help="questions to time (default: the eval set)")
    bench.add_argument("--cold-runs", type=int, default=3, help="cold `ask` processes to time")
    # --- ingest cost (issue 12): evals/ingest_bench.py ---
    bench.add_argument(
        "--ingest",
        action="store_true",
        help="instead: full ingest, one-edit ingest and data folder size of copies of the course",
    )
    bench.add_argument(
        "--copies", default="1,10,100", help="with --ingest: course sizes, comma-separated"
    )

    serve = _command(
        commands,
        "serve",
        _serve,
        "Serve the HTTP API, its OpenAPI docs and the chat widget (uvicorn).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8001, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes to run; each loads its own model"
    )

    staff = _command(
        commands,
        "staff",
        _staff,
        "Serve the staff dashboard (what learners ask, refusals, ratings) behind a sign-in.",
    )
    staff.add_argument("--host", default="127.0.0.1", help="address to listen on")
    staff.add_argument("--port", type=int, default=8502, help="port to listen on")

    evaluate = _command(
        commands,
        "eval",
        _eval,
        "Measure retrieval, answers, citations and refusals on a question set.",
    )
    cases = evaluate.add_mutually_exclusive_group()
    cases.add_argument(
        "--split",
        action="append",
        choices=SPLITS,
        help="split to evaluate, evals/<split>.jsonl; repeat for several (default: all)",
    )
    cases.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE.jsonl",
        help="cases in the evals/DATASET.md format, evaluated as one split named after the file",
    )
    evaluate.add_argument(
        "--retriever", choices=RETRIEVERS, default="hybrid", help="retriever to evaluate"
    )
    evaluate.add_argument(
        "--compare",
        action="store_true",
        help="evaluate all three retrievers side by side, and print hybrid before (the "
        "baseline) and after",
    )
    evaluate.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE.json",
        help="an earlier run's report.json to compare hybrid against: metric changes with "
        "bootstrap intervals and the cases that flipped (default with --compare: "
        "evals/baseline.json; a missing file is noted and skipped)",
    )
    evaluate.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="folder for report.json, report.md and report.png (default: DATA_DIR/eval-report)",
    )
    evaluate.add_argument(
        "--gate",
        action="store_true",
        help="exit 1 when a hybrid metric of a split is below its minimum in evals/thresholds.toml",
    )
    evaluate.add_argument(
        "--thresholds", type=Path, metavar="FILE.toml", help="minimums for --gate"
    )
    # --- CI outputs (evals/junit.py, evals/summary.py, evals/outputs.py) ---
    evaluate.add_argument(
        "--junit",
        type=Path,
        metavar="FILE.xml",
        help="write JUnit XML: one test per case, and with --gate one per gated metric",
    )
    evaluate.add_argument(
        "--summary",
        type=Path,
        metavar="FILE.md",
        help="write a Markdown summary (metrics, minimums, changes, flipped and failing "
        "cases); also appended to $GITHUB_STEP_SUMMARY when that is set",
    )
    evaluate.formatter_class = argparse.RawDescriptionHelpFormatter
    evaluate.epilog = EVAL_EXIT_CODES
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
    from ingest import ensure_onnx, ingest, make_embedder, make_store, model_id

    if args.urls or args.sitemaps:
        return _ingest_site(args, settings)
    paths = args.paths or [settings.knowledge_dir]
    report = ingest(
        paths,
        make_store(settings),
        lambda: make_embedder(settings),
        model=model_id(settings),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        progress=not args.quiet,
        root=settings.knowledge_dir,
        max_file_bytes=settings.max_file_bytes,
        follow_links_outside=settings.follow_links_outside,
    )
    for skipped in report.skipped:
        print(f"skipped {skipped.source}: {skipped.reason}", file=sys.stderr)
    for ignored in report.ignored:
        if Path(ignored).name != settings.learner_words_path.name:  # checked below
            print(f"ignored {ignored}: not a supported file type", file=sys.stderr)
    _print_ingest(report)
    thesaurus_broken = not _check_learner_words(settings.learner_words_path)
    # Questions are embedded through an ONNX export of the same model: a cold `ask`
    # then needs no torch. Exported once per model; a failure only costs speed.
    ensure_onnx(settings)
    if report.skipped:
        print(f"{len(report.skipped)} file(s) skipped; see above.", file=sys.stderr)
        return 1
    return 1 if thesaurus_broken else 0


def _check_learner_words(path: Path) -> bool:
    """Say how many learner phrases the course's thesaurus holds (`retrieval.learner_words`),
    or what is wrong with it: the assistant keeps the last good one until it is mended."""
    from retrieval.learner_words import LearnerWords

    if not path.is_file():
        return True
    try:
        words = LearnerWords.read(path)
    except LearnerWordsError as error:
        print(f"error: {error}", file=sys.stderr)
        return False
    terms = len(words.course_terms)
    plural = "" if terms == 1 else "s"
    print(f"learner words: {len(words.phrases)} phrases for {terms} course term{plural} ({path})")
    return True


def _print_ingest(report: Any) -> None:
    """The summary of an ingest (`ingest.IngestReport`): what changed in the index."""
    print(
        f"{report.documents} documents, {report.chunks} chunks: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted "
        f"in {report.seconds:.1f} s"
    )
    if report.texts_embedded:
        print(f"embedded {report.embedded} chunks and {report.units_embedded} quotable units")
    elif not report.changed:
        print("Index is up to date: nothing was embedded.")


def _ingest_site(args: argparse.Namespace, settings: Settings) -> int:
    """`ingest --url/--sitemap`: pages of the course site, one line per URL that failed."""
    from ingest import ensure_onnx, make_embedder, make_store, model_id
    from ingest.web import given_hosts, ingest_site
    from ingest.web_fetch import FetchOptions

    if args.paths:
        print("error: give files and folders, or --url/--sitemap, not both", file=sys.stderr)
        return 2
    given = [*args.urls, *args.sitemaps]
    options = FetchOptions(
        allowed_hosts=frozenset(settings.web_allowed_hosts) or given_hosts(given),
        user_agent=settings.web_user_agent,
        concurrency=settings.web_concurrency,
        delay_seconds=settings.web_delay_seconds,
        timeout_seconds=settings.web_timeout_seconds,
        retries=settings.web_retries,
        max_bytes=settings.max_file_bytes,
    )
    site = ingest_site(
        args.urls,
        args.sitemaps,
        make_store(settings),
        lambda: make_embedder(settings),
        model=model_id(settings),
        options=options,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        progress=not args.quiet,
    )
    for failed in site.failed:
        print(f"failed {failed.source}: {failed.reason}", file=sys.stderr)
    for removed in site.removed:
        print(f"removed {removed}: gone from the site or its sitemap")
    print(
        f"site: {site.fetched} pages fetched, {site.not_modified} not modified (304), "
        f"{len(site.removed)} removed, {len(site.failed)} failed"
    )
    _print_ingest(site.index)
    ensure_onnx(settings)
    if site.failed:
        print(f"{len(site.failed)} URL(s) failed; see above.", file=sys.stderr)
        return 1
    return 0


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import make_store
    from ingest.chroma_files import folder_bytes

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
    generations = [f"{g} (in use)" if g == manifest.active else g for g in store.generations()]
    print(f"generations:  {len(generations)}: {', '.join(generations)}")
    if manifest.overlay:  # an embedded index's edits since its generation (ingest.overlay)
        print(f"overlay:      {manifest.overlay} (in use)")
    index = "on the server" if settings.chroma_host else _mb(folder_bytes(settings.chroma_path))
    size = _mb(folder_bytes(settings.data_dir))
    print(f"data folder:  {settings.data_dir}, {size} (index {index})")
    return 0


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from cert_core.errors import QuestionError

    if (args.question is None) == (args.batch is None):
        raise QuestionError("Give either a QUESTION or --batch FILE.jsonl.")
    from retrieval import make_assistant

    assistant = make_assistant(settings)
    _warnings_in_one_line("retrieval")  # an LLM too slow or failing: one line, no traceback
    if args.batch is not None:
        return _ask_batch(assistant, args.batch, args.json)
    answer = assistant.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _warnings_in_one_line(logger: str) -> None:
    """Show the warnings and errors of `logger` on stderr as their message alone: the answer
    they fell back from is still printed, so a traceback would only bury it."""
    import logging

    class MessageOnly(logging.Formatter):
        def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
            return ""

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MessageOnly("%(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger(logger).addHandler(handler)


def _ask_batch(assistant: Any, path: Path, as_json: bool) -> int:
    """One result line per input line; a bad line gets an error object, the rest go on."""
    from cert_core.errors import QuestionError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionError(f"Cannot read {path}: {error}") from error
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record: dict[str, Any] = {"id": None}
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise QuestionError("each line must be a JSON object")
            record["id"] = item.get("id")
            answer = assistant.ask(item.get("question"), item.get("history"))
            record.update(answer.to_json())
        except (json.JSONDecodeError, CertAssistantError) as error:
            failures += 1
            record["error"] = f"line {number}: {error}"
        if as_json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(f"# {record['id']}\n{record.get('error') or record['answer']}\n")
    return 1 if failures else 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from evals.bench import DATASET, format_bench, run_bench

    if args.ingest:
        from evals.ingest_bench import format_table, run_ingest_bench

        copies = [int(n) for n in args.copies.split(",")]
        print(format_table(run_ingest_bench(settings, copies)))
        return 0
    result = run_bench(settings, args.dataset or DATASET, args.cold_runs)
    print(format_bench(result))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from cert_assistant.api import serve

    serve(settings, host=args.host, port=args.port, workers=max(1, args.workers))
    return 0


def _staff(args: argparse.Namespace, settings: Settings) -> int:
    """Check the staff sign-in, then become `streamlit run ui/staff_app.py` on its own port.

    Without a usable sign-in it raises `StaffAccessError`, which says what to set (exit 2).
    """
    import os

    from cert_assistant.staff_access import auth_secrets, staff_sign_in

    sign_in = staff_sign_in(settings, auth_secrets())
    root = Path(__file__).resolve().parents[1]
    script = root / "ui" / "staff_app.py"
    if not script.is_file():
        raise CertAssistantError(f"The staff dashboard {script} is missing: run from the source.")
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.address", args.host, "--server.port", str(args.port)]
    # The dashboard imports `ui` from the source folder, wherever this command runs.
    python_path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    print(f"Staff dashboard at http://{args.host}:{args.port}, sign-in: {sign_in.describe()}")
    sys.stdout.flush()
    os.execve(sys.executable, command, {**os.environ, "PYTHONPATH": python_path})
    return 0  # not reached: streamlit replaces this process


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    import evals
    from retrieval import make_assistant

    outputs = {"--junit": args.junit, "--summary": args.summary}
    for option, path in outputs.items():
        if path is not None:
            evals.check_destination(path, option)  # a typo must not cost a whole run
    if args.dataset:
        splits = [evals.load_split(args.dataset)]
    else:
        splits = evals.load_splits(args.split or list(evals.SPLITS))
    thresholds = evals.load_thresholds(args.thresholds) if args.gate else {}
    for split in splits if args.gate else []:
        evals.minimums_for(split.name, thresholds)  # no minimums: say so before the run
    comparing = args.compare or args.baseline is not None
    baseline = evals.load_baseline(args.baseline) if comparing else None
    names = list(RETRIEVERS) if args.compare else [args.retriever]
    wants_hybrid = args.gate or comparing or any(outputs.values())
    if wants_hybrid and evals.GATED not in names:
        names.insert(0, evals.GATED)
    assistant = make_assistant(settings)
    run = evals.evaluate(assistant, splits, names, progress=sys.stderr.isatty())
    report = evals.build_report(run)
    print(evals.format_table(report))
    folder = args.report or settings.data_dir / "eval-report"
    evals.write_report(report, folder)
    print(f"\n{evals.format_failing(report, listed_in_report=('dev',))}")
    total = sum(split.cases for split in report.splits.values())
    print(f"\n{total} cases in {report.seconds:.1f} s; report in {folder}/")
    changes, baseline_path = None, args.baseline or evals.DEFAULT_BASELINE
    if comparing and baseline is None:
        print(f"\nno baseline at {baseline_path}: before/after skipped")
    elif comparing:
        changes = evals.compare_with_baseline(baseline, report)  # checks the baseline's cases
        print(f"\n{evals.format_comparison(baseline, report.to_json())}")
        print(f"\n{evals.format_flips(changes)}")
    shortfalls: list = []
    if args.gate:
        metrics = {n: s.retrievers[evals.GATED].metrics for n, s in report.splits.items()}
        shortfalls = evals.check_gate(metrics, thresholds)
        print(f"\n{evals.format_gate(shortfalls, thresholds, list(metrics))}")
    if args.junit is not None or args.summary is not None:
        if baseline is not None:
            against = f"`{baseline_path}` (run {baseline.get('created_at', '?')})"
        else:
            against = f"none at `{baseline_path}`, so no changes or flips" if comparing else None
        gated = thresholds if args.gate else None
        _write_ci_outputs(args, report, gated, shortfalls, changes, against)
    return 1 if shortfalls else 0


def _write_ci_outputs(
    args: argparse.Namespace,
    report: Any,
    thresholds: dict | None,
    shortfalls: list,
    changes: dict | None,
    baseline: str | None,
) -> None:
    """`--junit` and `--summary`; the summary also goes to the CI page when there is one."""
    import evals

    if args.junit is not None:
        evals.write_output(args.junit, evals.junit_xml(report, thresholds, changes), "--junit")
    if args.summary is not None:
        text = evals.to_summary(report, thresholds, shortfalls, changes, baseline)
        evals.write_output(args.summary, text, "--summary")
        # Read here, not in Settings: it is GitHub's variable, set only inside a job.
        evals.append_step_summary(os.environ.get("GITHUB_STEP_SUMMARY"), text)


def format_answer(answer: Any) -> str:
    """An answer for a terminal: the text, then its numbered sources or suggestions."""
    lines = [answer.answer]
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            lines.append(f'  [{c.n}] {c.section}\n      {c.url}\n      "{c.text}"')
    if answer.suggestions:
        lines.append("\nRelated sections:")
        lines += [f"  - {s.section}\n      {s.url}" for s in answer.suggestions]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
