"""The learner chat's pure helpers on tiny inputs: linked markers, follow-up questions, the
contact setting. The pages that use them are tested in `test_app.py` and the browser."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from cert_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

SECTIONS = [
    "FAQ > Exams > Can the exam be taken online?",
    "FAQ > Exams > How hard is the exam?",
    "FAQ > Exams > How long is the exam?",
    "FAQ > Costs > Are there discounts?",
    "FAQ > Levels > Is the Foundation level hard?",
    "Syllabus > Levels",
    "Syllabus > Levels > Foundation level",
    "Syllabus > Levels > Foundation level > Who should take it",
    "Syllabus > Levels > Professional level",
    "Syllabus",
]


@pytest.fixture(autouse=True)
def _ui_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `ui` is a folder of pages, not an installed package


def follow_ups(*args: object, **kwargs: object) -> list[str]:
    return importlib.import_module("ui.followups").follow_ups(*args, **kwargs)


def link_markers(text: str, addresses: dict[int, str]) -> str:
    return importlib.import_module("ui.safe_markdown").link_markers(text, addresses)


@pytest.mark.parametrize("name", ["ui.followups", "ui.safe_markdown"])
def test_doctests_pass(name: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(name))
    assert attempted > 0 and failed == 0


def test_markers_link_to_their_citations_and_nothing_else() -> None:
    addresses = {1: "https://x.org/faq#a", 2: "https://x.org/s#b) ![](http://h/p.png"}
    text = "A. [1] B. [2][3] See [1](https://elsewhere)."

    linked = link_markers(text, addresses)

    assert linked.startswith("A. [\\[1\\]](https://x.org/faq#a) B. [\\[2\\]](https://x.org/s#b%29")
    assert "[3]" in linked  # no such citation: left as it is
    assert "[1](https://elsewhere)" in linked  # a link's label is not a marker
    assert "![](" not in linked  # an address cannot break out into an image


def test_follow_ups_after_a_faq_answer_are_its_neighbours_not_itself() -> None:
    asked = ["is the exam online"]
    offered = follow_ups(["FAQ > Exams > Can the exam be taken online?"], SECTIONS, asked)

    assert offered == ["How hard is the exam?", "How long is the exam?"]


def test_follow_ups_put_faq_questions_first_then_name_the_place() -> None:
    cited = ["Syllabus > Levels > Foundation level"]
    offered = follow_ups(cited, SECTIONS, ["What is the Foundation level?"], count=4)

    assert offered == [
        "Is the Foundation level hard?",  # a FAQ question that names the cited section
        "Tell me about who should take it (Foundation level)",  # its subsection
        "Tell me about Levels",  # its parent
        "Tell me about Professional level (Levels)",  # next to it
    ]


def test_follow_ups_leave_out_what_was_asked_and_stop_at_the_count() -> None:
    cited = ["FAQ > Exams > Can the exam be taken online?"]
    asked = ["How hard is the exam", "Can the exam be taken online?"]

    assert follow_ups(cited, SECTIONS, asked) == ["How long is the exam?"]
    assert len(follow_ups(["Syllabus > Levels"], SECTIONS, [], count=2)) == 2
    assert follow_ups([], SECTIONS, ["hello"]) == []


@pytest.mark.parametrize(
    "address", ["https://courses.example.com/contact", "http://x.org/help", "mailto:team@x.org"]
)
def test_contact_url_takes_a_web_or_mail_address(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERT_ASSISTANT_CONTACT_URL", f" {address} ")
    assert Settings().contact_url == address


def test_contact_url_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERT_ASSISTANT_CONTACT_URL", raising=False)
    assert Settings().contact_url is None
    monkeypatch.setenv("CERT_ASSISTANT_CONTACT_URL", "")
    assert Settings().contact_url is None


@pytest.mark.parametrize(
    "address",
    ["javascript:alert(1)", "courses.example.com", "ftp://x.org/f", "mailto:", "https://x.org/a b"],
)
def test_contact_url_refuses_what_learners_cannot_follow(address: str) -> None:
    with pytest.raises(ValidationError, match="http\\(s\\) URL .* mailto:"):
        Settings(contact_url=address)
