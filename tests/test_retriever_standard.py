"""HybridRetriever against LangChain's standard retriever test suite (`langchain-tests`),
on the tiny course ingested into real Chroma with the fake embedder."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from ingest import ChunkStore
from retrieval import HybridRetriever


@pytest.mark.anyio  # runs the suite's one coroutine test; the others are left alone
class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _index(self, tiny_index: ChunkStore, fake_embedder) -> None:
        self._params = {"store": tiny_index, "embedder": fake_embedder, "k": 4}

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return "Which tools do the labs use?"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_honours_k_from_the_constructor_and_from_invoke(tiny_index, fake_embedder, mode):
    question = "Foundation level preparation and labs"  # matched by words and by meaning

    retriever = HybridRetriever(store=tiny_index, embedder=fake_embedder, mode=mode, k=3)

    assert len(retriever.invoke(question)) == 3
    assert len(retriever.invoke(question, k=1)) == 1
    assert len(retriever.invoke(question, k=4)) == 4


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_ainvoke_returns_what_invoke_returns(tiny_index, fake_embedder):
    retriever = HybridRetriever(store=tiny_index, embedder=fake_embedder, k=3)

    assert await retriever.ainvoke("SRE path") == retriever.invoke("SRE path")


@pytest.mark.anyio
async def test_ainvoke_honours_k_like_invoke(tiny_index, fake_embedder):
    retriever = HybridRetriever(store=tiny_index, embedder=fake_embedder)

    assert await retriever.ainvoke("SRE path", k=2) == retriever.invoke("SRE path", k=2)
