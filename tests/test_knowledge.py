"""Checks on the knowledge base in knowledge/*.md.

Stdlib + pytest only: the front matter is parsed with a tiny key: value reader,
not with python-frontmatter or yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"
SEED = Path(__file__).resolve().parents[2] / "shared/seeds/certified-mlops-architect-guide.txt"
DOCS = ("guide.md", "faq.md", "syllabus.md")
RUN_LENGTH = 12

KEY_FACTS = [
    # identity, platform, audience
    "Certified MLOps Architect",
    "AIOps School",
    "garbage in, garbage out",
    "end-to-end automation",
    "feature stores",
    "data versioning tools",
    "automated validation checks",
    "data-as-code",
    "lineage tracking",
    "automated quality gates",
    "reproducible data sources",
    "data engineers",
    "database administrators",
    "platform architects",
    "ETL (Extract, Transform, Load)",
    "Indian IT market",
    "international technology sector",
    "technical leads",
    "data quality and latency",
    "Beginners",
    "compliance requirement",
    "shortage of engineers",
    "audit-ready",
    "modular assessment",
    "updated frequently",
    "data developer to principal data architect",
    "real-time feature engineering architectures",
    "engineers, architects and managers",
    "stable, scalable ML systems",
    # levels and tracks
    "three primary levels",
    "Foundation",
    "Professional",
    "Advanced",
    "Architect level",
    "global data sovereignty",
    "automated metadata governance",
    "MLOps Core",
    "Data Automation",
    "Quality Control",
    "Governance",
    "Data Eng, DevOps",
    "Data Architects",
    "| Data Engineers |",
    "Senior Data Leads",
    "Basic IT Knowledge",
    "Foundation Level",
    "Professional Level",
    "Data Basics, ML Pipelines",
    "Versioning, Feature Stores",
    "Validation Gates, Lineage",
    "Metadata, Strategy, Law",
    # Foundation level detail
    "No prior background in data science",
    "basic data audit",
    "bottlenecks",
    "ingestion and cleaning",
    "reproducibility",
    "7-14 days",
    "30 days",
    "60 days",
    "20 days",
    "automated data validation checks before training",
    "version control",
    "Certified MLOps Architect - Professional",
    # learning paths
    "DevOps path",
    "DevSecOps path",
    "SRE path",
    "AIOps / MLOps path",
    "DataOps path",
    "FinOps path",
    "continuous integration",
    "software artifacts",
    "model weights",
    "Service Level Objectives (SLOs)",
    "model drift",
    "performance degradation",
    "synergy between AI and operational excellence",
    "data cleaning, validation and versioning",
    "cloud consumption",
    "economically viable",
    # roles and recommended certifications
    "DevOps Engineer",
    "| SRE |",
    "Platform Engineer",
    "Cloud Engineer",
    "Security Engineer",
    "Data Engineer",
    "FinOps Practitioner",
    "Engineering Manager",
    "Professional Automation",
    "SRE Specialist",
    "Advanced Architecture",
    "Professional Infrastructure",
    "DevSecOps Specialist",
    "DataOps Specialist",
    "FinOps Specialist",
    "AIOps Leadership",
    "MLOps Foundation",
    # next certifications
    "Same-track progression",
    "Cross-track expansion",
    "Leadership and management track",
    "Real-time Feature Store",
    "Metadata Governance",
    "high-throughput data streams",
    "Site Reliability Engineering",
    "director roles",
    "MLOps departments",
    "long-term data vision",
    # providers
    "DevOpsSchool",
    "Cotocus",
    "Scmgalaxy",
    "BestDevOps",
    "Devsecopsschool",
    "Sreschool",
    "Aiopsschool",
    "Dataopsschool",
    "Finopsschool",
    "primary provider",
    "containerisation and cloud-native",
    "configuration management",
    # FAQ
    "moderately difficult",
    "30 to 90 days",
    "no formal prerequisites",
    "Advanced or Specialist",
    "skill gap",
    "India",
    "DVC",
    "Feast",
    "two to three years",
    "online proctoring",
    "hands-on labs",
    "AI Data Engineer",
    "Platform Architect",
    "Senior DataOps Lead",
    "schema changes",
    "distribution shifts",
    "FinOps modules",
    "DevSecOps track",
    "traditional Data Engineering",
    # conclusion
    "reduce deployment risk",
    "beyond theory",
    "technical leadership roles",
]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _read(name: str) -> str:
    return (KNOWLEDGE / name).read_text(encoding="utf-8")


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        return {}, text
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if ":" in line:
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip().strip("'\"")
    return meta, "\n".join(lines[end + 1 :])


def _headings(body: str) -> list[tuple[int, str]]:
    out = []
    in_code = False
    for line in body.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m and not in_code:
            out.append((len(m.group(1)), m.group(2)))
    return out


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.fixture(scope="module")
def corpus() -> str:
    return _norm("\n".join(_read(name) for name in DOCS))


def test_key_facts_list_is_large_enough():
    assert len(KEY_FACTS) >= 80
    assert len({f.lower() for f in KEY_FACTS}) == len(KEY_FACTS), "duplicate key facts"


@pytest.mark.parametrize("fact", KEY_FACTS, ids=KEY_FACTS)
def test_key_fact_present(fact, corpus):
    assert _norm(fact) in corpus, f"key fact missing from knowledge/: {fact!r}"


@pytest.mark.parametrize("name", DOCS)
def test_document_structure(name):
    meta, body = _split_front_matter(_read(name))
    assert meta.get("title"), f"{name}: front matter needs a non-empty title"
    assert meta.get("page", "").startswith("/"), f"{name}: front matter needs a page path"
    heads = _headings(body)
    h1 = [text for level, text in heads if level == 1]
    assert len(h1) == 1, f"{name}: expected exactly one H1, got {h1}"
    texts = [text for _, text in heads]
    dupes = sorted({t for t in texts if texts.count(t) > 1})
    assert not dupes, f"{name}: duplicate heading texts {dupes}"


def test_document_pages():
    pages = {name: _split_front_matter(_read(name))[0].get("page") for name in DOCS}
    assert pages == {"guide.md": "/guide", "faq.md": "/faq", "syllabus.md": "/syllabus"}


def test_faq_has_twenty_questions():
    _, body = _split_front_matter(_read("faq.md"))
    questions = [text for level, text in _headings(body) if level == 3]
    assert len(questions) == 20, questions
    assert all(q.endswith("?") for q in questions), [q for q in questions if not q.endswith("?")]
    sections = [text for level, text in _headings(body) if level == 2]
    assert sections == ["General questions", "Questions about the certification"]


def test_syllabus_has_foundation_common_mistakes():
    _, body = _split_front_matter(_read("syllabus.md"))
    heads = _headings(body)
    idx = heads.index((2, "Foundation level"))
    following = []
    for level, text in heads[idx + 1 :]:
        if level <= 2:
            break
        following.append(text)
    assert "Common mistakes" in following


@pytest.mark.parametrize("name", DOCS)
def test_no_long_run_copied_from_seed(name):
    if not SEED.is_file():
        pytest.skip(f"seed file not found at {SEED}; cannot check for copied passages")
    seed = _tokens(SEED.read_text(encoding="utf-8"))
    seed_runs = {tuple(seed[i : i + RUN_LENGTH]) for i in range(len(seed) - RUN_LENGTH + 1)}
    doc = _tokens(_read(name))
    copied = [
        " ".join(doc[i : i + RUN_LENGTH])
        for i in range(len(doc) - RUN_LENGTH + 1)
        if tuple(doc[i : i + RUN_LENGTH]) in seed_runs
    ]
    assert not copied, (
        f"{name}: {len(copied)} run(s) of {RUN_LENGTH} words match the seed: {copied[:5]}"
    )
