"""Polite HTTP for ingesting the course site: allowed hosts, robots.txt, pacing, retries.

Every request, robots.txt included, goes through one host's turn: at most `concurrency`
requests to a host at once, their starts at least `delay_seconds` apart (longer when the
host's robots.txt asks for a Crawl-delay). A try that times out, cannot connect, or gets
429 or a 5xx is tried again, `retries` more times with a growing pause; 404 and 410 mean
the page is gone. Redirects are followed (five at most), each hop checked against the
allowed hosts and robots.txt, so a page is known by the URL it finally came from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

MAX_REDIRECTS = 5
MAX_RETRY_PAUSE_SECONDS = 30.0
_REDIRECTS = {301, 302, 303, 307, 308}
_TRANSIENT = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """A URL that could not be fetched; the message says why.

    Attributes:
        gone: The site says the page no longer exists (404 or 410), so its chunks go.
    """

    def __init__(self, reason: str, gone: bool = False) -> None:
        super().__init__(reason)
        self.gone = gone


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: the `CERT_ASSISTANT_WEB_*` settings and the largest body read."""

    allowed_hosts: frozenset[str]
    user_agent: str = "cert-assistant-ingest"
    concurrency: int = 2
    delay_seconds: float = 0.5
    timeout_seconds: float = 10.0
    retries: int = 2
    max_bytes: int = 10_000_000


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: 200 with its body, or 304 (the copy kept is current)."""

    url: str  # the final URL, after redirects
    status: int
    body: bytes = b""
    content_type: str = ""
    encoding: str | None = None
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class _Reply:
    """One response, read whole."""

    status: int
    reason: str
    headers: Any  # httpx.Headers: case-insensitive
    body: bytes
    encoding: str | None

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding or "utf-8", errors="replace")


@dataclass
class _Host:
    """One host's pacing and robots.txt rules."""

    slots: asyncio.Semaphore
    delay: float
    next_start: float = 0.0
    pace: asyncio.Lock = field(default_factory=asyncio.Lock)
    robots_read: asyncio.Lock = field(default_factory=asyncio.Lock)
    robots: RobotFileParser | FetchError | None = None


class PoliteClient:
    """An `httpx.AsyncClient` that fetches only what it may, at the pace a host allows."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self._hosts: dict[str, _Host] = {}
        self._client: Any = None

    async def __aenter__(self) -> PoliteClient:
        import httpx

        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.options.user_agent},
            timeout=self.options.timeout_seconds,
            follow_redirects=False,  # each hop is checked: see `fetch`
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, validators: dict[str, str] | None = None) -> Fetched:
        """GET a URL (conditionally, with an earlier response's ETag and Last-Modified).

        Raises:
            FetchError: The host is not allowed, robots.txt disallows the URL, the site
                answered an error (after the retries, for a transient one), or sent more
                than `max_bytes`.
        """
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        for _ in range(MAX_REDIRECTS + 1):
            await self._check_allowed(url)
            fetched = await self._get(url, headers)
            if isinstance(fetched, str):
                url = fetched  # a redirect: the next hop is checked again
                continue
            return fetched
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _check_allowed(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url} is not an http(s) URL")
        if not host_allowed(parts.netloc, self.options.allowed_hosts):
            raise FetchError(
                f"host {parts.netloc} is not allowed (CERT_ASSISTANT_WEB_ALLOWED_HOSTS: "
                f"{', '.join(sorted(self.options.allowed_hosts))})"
            )
        robots = await self._robots(parts.scheme, parts.netloc)
        if isinstance(robots, FetchError):
            raise robots
        if not robots.can_fetch(self.options.user_agent, url):
            raise FetchError(f"robots.txt of {parts.netloc} disallows it for this user agent")

    async def _robots(self, scheme: str, netloc: str) -> RobotFileParser | FetchError:
        """The host's robots.txt rules, read once: none found allows all; 401/403 none."""
        host = self._host(netloc)
        async with host.robots_read:
            if host.robots is None:
                rules = RobotFileParser()
                try:
                    response = await self._request(f"{scheme}://{netloc}/robots.txt", {}, True)
                except FetchError as error:
                    host.robots = FetchError(f"robots.txt of {netloc} could not be read: {error}")
                    return host.robots
                if response.status in (401, 403):
                    rules.disallow_all = True
                elif response.status >= 400:
                    rules.allow_all = True
                else:
                    rules.parse(response.text.splitlines())
                    crawl_delay = rules.crawl_delay(self.options.user_agent)
                    host.delay = max(host.delay, float(crawl_delay or 0))
                host.robots = rules
            return host.robots

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched | str:
        """One hop: the response, or the URL a redirect points to."""
        response = await self._request(url, headers, False)
        status = response.status
        if status in _REDIRECTS and response.headers.get("location"):
            return urljoin(url, response.headers["location"])
        if status == 304:
            return Fetched(url, 304)
        if status in (404, 410):
            raise FetchError(f"HTTP {status} {response.reason}: the page is gone", gone=True)
        if status != 200:
            raise FetchError(f"HTTP {status} {response.reason}")
        return Fetched(
            url,
            200,
            response.body,
            response.headers.get("content-type", ""),
            response.encoding,
            response.headers.get("etag", ""),
            response.headers.get("last-modified", ""),
        )

    async def _request(self, url: str, headers: dict[str, str], redirects: bool) -> _Reply:
        """A GET in the host's turn, tried again while it fails for a passing reason."""
        import httpx

        host = self._host(urlsplit(url).netloc)
        tries = self.options.retries + 1
        for attempt in range(tries):
            if attempt:
                pause = max(self.options.delay_seconds, 0.1) * 2 ** (attempt - 1)
                await asyncio.sleep(min(pause, MAX_RETRY_PAUSE_SECONDS))
            async with host.slots:
                await self._wait_turn(host)
                try:
                    response = await asyncio.wait_for(
                        self._read(url, headers, redirects), self.options.timeout_seconds
                    )
                except (TimeoutError, httpx.TimeoutException):
                    problem = f"timed out after {self.options.timeout_seconds:g} s"
                    continue
                except httpx.HTTPError as error:
                    problem = f"cannot connect: {error or type(error).__name__}"
                    continue
            if response.status not in _TRANSIENT:
                return response
            problem = f"HTTP {response.status} {response.reason}"
        raise FetchError(f"{problem} ({tries} {'try' if tries == 1 else 'tries'})")

    async def _read(self, url: str, headers: dict[str, str], redirects: bool) -> _Reply:
        """The response with its body, refusing a body over `max_bytes`."""
        limit = self.options.max_bytes
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._client.send(request, stream=True, follow_redirects=redirects)
        try:
            body = bytearray()
            async for piece in response.aiter_bytes():
                body += piece
                if len(body) > limit:
                    raise FetchError(
                        f"page is over the {limit / 1e6:g} MB limit; split it or raise "
                        "CERT_ASSISTANT_MAX_FILE_BYTES"
                    )
        finally:
            await response.aclose()
        return _Reply(
            response.status_code,
            response.reason_phrase,
            response.headers,
            bytes(body),
            response.charset_encoding,
        )

    async def _wait_turn(self, host: _Host) -> None:
        """Start no sooner than `delay` after the host's previous request started."""
        loop = asyncio.get_running_loop()
        async with host.pace:
            wait = host.next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            host.next_start = loop.time() + host.delay

    def _host(self, netloc: str) -> _Host:
        key = netloc.lower()
        if key not in self._hosts:
            slots = asyncio.Semaphore(self.options.concurrency)
            self._hosts[key] = _Host(slots, self.options.delay_seconds)
        return self._hosts[key]


def host_allowed(netloc: str, allowed: frozenset[str]) -> bool:
    """Whether a `host[:port]` is allowed: listed as is, or its host listed without a port.

    >>> allowed = frozenset({"courses.example.com", "127.0.0.1:8123"})
    >>> host_allowed("Courses.example.com:443", allowed), host_allowed("127.0.0.1:8123", allowed)
    (True, True)
    >>> host_allowed("127.0.0.1:9999", allowed), host_allowed("evil.example.com", allowed)
    (False, False)
    """
    netloc = netloc.lower()
    return netloc in allowed or netloc.rsplit(":", 1)[0] in allowed
