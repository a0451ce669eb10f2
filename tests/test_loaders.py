"""Loaders: every supported format becomes Markdown with its title, page and source path;
every bad file is reported with its path and a reason while the others still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import LoadError, load_document, load_documents, split_document


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF with one text line per entry, Helvetica, and a correct xref."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in once the page objects are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for lines in pages:
        ops = ["BT /F1 12 Tf 72 720 Td 16 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects))
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = ""
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty `docs/` folder inside the working folder, so sources read `docs/<name>`."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


# --- each format -----------------------------------------------------------------------------


def test_markdown_front_matter_gives_title_and_page_and_is_not_in_the_text(docs: Path):
    (docs / "exam-guide.md").write_text(
        "---\ntitle: Exam guide\npage: /exam\n---\n\n# How the exam works\n\nIt is online.\n",
        encoding="utf-8",
    )

    doc = load_document(docs / "exam-guide.md")

    assert (doc.source, doc.title, doc.page, doc.kind) == (
        "docs/exam-guide.md",
        "Exam guide",
        "/exam",
        "markdown",
    )
    assert doc.markdown == "# How the exam works\n\nIt is online."
    assert "title:" not in doc.markdown


def test_markdown_without_front_matter_takes_title_from_first_heading_and_page_from_name(
    docs: Path,
):
    (docs / "labs.md").write_text("# Hands-on labs\n\nLabs use DVC.\n", encoding="utf-8")

    doc = load_document(docs / "labs.md")

    assert (doc.title, doc.page) == ("Hands-on labs", "/labs")


def test_markdown_with_byte_order_mark_and_windows_line_ends_is_read(docs: Path):
    text = "---\r\ntitle: Notes\r\n---\r\n\r\nLine one.\r\nLine two.\r\n"
    (docs / "notes.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

    doc = load_document(docs / "notes.md")

    assert doc.title == "Notes"
    assert doc.markdown == "Line one.\nLine two."


def test_plain_text_keeps_its_text_and_is_titled_after_the_file(docs: Path):
    (docs / "study_notes.txt").write_text("Renewal is every two to three years.\n", "utf-8")

    doc = load_document(docs / "study_notes.txt")

    assert (doc.source, doc.title, doc.page, doc.kind) == (
        "docs/study_notes.txt",
        "Study notes",
        "/study_notes",
        "text",
    )
    assert "Renewal is every two to three years." in doc.markdown


HTML_PAGE = """<!doctype html>
<html><head><title>Exam page</title><style>p { color: red }</style>
<script>trackVisitor("secret-tracker")</script></head>
<body>
<nav>Home | Courses</nav>
<h1>About the exam</h1>
<p>The exam is taken <b>online</b> with proctoring.</p>
<h2>What to bring</h2>
<ul><li>A webcam</li><li>Photo <i>ID</i></li></ul>
<h2>Fees</h2>
<table>
  <tr><th>Level</th><th>Fee</th></tr>
  <tr><td>Foundation</td><td>100 USD</td></tr>
  <tr><td>Professional</td><td>200 USD</td></tr>
</table>
<script>alert("never indexed")</script>
</body></html>
"""


def test_html_keeps_headings_lists_and_tables_and_drops_scripts(docs: Path):
    (docs / "exam.html").write_text(HTML_PAGE, encoding="utf-8")

    doc = load_document(docs / "exam.html")

    assert (doc.source, doc.title, doc.page, doc.kind) == (
        "docs/exam.html",
        "Exam page",
        "/exam",
        "html",
    )
    lines = doc.markdown.splitlines()
    assert "# About the exam" in lines
    assert "## What to bring" in lines
    assert "- A webcam" in lines
    assert "- Photo ID" in lines
    assert "The exam is taken online with proctoring." in lines
    for hidden in ("secret-tracker", "never indexed", "color: red", "Home | Courses"):
        assert hidden not in doc.markdown

    rows = [c for c in split_document(doc) if c.kind == "table_row"]
    assert [r.text for r in rows] == [
        "Level: Foundation; Fee: 100 USD",
        "Level: Professional; Fee: 200 USD",
    ]
    assert {r.section for r in rows} == {"Exam page > Fees"}


def test_pdf_text_is_extracted_page_by_page_with_its_title(docs: Path):
    pdf = make_pdf(
        [
            ["Exam handbook", "The exam lasts ninety minutes."],
            ["Retakes are allowed after 14 days."],
        ],
        title="Exam handbook",
    )
    (docs / "handbook.pdf").write_bytes(pdf)

    doc = load_document(docs / "handbook.pdf")

    assert (doc.source, doc.title, doc.page, doc.kind) == (
        "docs/handbook.pdf",
        "Exam handbook",
        "/handbook",
        "pdf",
    )
    assert "The exam lasts ninety minutes." in doc.markdown
    assert "Retakes are allowed after 14 days." in doc.markdown
    page_one, page_two = doc.markdown.split("## Page 2")
    assert "## Page 1" in page_one and "ninety minutes" in page_one
    assert "Retakes" in page_two


def test_pdf_without_title_metadata_is_titled_after_the_file(docs: Path):
    (docs / "fee-schedule.pdf").write_bytes(make_pdf([["Fees are listed per level."]]))

    assert load_document(docs / "fee-schedule.pdf").title == "Fee schedule"


def test_source_is_named_after_its_folder_inside_the_working_folder_and_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Never an absolute path: that would show the server's folders to learners (issue 11).
    inside = tmp_path / "work" / "docs" / "a.md"
    outside = tmp_path / "elsewhere" / "b.md"
    for path in (inside, outside):
        path.parent.mkdir(parents=True)
        path.write_text("Some text.", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")

    result = load_documents([Path("docs"), outside])

    assert [d.source for d in result.documents] == ["docs/a.md", "elsewhere/b.md"]


def test_folder_is_loaded_recursively_sorted_skipping_hidden_and_ignoring_other_types(
    docs: Path,
):
    (docs / "b.md").write_text("Bee.", encoding="utf-8")
    (docs / "sub").mkdir()
    (docs / "sub" / "a.txt").write_text("Ay.", encoding="utf-8")
    (docs / ".draft.md").write_text("Not ready.", encoding="utf-8")
    (docs / ".git").mkdir()
    (docs / ".git" / "HEAD.md").write_text("Not course text.", encoding="utf-8")
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n")

    result = load_documents([docs])

    assert [d.source for d in result.documents] == ["docs/b.md", "docs/sub/a.txt"]
    assert result.ignored == ["docs/logo.png"]
    assert result.skipped == []


def test_unsupported_type_named_explicitly_is_skipped_with_a_reason(docs: Path):
    (docs / "slides.docx").write_bytes(b"PK\x03\x04")

    result = load_documents([docs / "slides.docx"])

    assert result.documents == []
    assert result.ignored == []
    assert [(s.source, s.reason) for s in result.skipped] == [
        ("docs/slides.docx", "unsupported file type '.docx'")
    ]


# --- bad input -----------------------------------------------------------------------------

BAD_FILES = {
    "empty.md": (b"", "file is empty"),
    "blank.txt": (b"  \n\t\n  \n", "file is empty"),
    "bom-only.md": (b"\xef\xbb\xbf \n", "file is empty"),
    "binary.txt": (b"course\x00\x01\x02data", "binary"),
    "latin1.md": ("Café and crème".encode("latin-1"), "not valid UTF-8 (byte 0xe9 at offset 3)"),
    "bad-yaml.md": (b"---\ntitle: [unclosed\n---\n\nBody.\n", "front matter is not valid YAML"),
    "bad-date.md": (b"---\nupdated: 2024-13-45\n---\n\nBody.\n", "front matter is not valid YAML"),
    "list-front-matter.md": (b"---\n- a\n- b\n---\n\nBody.\n", "must be a mapping"),
    "unclosed.md": (b"---\ntitle: Draft\n\nBody without a closing line.\n", "no closing '---'"),
    "front-matter-only.md": (b"---\ntitle: Stub\n---\n\n", "no content"),
    "not-a-pdf.pdf": (b"This is a text file with a .pdf name.\n", "not a PDF"),
    "truncated.pdf": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "PDF cannot be read"),
    "scan.pdf": (make_pdf([[]]), "no extractable text"),
    "script-only.html": (b"<html><body><script>x()</script></body></html>", "no visible text"),
}


def test_each_bad_file_is_skipped_with_path_and_reason_and_the_others_still_load(docs: Path):
    (docs / "good.md").write_text("# Good\n\nStill indexed.\n", encoding="utf-8")
    for name, (data, _) in BAD_FILES.items():
        (docs / name).write_bytes(data)

    result = load_documents([docs])

    assert [d.source for d in result.documents] == ["docs/good.md"]
    reasons = {s.source: s.reason for s in result.skipped}
    assert set(reasons) == {f"docs/{name}" for name in BAD_FILES}
    for name, (_, expected) in BAD_FILES.items():
        assert expected in reasons[f"docs/{name}"], name


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_load_document_raises_load_error_for_bad_file(docs: Path, name: str):
    data, expected = BAD_FILES[name]
    (docs / name).write_bytes(data)

    with pytest.raises(LoadError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_document(docs / name)


def test_unreadable_file_is_skipped_with_the_system_reason(
    docs: Path, monkeypatch: pytest.MonkeyPatch
):
    # Tests may run as root, where chmod 000 does not stop reading: fail the read instead.
    (docs / "locked.md").write_text("Secret.", encoding="utf-8")
    (docs / "open.md").write_text("Public.", encoding="utf-8")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)

    result = load_documents([docs])

    assert [d.source for d in result.documents] == ["docs/open.md"]
    assert [(s.source, s.reason) for s in result.skipped] == [
        ("docs/locked.md", "cannot read file: Permission denied")
    ]


def test_missing_path_is_skipped_and_the_rest_still_load(docs: Path):
    (docs / "here.md").write_text("Present.", encoding="utf-8")

    result = load_documents([docs / "gone.md", docs / "here.md"])

    assert [d.source for d in result.documents] == ["docs/here.md"]
    assert [(s.source, s.reason) for s in result.skipped] == [
        ("docs/gone.md", "no such file or folder")
    ]
