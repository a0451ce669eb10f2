"""What the learner's sidebar says the assistant covers, read from a tiny index."""

from __future__ import annotations

import doctest

from ingest import ChunkStore
from ui import coverage
from ui.coverage import CoveredPage, CoveredSection, course_contents

SITE = "https://courses.example.com/c"


def test_pages_and_their_top_sections_are_linked_to_the_course_site(
    tiny_index: ChunkStore,
) -> None:
    chunks = [stored.chunk for stored in tiny_index.chunks()]

    pages = course_contents(chunks, SITE + "/")

    assert [(p.title, p.url) for p in pages] == [
        ("FAQ", f"{SITE}/faq"),
        ("Guide", f"{SITE}/guide"),
        ("Syllabus", f"{SITE}/syllabus"),
    ]
    syllabus = pages[2]
    assert syllabus.sections == (
        CoveredSection("Foundation level", f"{SITE}/syllabus#foundation-level"),
        CoveredSection("Levels", f"{SITE}/syllabus#levels"),
        CoveredSection("Professional level", f"{SITE}/syllabus#professional-level"),
        CoveredSection("Tracks", f"{SITE}/syllabus#tracks"),
    )
    # "General questions" holds no text of its own, only FAQ entries: linked by its slug.
    assert pages[0].sections == (
        CoveredSection("General questions", f"{SITE}/faq#general-questions"),
    )


def test_without_a_course_site_nothing_is_linked(tiny_index: ChunkStore) -> None:
    pages = course_contents([s.chunk for s in tiny_index.chunks()], "")

    assert all(p.url is None for p in pages)
    assert all(s.url is None for p in pages for s in p.sections)
    assert {s.title for s in pages[1].sections} == {"SRE path", "FinOps path"}


def test_nothing_about_files_is_kept() -> None:
    assert set(CoveredPage.__dataclass_fields__) == {"title", "url", "sections"}
    assert set(CoveredSection.__dataclass_fields__) == {"title", "url"}


def test_doctests_pass() -> None:
    failed, attempted = doctest.testmod(coverage)
    assert attempted > 0 and failed == 0
