"""Ingestion: course files → chunks with their sections → embeddings → Chroma."""

from ingest.documents import Chunk, SourceDocument
from ingest.embeddings import SentenceTransformerEmbedder, make_embedder, model_id
from ingest.loaders import LoadError, LoadResult, Skipped, load_document, load_documents
from ingest.onnx_embeddings import OnnxEmbedder, ensure_onnx, export_onnx, make_query_embedder
from ingest.pipeline import IngestReport, ingest
from ingest.splitter import slugify, split_document, split_documents
from ingest.store import ChunkStore, Hit, Manifest, make_store

__all__ = [
    "Chunk",
    "ChunkStore",
    "Hit",
    "IngestReport",
    "LoadError",
    "LoadResult",
    "Manifest",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "Skipped",
    "SourceDocument",
    "ensure_onnx",
    "export_onnx",
    "ingest",
    "load_document",
    "load_documents",
    "make_embedder",
    "make_query_embedder",
    "make_store",
    "model_id",
    "slugify",
    "split_document",
    "split_documents",
]
