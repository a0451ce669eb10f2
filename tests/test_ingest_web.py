"""`ingest --url/--sitemap`: the course site on loopback, ingested, changed and ingested again.

The site (tests/course_site.py) is a real HTTP server on 127.0.0.1 with a sitemap, a
robots.txt, a 404, a 500, a slow page, a redirect and a host outside the allowlist. Most
tests use the fake embedder over a real embedded Chroma; the last one uses the real model
and answers a question from the fetched pages.
"""

from __future__ import annotations

import doctest
import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from course_site import CourseSite, demo_site, serve

import ingest as ingest_package
import ingest.pipeline
import ingest.sitemap
import ingest.web
import ingest.web_fetch
import ingest.web_pages
from cert_assistant.cli import main
from cert_core.settings import Settings
from ingest.sitemap import parse_sitemap
from ingest.sources import LoadError
from ingest.store import ChunkStore
from ingest.web import SiteReport, ingest_site
from ingest.web_fetch import FetchOptions

MODEL = "fake-model"


@pytest.fixture
def site() -> Iterator[CourseSite]:
    """The demo course site, served until the test ends."""
    running = demo_site()
    server = serve(running)
    yield running
    server.shutdown()
    server.server_close()


def options(site: CourseSite, **changes: object) -> FetchOptions:
    """Fast fetching for tests: no pause between requests, a short timeout, one retry."""
    values = {
        "allowed_hosts": frozenset({f"127.0.0.1:{site.port}"}),
        "delay_seconds": 0.0,
        "timeout_seconds": 0.5,
        "retries": 1,
        **changes,
    }
    return FetchOptions(**values)


def ingest_sitemap(site: CourseSite, store: ChunkStore, embedder, **changes) -> SiteReport:
    return ingest_site(
        [],
        [site.sitemap_url],
        store,
        embedder,
        model=MODEL,
        options=options(site, **changes),
        progress=False,
    )


def failures(report: SiteReport) -> dict[str, str]:
    return {f.source: f.reason for f in report.failed}


def test_a_sitemap_is_indexed_with_each_failed_url_named(site, chunk_store, fake_embedder):
    report = ingest_sitemap(site, chunk_store, fake_embedder)

    failed = failures(report)
    assert sorted(failed) == sorted(
        site.url(p)
        for p in [
            "/course/missing",
            "/course/broken",
            "/course/slow",
            "/course/private/drafts",
        ]
    ) + [f"http://localhost:{site.port}/course/elsewhere"]
    assert failed[site.url("/course/missing")] == "HTTP 404 Not Found: the page is gone"
    assert failed[site.url("/course/broken")] == "HTTP 500 Internal Server Error (2 tries)"
    assert len(site.requests("/course/broken")) == 2  # tried again, then named
    assert failed[site.url("/course/slow")] == "timed out after 0.5 s (2 tries)"
    assert "robots.txt" in failed[site.url("/course/private/drafts")]
    assert site.requests("/course/private/drafts") == []  # never asked for
    assert "is not allowed" in failed[f"http://localhost:{site.port}/course/elsewhere"]
    assert all("\n" not in reason for reason in failed.values())

    sources = {s.chunk.source for s in chunk_store.chunks()}
    assert sources == {
        site.url(p)
        for p in ["/course/faq", "/course/guide", "/course/syllabus", "/course/old-news"]
    } | {site.url("/course/new-home")}  # the redirect is known by the URL it ended at
    assert (report.fetched, report.not_modified, report.index.documents) == (5, 0, 5)


def test_citations_use_the_pages_own_urls_and_heading_ids(site, chunk_store, fake_embedder):
    ingest_sitemap(site, chunk_store, fake_embedder)
    chunks = [s.chunk for s in chunk_store.chunks()]
    by_section = {c.section: c for c in chunks}

    faq = by_section[
        "Frequently asked questions > General questions > How hard is the "
        "Certified MLOps Architect exam?"
    ]
    assert faq.url("https://unused.example.org") == site.url(
        "/course/faq#faq-how-hard-is-the-certified-mlops-architect-exam"
    )
    pacing = by_section["Study tips > Pacing"]  # the id is on the <section> it opens
    assert pacing.url("") == site.url("/course/new-home#tips-pacing")
    text = " ".join(c.text for c in chunks)
    for boilerplate in ("Sign in to the learner portal", "Related courses", "Copyright 2026"):
        assert boilerplate not in text  # navigation, sidebar and footer are not content
    assert "Cookie notice" not in text


def test_the_sidebar_links_fetched_pages_to_themselves(site, chunk_store, fake_embedder):
    from ui.coverage import course_contents

    site.listed = ["/course/new-home"]
    ingest_sitemap(site, chunk_store, fake_embedder)

    [page] = course_contents([s.chunk for s in chunk_store.chunks()], base_url="")

    assert page.url == site.url("/course/new-home")
    assert [s.url for s in page.sections] == [site.url("/course/new-home#tips-pacing")]


def test_the_second_ingest_fetches_only_the_changed_page(site, chunk_store, make_fake_embedder):
    ingest_sitemap(site, chunk_store, make_fake_embedder())
    before = {s.chunk.id: s.chunk for s in chunk_store.chunks()}
    site.pages["/course/syllabus"] = site.pages["/course/syllabus"].replace(
        "The Foundation level is the entry stage", "The Foundation level is the first stage"
    )
    site.listed.remove("/course/old-news")
    site.log.clear()
    embedder = make_fake_embedder()

    report = ingest_sitemap(site, chunk_store, embedder)

    assert (report.fetched, report.not_modified) == (1, 3)
    assert [r.status for r in site.requests("/course/syllabus")] == [200]
    for path in ("/course/faq", "/course/guide", "/course/new-home"):
        [request] = site.requests(path)
        assert request.status == 304 and request.if_none_match
    assert site.requests("/course/old-news") == []
    assert report.removed == [site.url("/course/old-news")]
    after = {s.chunk.id: s.chunk for s in chunk_store.chunks()}
    assert {c.source for c in after.values()} == {c.source for c in before.values()} - {
        site.url("/course/old-news")
    }
    assert report.index.updated == 1 and report.index.added == 0
    assert report.index.deleted == sum(
        c.source == site.url("/course/old-news") for c in before.values()
    )
    assert embedder.embedded < 10  # the changed chunk and its units, not the site
    assert any("the first stage" in c.text for c in after.values())


def test_a_page_gone_404_is_deleted_from_the_index(site, chunk_store, fake_embedder):
    ingest_sitemap(site, chunk_store, fake_embedder)
    del site.pages["/course/guide"]

    report = ingest_sitemap(site, chunk_store, fake_embedder)

    assert site.url("/course/guide") not in {s.chunk.source for s in chunk_store.chunks()}
    assert report.removed == [site.url("/course/guide")]
    assert failures(report)[site.url("/course/guide")] == "HTTP 404 Not Found: the page is gone"


def test_a_page_failing_for_a_passing_reason_keeps_its_last_version(
    site, chunk_store, fake_embedder
):
    ingest_sitemap(site, chunk_store, fake_embedder)
    faq = {s.chunk.id for s in chunk_store.chunks() if s.chunk.source == site.url("/course/faq")}
    site.failing.add("/course/faq")

    report = ingest_sitemap(site, chunk_store, fake_embedder)

    reason = failures(report)[site.url("/course/faq")]
    assert reason == "HTTP 503 Service Unavailable (2 tries)"
    after = {s.chunk.id for s in chunk_store.chunks() if s.chunk.source == site.url("/course/faq")}
    assert faq and after == faq
    assert report.removed == [] and report.index.deleted == 0

    site.failing.clear()  # back: answered 304 from the copy kept, nothing embedded again
    report = ingest_sitemap(site, chunk_store, fake_embedder)
    assert site.url("/course/faq") not in failures(report)
    assert not report.index.changed


def test_politeness_one_request_at_a_time_with_a_pause(site, chunk_store, fake_embedder):
    site.listed = ["/course/faq", "/course/guide", "/course/syllabus", "/course/old-news"]

    ingest_sitemap(site, chunk_store, fake_embedder, concurrency=1, delay_seconds=0.3)

    requests = sorted(site.log, key=lambda r: r.started)
    assert [r.path for r in requests][:2] == ["/robots.txt", "/course/sitemap.xml"]
    for earlier, later in zip(requests, requests[1:], strict=False):
        assert later.started >= earlier.ended  # never two at once
        # Starts the delay apart, as the client timed them (the server sees them a few
        # milliseconds later, each after its own connection); without pacing: milliseconds.
        assert later.started - earlier.started >= 0.25


def test_crawl_delay_in_robots_txt_slows_ingest_down(site, chunk_store, fake_embedder):
    site.robots = "User-agent: *\nCrawl-delay: 1\n"  # whole seconds (urllib.robotparser)
    site.listed = ["/course/faq"]

    ingest_sitemap(site, chunk_store, fake_embedder, concurrency=1)

    [sitemap] = site.requests("/course/sitemap.xml")
    [page] = site.requests("/course/faq")
    assert page.started - sitemap.started >= 0.9  # Crawl-delay 1, give or take a connection


def test_url_pages_are_indexed_each_for_itself(site, chunk_store, fake_embedder):
    ingest_sitemap(site, chunk_store, fake_embedder)
    before = {s.chunk.source for s in chunk_store.chunks()}

    report = ingest_site(
        [site.url("/course")],  # a URL that begins every other page's URL
        [],
        chunk_store,
        fake_embedder,
        model=MODEL,
        options=options(site),
        progress=False,
    )

    assert report.failed == [] and report.fetched == 1
    assert {s.chunk.source for s in chunk_store.chunks()} == before | {site.url("/course")}
    assert report.index.deleted == 0


def test_a_redirect_off_the_allowed_hosts_is_named(site, chunk_store, fake_embedder):
    site.redirects["/course/away"] = f"http://localhost:{site.port}/course/faq"
    site.listed = ["/course/away", "/course/guide"]

    report = ingest_sitemap(site, chunk_store, fake_embedder)

    [failure] = report.failed
    assert failure.source == site.url("/course/away")
    assert failure.reason.startswith(f"host localhost:{site.port} is not allowed")
    assert [r.path for r in site.log if "faq" in r.path] == []  # the hop was never made
    assert report.fetched == 1


def test_nothing_is_asked_of_a_host_outside_the_allowlist(site, chunk_store, fake_embedder):
    report = ingest_sitemap(
        site, chunk_store, fake_embedder, allowed_hosts=frozenset({"courses.example.com"})
    )

    [failure] = report.failed
    assert failure.source == site.sitemap_url and "not allowed" in failure.reason
    assert site.log == []
    assert chunk_store.manifest() is not None and chunk_store.count() == 0


def test_a_sitemap_index_leads_to_the_sitemaps_it_lists(site, chunk_store, fake_embedder):
    site.listed = ["/course/faq", "/course/guide"]

    report = ingest_site(
        [],
        [site.url("/sitemap-index.xml")],
        chunk_store,
        fake_embedder,
        model=MODEL,
        options=options(site),
        progress=False,
    )

    assert report.failed == [] and report.fetched == 2


def test_a_page_over_the_size_limit_is_named_and_not_read(site, chunk_store, fake_embedder):
    site.listed = ["/course/faq", "/course/old-news"]

    report = ingest_sitemap(site, chunk_store, fake_embedder, max_bytes=3000)

    assert failures(report) == {
        site.url("/course/faq"): "page is over the 0.003 MB limit; split it or raise "
        "CERT_ASSISTANT_MAX_FILE_BYTES"
    }
    assert report.fetched == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<urlset><url><loc>http://x.org/a", "sitemap is not valid XML"),
        (b"<html><body>Not found</body></html>", "not a sitemap: its root element is <html>"),
    ],
)
def test_a_broken_sitemap_is_named(data, reason):
    with pytest.raises(LoadError, match=reason):
        parse_sitemap(data, 10_000)


def test_a_gzipped_sitemap_is_read_within_the_size_limit():
    xml = b"<urlset>" + b"<url><loc>http://x.org/a</loc></url>" * 50 + b"</urlset>"
    assert parse_sitemap(gzip.compress(xml), 10_000).pages == ["http://x.org/a"]
    with pytest.raises(LoadError, match="unpacks to over"):
        parse_sitemap(gzip.compress(xml), 1_000)


def test_cli_names_each_failed_url_and_exits_1(site, tmp_path, monkeypatch, capsys, fake_embedder):
    for name in list(os.environ):
        if name.startswith("CERT_ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_WEB_DELAY_SECONDS", "0")
    monkeypatch.setenv("CERT_ASSISTANT_WEB_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("CERT_ASSISTANT_WEB_RETRIES", "1")
    monkeypatch.setattr(ingest_package, "make_embedder", lambda settings: fake_embedder)
    monkeypatch.setattr(ingest_package, "ensure_onnx", lambda settings: None)

    code = main(["ingest", "--quiet", "--sitemap", site.sitemap_url])
    out, err = capsys.readouterr()

    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("failed ")]
    assert len(failed) == 5
    assert f"failed {site.url('/course/broken')}: HTTP 500 Internal Server Error" in err
    assert "site: 5 pages fetched, 0 not modified (304), 0 removed, 5 failed" in out
    assert "5 URL(s) failed; see above." in err

    code = main(["ingest", "--quiet", "--sitemap", site.sitemap_url])
    out, err = capsys.readouterr()
    assert code == 1
    assert "site: 0 pages fetched, 5 not modified (304), 0 removed, 5 failed" in out
    assert "Index is up to date: nothing was embedded." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://x.org/faq"], "'ftp://x.org/faq' is not an http(s) URL"),
        (["--sitemap", "course/sitemap.xml"], "is not an http(s) URL"),
        (["knowledge", "--url", "https://x.org/faq"], "not both"),
    ],
)
def test_cli_refuses_what_cannot_be_a_page(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "data"))

    code = main(["ingest", *args])
    _, err = capsys.readouterr()

    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_allowed_hosts_setting_reads_a_comma_list(monkeypatch):
    monkeypatch.setenv("CERT_ASSISTANT_WEB_ALLOWED_HOSTS", "Courses.example.com, 127.0.0.1:8123")
    assert Settings().web_allowed_hosts == ["courses.example.com", "127.0.0.1:8123"]


@pytest.mark.parametrize(
    "module", [ingest.web, ingest.web_fetch, ingest.web_pages, ingest.sitemap, ingest.pipeline]
)
def test_the_examples_in_the_docstrings_hold(module):
    failed, attempted = doctest.testmod(module, verbose=False, report=True)
    assert attempted > 0 and failed == 0


@pytest.mark.integration
def test_real_model_answers_from_the_site_with_links_to_it(site, tmp_path: Path, real_embedder):
    from ingest import make_store
    from retrieval import Assistant, HybridRetriever

    settings = Settings(data_dir=tmp_path / "data", site_base_url="https://unused.example.org")
    store = make_store(settings)
    report = ingest_sitemap(site, store, real_embedder)
    assert report.index.documents == 5

    retriever = HybridRetriever(
        store=store, embedder=real_embedder, site_base_url=settings.site_base_url
    )
    answer = Assistant(retriever, settings).ask("How hard is the exam?")

    assert not answer.refused
    urls = [c.url for c in answer.citations]
    assert site.url("/course/faq#faq-how-hard-is-the-certified-mlops-architect-exam") in urls
    assert all(u.startswith(site.base) for u in urls)
