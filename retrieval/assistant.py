"""The assistant: question (+ history) → standalone query → hybrid retrieval → cited answer."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cert_core.settings import Settings
from ingest.documents import Chunk
from ingest.units import Unit
from retrieval.adapter import adapter_path, load_adapter
from retrieval.answer import Thresholds, compose_answer, refusal, small_talk_reply
from retrieval.followup import (
    Closest,
    EntityLexicon,
    asks_next,
    asks_other,
    course_name,
    course_orders,
    course_pairs,
    in_full,
    is_dependent,
    is_generic,
    next_in_order,
    other_of_pair,
    own_words,
    shortened_names,
    sides_by_meaning,
    standalone_query,
)
from retrieval.guard import check_history, check_question, small_talk, task_request
from retrieval.hybrid import HybridRetriever, Lexical, ScoredChunk
from retrieval.injection import looks_like_injection
from retrieval.learner_words import LearnerWordsFile, canonical, expand
from retrieval.learner_words import near as learner_near
from retrieval.lexical import TermWeights, stem, terms, words_of
from retrieval.llm import CitationChecker, answer_messages, condense_question, stream_sentences
from retrieval.neighbours import COUNTED_ALIKE, Near
from retrieval.question import Question, analyze, need_of, options_chosen, question_parts
from retrieval.select import (
    gives_number,
    home,
    is_lead_in,
    is_time_word,
    key_columns,
    names_heading,
    row_name,
)
from retrieval.types import Answer, CitationsEvent, DoneEvent, Event, TextEvent, Turn

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from ingest.store import ChunkStore

log = logging.getLogger(__name__)
# Lists the course's own texts give: each group's order, and each thing's partners in pairs
CourseLists = tuple[dict[str, list[str]], dict[str, dict[str, set[str]]]]
DEEPER = 30  # chunks searched for a count or duration whose number the first ones lack


@dataclass(frozen=True)
class IndexInfo:
    """What the assistant knows, for the UI's sidebar and the health check."""

    documents: list[str]
    chunks: int
    model: str
    ingested_at: str
    checked_at: str
    store: str
    llm: str | None


@dataclass(frozen=True)
class Retrieved:
    """What search found for a question.

    Attributes:
        query: The standalone, mended query that was searched.
        own: The learner's own words when the query was rebuilt from a follow-up, else None.
        passages: The chunks found, best first.
        weights: Term weights of the index generation searched.
        subjects: Key terms of the course's named things the query mentions.
        kinds: The kinds of named thing the query asks for (`EntityLexicon.kinds`).
        near: The nearest course terms of each word of the learner's own that the course
            never uses (`retrieval.neighbours`).
        meant: The section of the one thing of the asked kind that serves what the query
            names (`_serving`), if any.
        said: The assistant's previous answer in this conversation, if any.
        named: The named things the query mentions, `(name, group)` in order.
        counted_as: Other course words for what a count asks about (`Question.counted_as`).
        names_as: The query with learner words for the course's things written as the
            course names them (`learner_words.canonical`).
        searched: The text searched for the passages: the query with the course's words for
            the learner's added (`learner_words.expand`).
        sides: A comparison's sides as found (`followup.sides_by_meaning`); None: as analysed.
        choosing: The table a learner chooses from for themselves (`Question.choosing`).
    """

    query: str
    own: str | None
    passages: list[ScoredChunk]
    weights: TermWeights
    subjects: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[tuple[str, str], ...] = ()
    near: Mapping[str, Near] = field(default_factory=dict)
    meant: str | None = None
    said: str = ""
    named: tuple[tuple[str, str], ...] = ()
    counted_as: frozenset[str] = frozenset()
    names_as: str | None = None
    searched: str = ""
    sides: tuple[str, ...] | None = None
    choosing: str | None = None

    def question(self) -> Question:
        """The analysed question."""
        asked = analyze(
            self.query,
            self.own,
            self.weights,
            subjects=self.subjects,
            kinds=self.kinds,
            named=self.named,
            names_as=self.names_as,
        )
        said = frozenset(terms(self.said))
        return replace(
            asked,
            near=self.near,
            meant=self.meant,
            said=said,
            counted_as=self.counted_as,
            sides=asked.sides if self.sides is None else self.sides,
            choosing=self.choosing,
        )


class Assistant:
    """Answers course questions with citations; one instance serves many requests.

    Args:
        retriever: The hybrid retriever over the index.
        settings: Limits, thresholds and the citation base URL.
        llm: A LangChain chat model, or None for the extractive answerer.
    """

    def __init__(self, retriever: HybridRetriever, settings: Settings, llm: Any = None) -> None:
        self.retriever = retriever
        self.settings = settings
        self.llm = llm
        self.thresholds = Thresholds(suggest_dense=settings.suggest_dense)
        self.learner_words = LearnerWordsFile(settings.learner_words_path)
        self._lexicon: tuple[str | None, EntityLexicon] | None = None
        self._order: tuple[str | None, CourseLists] | None = None
        self._lock = threading.Lock()

    def ask(
        self, question: str, history: Iterable[Turn | Mapping[str, Any]] | None = None
    ) -> Answer:
        """The complete answer to a question.

        Raises:
            QuestionError: The question or history is empty, too long or malformed.
            IndexMissingError: Nothing has been ingested yet.
        """
        final = None
        for event in self.stream(question, history):
            if isinstance(event, DoneEvent):
                final = event.answer
        assert final is not None  # stream always ends with DoneEvent
        return final

    def stream(
        self, question: str, history: Iterable[Turn | Mapping[str, Any]] | None = None
    ) -> Iterator[Event]:
        """The answer as events: text pieces in order, then citations, then done.

        The text pieces joined with single spaces equal the final answer's text.
        """
        question, turns = self.validate(question, history)
        base_url = self.settings.site_base_url
        if kind := small_talk(question):  # "hello", "thanks!", "?": no search, no citation
            yield from _replay(replace(small_talk_reply(kind, self.examples()), query=question))
            return
        if looks_like_injection(question) or task_request(question):
            answer = refusal([], base_url)
            yield from _replay(replace(answer, query=question))
            return
        found = self.retrieve(question, turns)
        query, passages = found.query, found.passages
        if self.llm is not None:
            checker = CitationChecker(passages, found.weights, base_url)
            streamed: list[str] = []
            try:
                yield from self._stream_llm(query, passages, checker, streamed)
                return
            except Exception:  # an unreachable LLM must not take the assistant down
                log.exception("LLM answer failed; falling back to the extractive answer")
                if streamed:  # keep the stream and the final answer the same text
                    yield from self._finish_llm(query, passages, checker, streamed)
                    return
        answer = compose_answer(
            found.question(), passages, found.weights, base_url, self.thresholds
        )
        yield from _replay(replace(answer, query=query))

    def retrieve(self, question: str, turns: list[Turn]) -> Retrieved:
        """The standalone query for a checked question and the passages found for it."""
        lexical = self.retriever.lexical()  # one manifest read for the mending and the weights
        lexicon = self.lexicon(lexical)
        mended = in_full(lexical.vocabulary.mend(question), lexicon)
        query = lexical.vocabulary.mend(self.standalone(mended, turns, lexical))
        if turns and asks_next(mended):  # "ok and what comes after it?": in the course's order
            query = next_in_order(query, lexicon, self._orders(lexical, lexicon)[0])
        if turns and asks_other(mended):  # "and the other track at that level?": its partner
            last = next((t.content for t in reversed(turns) if t.role == "user"), "")
            query = other_of_pair(query, last, lexicon, self._orders(lexical, lexicon)[1])
        own = own_words(mended, query) if query != mended else None  # judge its own words
        unknown = [w for w in words_of(own or query) if not lexical.weights.known(*stem([w]))]
        near = self.retriever.neighbours(lexical).near(unknown) if unknown else {}
        # "does it expire": the course's thesaurus says that is its renewal
        # the phrase as typed too: mending makes "intro level" an "introduction level"
        thesaurus = self.learner_words.current()
        said_otherwise = list(dict.fromkeys(thesaurus.found(query) + thesaurus.found(question)))
        near = {**near, **learner_near(said_otherwise)}
        searched = expand(query, said_otherwise)
        passages = self.retriever.search_in(lexical, searched)
        names_as = canonical(query, said_otherwise)  # "the first level": the Foundation level
        names_as = shortened_names(  # "pro vs architect": the Professional level
            names_as, lexicon, lambda word: lexical.weights.known(*stem([word.lower()]))
        )
        subjects = lexicon.subjects(names_as)
        named = tuple(lexicon.mentions(names_as))
        # "what does the management track teach": "track" is a word of the name, not the kind
        kinds = tuple(
            (term, group)
            for term, group in lexicon.kinds(query, listing=need_of(query) == "list")
            if not any(term in terms(name) for name, _ in named)
        )
        asked = analyze(query, subjects=subjects, named=named, names_as=names_as)
        # "data path vs the money path": the FinOps path, the one nearest in meaning to money
        sides = sides_by_meaning(query, asked.sides, lexicon, self._closest(lexical))
        if sides != asked.sides:
            subjects = tuple(sorted({*subjects, *lexicon.subjects(" ".join(sides))}))
            asked = replace(asked, sides=sides, subjects=subjects)
        asked = replace(asked, counted_as=self._counted_as(lexical, asked, near))
        if (
            sides := asked.sides
        ):  # "X vs Y": make sure both sides are found, not just the louder one
            intent = query
            for side in sides:
                intent = intent.replace(side, " ")
            found = [self.retriever.search_in(lexical, f"{side} {intent}", 2) for side in sides]
            passages = _merge(passages, *found)
        deeper = functools.cache(lambda: self.retriever.search_in(lexical, searched, DEEPER))
        for side in sides:  # each side's own section, not only its subsections
            passages = _merge(passages, _missing(passages, deeper, _headed(side), most=1))
        if len(parts := question_parts(query)) > 1:  # "X, and Y?": search for each part too
            passages = _merge(passages, *(self.retriever.search_in(lexical, p, 3) for p in parts))
        passages = _merge(passages, _numbered(asked, passages, deeper))
        passages = _merge(passages, _whole_table(asked, passages, deeper))
        choosing = _chosen_from(lexical, options_chosen(query)) if not subjects else None
        if choosing:  # "i get paged at night, which certs fit me": every row of the table
            heading = choosing.split(" > ")[-1]  # a description of one's work seldom names them
            rows = self.retriever.search_in(lexical, f"{heading}: {query}", DEEPER)
            passages = _merge(passages, [p for p in rows if p.chunk.section == choosing])
        passages = _merge(passages, _homes(asked, passages, deeper))
        passages = _merge(passages, _group_home(replace(asked, kinds=kinds), passages, deeper))
        # "which provider for SRE?" asks for one of them; "how many providers..." for none
        meant = _serving(lexical, lexicon, query, kinds) if asked.need != "count" else None
        if meant:
            passages = _merge([p for p in deeper() if p.chunk.section == meant], passages)
        for group in dict.fromkeys(group for _, group in kinds):  # "which provider...": search them
            kind = group.split(" > ")[-1]
            passages = _merge(passages, self.retriever.search_in(lexical, f"{kind}: {query}", 3))
        if kinds:  # "what are the tracks called": that search may have found a row of their table
            passages = _merge(passages, _whole_table(asked, passages, deeper))
        said = next((t.content for t in reversed(turns) if t.role == "assistant"), "")
        return Retrieved(
            query,
            own,
            passages,
            lexical.weights,
            subjects,
            kinds,
            near,
            meant,
            said,
            named,
            asked.counted_as,
            names_as,
            searched,
            asked.sides,
            choosing,
        )

    def _counted_as(
        self, lexical: Lexical, asked: Question, near: Mapping[str, Near]
    ) -> frozenset[str]:
        """Other course words for what a count asks about: "how many training companies"
        is answered by "nine providers", "how many job titles" by the roles the course
        names (the learner's word's own course words, `near`, count too). One model call,
        for count questions only."""
        if asked.need != "count" or asked.counted in (None, "money", "score"):
            return frozenset()
        word = next((w for w in words_of(asked.text) if stem([w]) == [asked.counted]), None)
        if word is None or is_time_word(word):  # minutes are not days
            return frozenset()
        nearest = near.get(asked.counted, ())
        also = {term for term, similarity in nearest if similarity >= COUNTED_ALIKE}
        return self.retriever.neighbours(lexical).alike(word) | also

    def validate(
        self, question: Any, history: Iterable[Turn | Mapping[str, Any]] | None = None
    ) -> tuple[str, list[Turn]]:
        """The stripped question and the history as turns, checked against the limits.

        HTTP layers call this before they commit to a streaming response.

        Raises:
            QuestionError: Empty, whitespace-only or oversized question, or bad history.
        """
        question = check_question(question, self.settings.max_question_chars)
        turns = check_history(
            history, self.settings.max_history_turns, self.settings.max_question_chars
        )
        return question, turns

    def examples(self, count: int = 3) -> list[str]:
        """Questions the course answers, to show a learner what to ask: FAQ questions of the
        index, spread over the FAQ."""
        asked = [c.section.split(" > ")[-1] for c in self.retriever.lexical().index.chunks]
        faq = list(dict.fromkeys(q for q in asked if q.endswith("?")))
        step = max(1, len(faq) // count)
        return faq[::step][:count]

    def warm_up(self) -> None:
        """Load the query model, the BM25 side, the units, the vocabulary, the word
        frequencies and the names of the course now, so the first learner doesn't wait."""
        self.retrieve("Certified MLOps Architect exam tips", [])
        self.retriever.neighbours(self.retriever.lexical())

    def standalone(self, question: str, history: list[Turn], lexical: Lexical | None = None) -> str:
        """The question made self-contained from the conversation (unchanged if first)."""
        if not history:
            return question
        lexicon = self.lexicon(lexical)
        if self.llm is not None and is_dependent(question, lexicon):
            try:
                return condense_question(self.llm, question, history)
            except Exception:
                log.exception("LLM condense failed; using the rule-based follow-up")

        # the learner's words as the course says them ("what's the first level about": the
        # Foundation level), so a sibling can replace them; a phrase that asks ("which path")
        # stays as typed, so the question keeps its "which"
        words = self.learner_words.current()

        def named_as(text: str) -> str:
            found = words.found(text)
            return canonical(text, [(p, c) for p, c in found if not _ASKING.match(p)])

        turns = [Turn(t.role, named_as(t.content)) if t.role == "user" else t for t in history]
        closest = self._closest(lexical or self.retriever.lexical())
        return standalone_query(question, turns, lexicon, closest, named_as(question))

    def _closest(self, lexical: Lexical) -> Closest:
        """Of some named things, the one with a unit nearest in meaning to a word."""

        def closest(word: str, named: Sequence[tuple[str, str]]) -> str | None:
            vector = self.retriever.neighbours(lexical).vector(word)
            chunks = lexical.index.chunks
            scored = [
                (near, name)
                for name, group in named
                if (near := lexical.units.closest(_under(chunks, f"{group} > {name}"), vector))
                is not None
            ]
            return max(scored)[1] if scored else None

        return closest

    def lexicon(self, lexical: Lexical | None = None) -> EntityLexicon:
        """Named things of the course, from the headings and table rows of the index.

        Args:
            lexical: The generation already read for this question, if any.
        """
        lexical = lexical or self.retriever.lexical()
        with self._lock:
            if self._lexicon is None or self._lexicon[0] != lexical.version:
                chunks = lexical.index.chunks
                sections = {c.section for c in chunks}
                rows = {(c.section, row_name(c.text)) for c in chunks if c.kind == "table_row"}
                course = course_name(c.text for c in chunks)
                self._lexicon = (lexical.version, EntityLexicon(sections, sorted(rows), course))
            return self._lexicon[1]

    def _orders(self, lexical: Lexical, lexicon: EntityLexicon) -> CourseLists:
        """The order the course's own texts list each group's things in (`course_orders`),
        and the pairs they name (`course_pairs`), read once per index generation."""
        with self._lock:
            if self._order is None or self._order[0] != lexical.version:
                texts = [u.text for u in lexical.units.units]
                lists = (course_orders(texts, lexicon), course_pairs(texts, lexicon))
                self._order = (lexical.version, lists)
            return self._order[1]

    def info(self) -> IndexInfo:
        """What the index holds, from its manifest."""
        store = self.retriever.store
        manifest = store.require_manifest()
        sources = sorted({c.source for c in self.retriever.lexical().index.chunks})
        return IndexInfo(
            documents=sources,
            chunks=manifest.chunks,
            model=manifest.model,
            ingested_at=manifest.ingested_at,
            checked_at=manifest.checked_at,
            store=self.settings.store_location,
            llm=self.settings.llm_model,
        )

    def _stream_llm(
        self,
        query: str,
        passages: list[ScoredChunk],
        checker: CitationChecker,
        streamed: list[str],
    ) -> Iterator[Event]:
        """The LLM's answer, sentence by sentence as checked; `streamed` gets each one.

        Closing this generator (a request given up on) cancels the model's call at once;
        in the API, the call is given up after the request timeout in any case.
        """
        from retrieval.llm_calls import stream_reply

        if passages:
            messages = answer_messages(query, passages)
            pieces = stream_reply(self.llm, messages, self.settings.request_timeout_seconds)
            try:
                for sentence in stream_sentences(pieces):
                    checked = checker.sentence(sentence)
                    if checked:
                        streamed.append(checked)
                        yield TextEvent(checked)
            finally:
                pieces.close()
        yield from self._finish_llm(query, passages, checker, streamed)

    def _finish_llm(
        self,
        query: str,
        passages: list[ScoredChunk],
        checker: CitationChecker,
        streamed: list[str],
    ) -> Iterator[Event]:
        if not streamed:  # nothing the passages support: say so rather than guess
            answer = refusal(passages, self.settings.site_base_url, self.thresholds)
            yield from _replay(replace(answer, query=query))
            return
        answer = Answer(" ".join(streamed), checker.citations(), refused=False, query=query)
        yield CitationsEvent(answer.citations, answer.suggestions, answer.refused)
        yield DoneEvent(answer)


def make_assistant(settings: Settings) -> Assistant:
    """Build the assistant the settings describe: store, query embedder, retriever, LLM.

    Raises:
        StoreUnavailableError: The Chroma server cannot be reached.
        AdapterError: The configured query adapter cannot be read.
    """
    from ingest import make_query_embedder, make_store
    from retrieval.llm import make_llm

    retriever = make_retriever(settings, make_store(settings), make_query_embedder(settings))
    return Assistant(retriever, settings, llm=make_llm(settings))


def make_retriever(
    settings: Settings,
    store: ChunkStore,
    embedder: Embeddings,
    kind: type[HybridRetriever] = HybridRetriever,
) -> HybridRetriever:
    """The retriever the settings describe (weights, depth, query adapter) over a store.

    Raises:
        AdapterError: The configured query adapter cannot be read.
    """
    return kind(
        store=store,
        embedder=embedder,
        site_base_url=settings.site_base_url,
        k=settings.top_k,
        dense_weight=settings.dense_weight,
        bm25_weight=settings.bm25_weight,
        unit_weight=settings.unit_weight,
        rrf_k=settings.rrf_k,
        candidates=settings.candidates,
        model=settings.embedding_model,
        word_cache=settings.data_dir / "cache",
        adapter=load_adapter(adapter_path(settings.query_adapter)),
    )


_ASKING = re.compile(r"(which|what|how|who|when|where|why)\b", re.IGNORECASE)


def _merge(*rankings: list[ScoredChunk]) -> list[ScoredChunk]:
    """The first ranking, then what the others add, each chunk once."""
    seen: set[str] = set()
    merged = []
    for ranking in rankings:
        for scored in ranking:
            if scored.chunk.id not in seen:
                seen.add(scored.chunk.id)
                merged.append(scored)
    return merged


Deeper = Callable[[], list[ScoredChunk]]


def _numbered(asked: Question, found: list[ScoredChunk], deeper: Deeper) -> list[ScoredChunk]:
    """For a count or duration that no passage found gives a number for ("how many tracks are
    there in total?"): the passages deeper in the ranking that do, up to 3."""
    if asked.need not in ("count", "duration") or asked.counted == "money":
        return []
    return _missing(found, deeper, lambda u: gives_number(asked, u), most=3)


def _whole_table(asked: Question, found: list[ScoredChunk], deeper: Deeper) -> list[ScoredChunk]:
    """For a list or a count answered by table rows ("which roles get recommendations?", "how
    many tracks at the pro level"): the other rows of the first found row's table, from deeper
    in the ranking."""
    rows = [  # a row found, or the sentence that announces the table ("The table below lists...")
        p.chunk.section
        for p in found
        if p.chunk.kind == "table_row" or any(is_lead_in(u) for u, _ in p.units)
    ]
    if not rows or asked.need not in ("list", "count"):
        return []
    tables = [p for p in deeper() if p.chunk.kind == "table_row"]
    # the first that has rows: a lead-in may announce a list, not a table
    table = next((s for s in rows if any(p.chunk.section == s for p in tables)), None)
    return [p for p in tables if p.chunk.section == table]


def _homes(asked: Question, found: list[ScoredChunk], deeper: Deeper) -> list[ScoredChunk]:
    """For a question that names a thing none of whose own sections was found ("skills of
    mlops core"): that thing's sections from deeper in the ranking, up to 2."""
    if not asked.subjects:
        return []
    return _missing(found, deeper, lambda u: home(asked, u) == 1, most=2)


def _under(chunks: Sequence[Chunk], path: str) -> list[str]:
    """Ids of the chunks of a section and of its subsections."""
    return [c.id for c in chunks if c.section == path or c.section.startswith(f"{path} > ")]


def _serving(
    lexical: Lexical, lexicon: EntityLexicon, query: str, kinds: tuple[tuple[str, str], ...]
) -> str | None:
    """For a kind of thing asked about another named thing ("which provider for the SRE
    path?"): the section of the one of that kind whose text is closest in meaning to the
    named thing's own section (Sreschool's reliability and observability, the SRE path's)."""
    # a kind of its own ("provider"), not one the named thing is ("cross-track expansion" is
    # no track) nor the course's generic words ("which certification...")
    mentioned = lexicon.mentions(query)
    groups = {
        group
        for term, group in kinds
        if not is_generic(term) and not any(term in terms(name) for name, _ in mentioned)
    }
    named = [(n, g) for n, g in mentioned if g not in groups]
    if not groups:
        return None
    chunks = lexical.index.chunks
    if not named:  # "which provider for this exact cert": the one that names the course most
        return _for_the_course(lexical, lexicon, query, groups)
    homes = (lexical.units.centre(_under(chunks, f"{group} > {name}")) for name, group in named)
    about = next((centre for centre in homes if centre is not None), None)  # a row has none
    scored = []
    for name, group, _ in lexicon.entities_by_group if about is not None else ():
        if (
            group in groups
            and (centre := lexical.units.centre(_under(chunks, f"{group} > {name}"))) is not None
        ):
            scored.append((float(centre @ about), f"{group} > {name}"))
    return max(scored)[1] if scored else None


_THIS_COURSE = re.compile(
    r"\b(?:this|the\s+actual)\s+(?:(?:exact|specific|particular|same|very)\s+)?"
    r"(?:certs?|certifications?|certificates?|course|exam|program|programme|credential)\b",
    re.IGNORECASE,
)


def _for_the_course(
    lexical: Lexical, lexicon: EntityLexicon, query: str, groups: set[str]
) -> str | None:
    """For a kind of thing asked about the course itself ("which provider is most focused on
    this exact certification?"): the section of the one of that kind whose own units name the
    course by its full name most often, by share (Aiopsschool, "the primary provider for the
    Certified MLOps Architect"); None when none or several name it as often."""
    if not _THIS_COURSE.search(query) or lexicon.course is None:
        return None
    course = lexicon.course.lower()
    shares = []
    for name, group, _ in lexicon.entities_by_group:
        if group in groups:
            path = f"{group} > {name}"
            ids = set(_under(lexical.index.chunks, path))
            texts = [u.text.lower() for u in lexical.units.units if u.chunk_id in ids]
            if texts:
                shares.append((sum(course in t for t in texts) / len(texts), path))
    shares.sort(reverse=True)
    if not shares or shares[0][0] == 0 or (len(shares) > 1 and shares[1][0] == shares[0][0]):
        return None
    return shares[0][1]


def _chosen_from(lexical: Lexical, options: set[str]) -> str | None:
    """The table whose rows are the options a learner chooses among: the first with a column
    telling one row from another that names them ("certs": "Recommended certifications")."""
    if not options:
        return None
    tables: dict[str, list[str]] = {}
    for chunk in lexical.index.chunks:
        if chunk.kind == "table_row":
            tables.setdefault(chunk.section, []).append(chunk.text)
    return next((t for t, rows in tables.items() if options & key_columns(rows)), None)


def _group_home(asked: Question, found: list[ScoredChunk], deeper: Deeper) -> list[ScoredChunk]:
    """For a list of a kind of thing with none named ("list the learning paths"): the kind's
    own section, which names them all, from deeper in the ranking."""
    if asked.need != "list" or not asked.kinds or asked.subjects:
        return []
    groups = {group for _, group in asked.kinds}
    return _missing(found, deeper, lambda u: u.section in groups, most=1)


def _headed(side: str) -> Callable[[Unit], bool]:
    """Whether a unit is in the section headed by a comparison's side ("Foundation level" for
    "foundation"), not in one of its subsections."""
    return lambda unit: names_heading(unit.section.split(" > ")[-1], side)


def _missing(
    found: list[ScoredChunk], deeper: Deeper, fits: Callable[[Unit], bool], most: int
) -> list[ScoredChunk]:
    """Passages from deeper in the ranking with a unit that fits, when no passage found has
    one; up to `most`."""
    if any(fits(unit) for p in found for unit, _ in p.units):
        return []
    return [p for p in deeper() if any(fits(unit) for unit, _ in p.units)][:most]


def _replay(answer: Answer) -> Iterator[Event]:
    """Events of an answer that is already complete: its sentences, citations, done."""
    for sentence in stream_sentences([answer.answer]):
        yield TextEvent(sentence)
    yield CitationsEvent(answer.citations, answer.suggestions, answer.refused)
    yield DoneEvent(answer)
