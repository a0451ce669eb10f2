"""Prometheus metrics of one API process, served at GET /metrics behind a bearer token.

Off unless `CERT_ASSISTANT_METRICS_TOKEN` is set: then every request is counted and timed by
route template and status, answers by outcome, ratings by thumb, and the index's generation,
version and chunk count are read at each scrape. Each process keeps its own counts in its own
registry (no multi-process mode): Prometheus scrapes every host and sums them.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cert_assistant.api.errors import APIError
from cert_core.settings import Settings

UNMATCHED = "unmatched"  # the route label of a path no route serves, so 404 scans add no labels
# Seconds: a refusal or a cached answer is quick, a cold model or an LLM answer is slow.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The process's counters and gauges, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["route", "method", "status"]
        self.requests = Counter(
            "cert_assistant_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "cert_assistant_http_request_duration_seconds",
            "Time from request to the end of the response (a whole stream), by route and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "cert_assistant_answers",
            "Answers given, by outcome: answered (with citations) or refused.",
            ["outcome"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "cert_assistant_feedback",
            "Learners' ratings of answers, by rating: up or down.",
            ["rating"],
            registry=self.registry,
        )
        self.index_generation = Gauge(
            "cert_assistant_index_generation",
            "Generation of the index this process answers from (it grows with each ingest).",
            registry=self.registry,
        )
        self.index_version = Gauge(
            "cert_assistant_index_version",
            "Version of the index within its generation (an ingest that updates in place "
            "raises it; 0 for an index written before versions).",
            registry=self.registry,
        )
        self.index_chunks = Gauge(
            "cert_assistant_index_chunks",
            "Chunks in the index this process answers from.",
            registry=self.registry,
        )
        for outcome in ("answered", "refused"):  # shown at 0 before the first one
            self.answers.labels(outcome)
        for rating in ("up", "down"):
            self.feedback.labels(rating)

    def count_answer(self, refused: bool) -> None:
        """One answer given, or one refusal."""
        self.answers.labels("refused" if refused else "answered").inc()

    def count_rating(self, rating: str) -> None:
        """One thumbs up or down recorded."""
        self.feedback.labels(rating).inc()

    def show_index(self, manifest: Any | None) -> None:
        """The index's generation, version and chunks, from its manifest (None: no index, NaN)."""
        for gauge, field in (
            (self.index_generation, "generation"),
            (self.index_version, "version"),
            (self.index_chunks, "chunks"),
        ):
            gauge.set(getattr(manifest, field, 0) if manifest is not None else float("nan"))

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (`/api/chat`), never its path.

    Outermost but for the request id and security headers, so refusals made by the other
    middleware (413, CORS, 500) are counted with the status the client saw.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it starts a response

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            labels = (route, scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


def add_metrics(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Serve `metrics` at GET /metrics to callers with `Authorization: Bearer <token>`.

    The token is compared in constant time and never logged; a missing or wrong one gets a
    401 (the same for both), so the endpoint tells nobody else anything.
    """
    if settings.metrics_token is None:
        return
    token = settings.metrics_token.get_secret_value().encode()

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token)):
            raise APIError(
                401,
                "GET /metrics needs the metrics token: Authorization: Bearer <token>.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        metrics.show_index(await request.app.state.service.index_manifest())
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
