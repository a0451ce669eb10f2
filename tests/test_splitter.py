"""Splitter: chunks follow headings, carry their section and anchor, and keep FAQ answers
and table rows whole, on tiny documents and on the real knowledge base."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import Chunk, SourceDocument, load_documents, split_document, split_documents

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE_DIR = ROOT / "knowledge"
BASE_URL = "https://courses.example.com/certified-mlops-architect"


@pytest.fixture(scope="module")
def knowledge_chunks() -> list[Chunk]:
    return split_documents(load_documents([KNOWLEDGE_DIR]).documents)


def of_file(chunks: list[Chunk], name: str) -> list[Chunk]:
    return [c for c in chunks if c.source.endswith(f"knowledge/{name}")]


def containing(chunks: list[Chunk], words: str) -> Chunk:
    (chunk,) = [c for c in chunks if words in c.text]
    return chunk


def doc(markdown: str, title: str = "Handbook", page: str = "/handbook") -> SourceDocument:
    return SourceDocument("docs/handbook.md", title, page, markdown, "markdown")


def sentences(word: str, count: int) -> str:
    return " ".join(f"Sentence {n} is about {word} things." for n in range(count))


# --- sections -------------------------------------------------------------------------------


def test_chunks_never_cross_a_heading():
    markdown = (
        f"# Handbook\n\n## Alpha\n\n{sentences('alpha', 40)}\n\n"
        f"### Beta\n\n{sentences('beta', 40)}\n\n## Gamma\n\n{sentences('gamma', 3)}\n"
    )

    chunks = split_document(doc(markdown), chunk_size=300, chunk_overlap=60)

    for chunk in chunks:
        words = set(re.findall(r"alpha|beta|gamma", chunk.text))
        assert len(words) == 1, chunk.text
        (word,) = words
        expected = {
            "alpha": "Handbook > Alpha",
            "beta": "Handbook > Alpha > Beta",
            "gamma": "Handbook > Gamma",
        }
        assert chunk.section == expected[word]
        assert "#" not in chunk.text
    assert [c.anchor for c in chunks].count("gamma") == 1


def test_syllabus_common_mistakes_has_its_section_path_anchor_and_url(knowledge_chunks):
    chunk = containing(knowledge_chunks, "neglecting automated data validation checks")

    assert chunk.section == "Syllabus > Foundation level > Common mistakes"
    assert chunk.anchor == "common-mistakes"
    assert chunk.title == "Syllabus"
    assert chunk.page == "/syllabus"
    assert chunk.kind == "text"
    assert chunk.url(BASE_URL) == f"{BASE_URL}/syllabus#common-mistakes"
    assert chunk.url(BASE_URL + "/") == f"{BASE_URL}/syllabus#common-mistakes"
    # Both mistakes are in the one chunk, and nothing from the next section is.
    assert "version control" in chunk.text
    assert "Certified MLOps Architect - Professional" not in chunk.text


def test_every_knowledge_chunk_lies_inside_the_section_it_names(knowledge_chunks):
    bodies = _section_bodies(KNOWLEDGE_DIR / "syllabus.md") | _section_bodies(
        KNOWLEDGE_DIR / "guide.md"
    )
    for chunk in knowledge_chunks:
        if chunk.kind != "text" or " > " not in chunk.section:
            continue
        heading = chunk.section.rsplit(" > ", 1)[1]
        body = bodies[heading]
        for line in chunk.text.splitlines():
            for sentence in re.split(r"(?<=\.)\s+", line.removeprefix("- ")):
                assert sentence in body, (chunk.section, sentence)


def _section_bodies(path: Path) -> dict[str, str]:
    bodies: dict[str, list[str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"#{2,6} (.*)", line):
            current = match.group(1)
            bodies[current] = []
        elif current:
            bodies[current].append(line)
    return {heading: "\n".join(lines) for heading, lines in bodies.items()}


def test_duplicated_headings_get_numbered_anchors_like_the_site():
    markdown = (
        "# Handbook\n\n## Foundation\n\n### Common mistakes\n\nSkipping validation.\n\n"
        "## Professional\n\n### Common mistakes\n\nNo lineage.\n\n"
        "## Advanced\n\n### Common mistakes\n\nNo governance.\n"
    )

    chunks = split_document(doc(markdown))

    by_text = {c.text: (c.section, c.anchor) for c in chunks}
    assert by_text == {
        "Skipping validation.": ("Handbook > Foundation > Common mistakes", "common-mistakes"),
        "No lineage.": ("Handbook > Professional > Common mistakes", "common-mistakes-1"),
        "No governance.": ("Handbook > Advanced > Common mistakes", "common-mistakes-2"),
    }


def test_text_before_the_first_subheading_links_to_the_h1_even_when_it_equals_the_title():
    markdown = "# Handbook\n\nWelcome to the handbook.\n\n## Handbook\n\nThe section.\n"

    chunks = split_document(doc(markdown, title="Handbook"))

    anchors = {c.text: c.anchor for c in chunks}
    # The page has headings `#handbook` then `#handbook-1`; no `#handbook-2` exists.
    assert anchors == {"Welcome to the handbook.": "handbook", "The section.": "handbook-1"}


def test_headings_with_markup_get_plain_sections_and_slugs():
    markdown = "# Handbook\n\n## The **AIOps / MLOps** [path](/paths)\n\nText.\n"

    (chunk,) = split_document(doc(markdown))

    assert chunk.section == "Handbook > The AIOps / MLOps path"
    assert chunk.anchor == "the-aiops--mlops-path"


# --- FAQ and tables ---------------------------------------------------------------------------


def test_faq_file_gives_exactly_twenty_faq_chunks_each_question_with_its_answer(
    knowledge_chunks,
):
    faq = of_file(knowledge_chunks, "faq.md")

    assert len(faq) == 20
    assert {c.kind for c in faq} == {"faq"}
    for chunk in faq:
        question, answer = chunk.text.split("\n", 1)
        assert question.endswith("?")
        assert chunk.section.endswith(f" > {question}")
        assert len(answer) > 40
    online = containing(faq, "Can the exam be taken online?")
    assert "online proctoring" in online.text
    assert online.anchor == "can-the-exam-be-taken-online"


def test_faq_answer_of_several_paragraphs_stays_one_chunk_when_it_fits():
    answer = "\n\n".join(sentences(f"part{n}", 8) for n in range(4))
    markdown = f"# FAQ\n\n## Exams\n\n### Can I retake the exam?\n\n{answer}\n"

    chunks = split_document(doc(markdown), chunk_size=2000, chunk_overlap=40)

    assert len(chunks) == 1
    assert chunks[0].kind == "faq"
    assert chunks[0].text.startswith("Can I retake the exam?\n")
    assert all(f"part{n}" in chunks[0].text for n in range(4))


def test_faq_answer_longer_than_the_chunk_size_is_split_question_first():
    # Issue 11: no chunk is longer than the chunk size, an FAQ entry neither.
    answer = "\n\n".join(sentences(f"part{n}", 8) for n in range(4))
    markdown = f"# FAQ\n\n## Exams\n\n### Can I retake the exam?\n\n{answer}\n"

    chunks = split_document(doc(markdown), chunk_size=200, chunk_overlap=40)

    assert len(chunks) > 1 and max(len(c.text) for c in chunks) <= 200
    assert {c.kind for c in chunks} == {"faq"}
    assert {c.section for c in chunks} == {"Handbook > Exams > Can I retake the exam?"}
    assert chunks[0].text.startswith("Can I retake the exam?\n")
    assert all(any(f"part{n}" in c.text for c in chunks) for n in range(4))


def test_each_table_row_is_one_chunk_with_its_column_headers(knowledge_chunks):
    rows = [c for c in of_file(knowledge_chunks, "syllabus.md") if c.kind == "table_row"]

    assert len(rows) == 4
    assert {c.section for c in rows} == {"Syllabus > Certification tracks"}
    headers = ["Track", "Level", "Who it is for", "Prerequisites", "Skills covered"]
    for row in rows:
        assert all(f"{h}: " in row.text for h in [*headers, "Recommended order"])
    governance = containing(rows, "Track: Governance")
    assert "Prerequisites: Professional Level" in governance.text
    assert "Who it is for: Senior Data Leads" in governance.text
    assert "Data Automation" not in governance.text

    roles = [c for c in of_file(knowledge_chunks, "guide.md") if c.kind == "table_row"]
    assert len(roles) == 8
    assert "Role: SRE; Recommended certifications: MLOps Foundation and SRE Specialist" in {
        c.text for c in roles
    }


# --- sizes and overlap ----------------------------------------------------------------------


def test_chunk_size_is_respected_even_for_a_single_overlong_sentence():
    # Issue 11: a sentence longer than the chunk size is cut at spaces, not kept whole.
    overlong = "This one sentence " + "goes on and on " * 30 + "until it ends."
    paragraph = f"{sentences('size', 12)} {overlong} {sentences('after', 6)}"

    chunks = split_document(doc(f"# Handbook\n\n## Sizes\n\n{paragraph}\n"), 200, 40)

    assert len(overlong) > 200
    assert max(len(c.text) for c in chunks) <= 200
    assert any(c.text.startswith("This one sentence goes on") for c in chunks)
    assert any("on and on until it ends." in c.text for c in chunks)
    joined = " ".join(c.text.replace("\n", " ") for c in chunks)
    for n in range(12):
        assert f"Sentence {n} is about size things." in joined
    assert "Sentence 5 is about after things." in joined


def test_real_text_chunks_fit_the_default_size(knowledge_chunks):
    text = [c for c in knowledge_chunks if c.kind == "text"]
    assert text
    assert max(len(c.text) for c in text) <= 900


def test_overlap_carries_the_end_of_a_chunk_into_the_next():
    paragraph = sentences("overlap", 30)

    with_overlap = split_document(doc(f"# H\n\n## S\n\n{paragraph}\n"), 200, 60)
    without = split_document(doc(f"# H\n\n## S\n\n{paragraph}\n"), 200, 0)

    assert len(with_overlap) > 3
    for before, after in zip(with_overlap, with_overlap[1:], strict=False):
        carried = before.text.splitlines()[-1]
        assert after.text.startswith(carried + "\n")
        assert len(carried) <= 60
    lines = [line for c in without for line in c.text.splitlines()]
    assert len(lines) == len(set(lines)) == 30


# --- ids ------------------------------------------------------------------------------------


def test_ids_are_distinct(knowledge_chunks):
    ids = [c.id for c in knowledge_chunks]
    assert len(ids) == len(set(ids))


def test_ids_are_the_same_in_another_process(knowledge_chunks):
    script = (
        "import json, sys; from pathlib import Path;"
        "from ingest import load_documents, split_documents;"
        "docs = load_documents([Path(sys.argv[1])]).documents;"
        "print(json.dumps([c.id for c in split_documents(docs)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(KNOWLEDGE_DIR)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=Path.cwd(),
    )

    assert json.loads(done.stdout) == [c.id for c in knowledge_chunks]


def test_ids_change_with_source_and_section_but_not_with_the_words():
    markdown = "# H\n\n## Fees\n\nThe fee is 100 USD.\n"
    (first,) = split_document(doc(markdown))
    (reworded,) = split_document(doc(markdown.replace("100", "120")))
    (moved,) = split_document(SourceDocument("docs/other.md", "H", "/h", markdown, "markdown"))
    (renamed,) = split_document(doc(markdown.replace("## Fees", "## Prices")))

    assert reworded.id == first.id  # same place: the new text replaces the old
    assert reworded.content_hash != first.content_hash  # ...and must be embedded again
    assert moved.id != first.id
    assert renamed.id != first.id
