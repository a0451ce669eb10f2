"""HTTP API and chat widget: FastAPI over the assistant, with abuse limits and SSE streaming."""

from cert_assistant.api.app import create_app, serve

__all__ = ["create_app", "serve"]
