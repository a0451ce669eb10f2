"""One writer per index: a file lock beside an embedded store, a lease in a Chroma server.

Two ingests that write the same index at once would each build on the generation they read
and drop the other's, so an ingest holds the index from reading the manifest until its
switch is done. An embedded store is locked with a file lock next to its folder, which the
operating system releases when the process ends however it ends. A Chroma server may be
shared by hosts with no common disk, so there the lock is a lease: a small record in the
store (see `ChunkStore.claim_lease`) that its holder renews while it runs. A waiting ingest
breaks a lease that has not been renewed for `lease_seconds` by its own clock, so a killed
ingest blocks the next one for at most that long, whatever the clocks of the two hosts say.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cert_core.errors import CertAssistantError
from ingest.store import ChunkStore

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.5


class IndexBusyError(CertAssistantError):
    """Another ingest is writing the same index, and waiting for it took too long.

    Attributes:
        exit_code: The command's exit code for it (1: try again later).
    """

    exit_code = 1


class Hold:
    """The writer's hold on an index, to `check` just before the switch that publishes its work.

    A file lock cannot be lost while its process lives, so here `check` passes; a lease can
    lapse, and then its `check` raises (see `_Lease`).
    """

    def check(self) -> None:
        """Raise `IndexBusyError` when the hold was lost, so that nothing is switched."""


@contextmanager
def hold_index(store: ChunkStore) -> Iterator[Hold]:
    """Hold the index for one writer; wait for another writer up to `store.wait_seconds`.

    Raises:
        IndexBusyError: Another ingest held the index for longer than the wait allows.
    """
    if store.path is not None:
        with _file_lock(store.path.with_name(f"{store.path.name}.lock"), store) as hold:
            yield hold
    else:
        lease = _Lease(store)
        lease.acquire()
        try:
            yield lease
        finally:
            lease.release()


@contextmanager
def _file_lock(path: Path, store: ChunkStore) -> Iterator[Hold]:
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _say_waiting(store, "another ingest")
        try:
            lock.acquire(timeout=store.wait_seconds, poll_interval=_POLL_SECONDS)
        except Timeout:
            raise _busy(store, "another ingest") from None
    try:
        yield Hold()
    finally:
        lock.release()


class _Lease(Hold):
    """A lease record in the store, renewed by a background thread while it is held."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self.lost = False
        self.owner = f"{socket.gethostname()} pid {os.getpid()}"
        self.lease_id: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.store.wait_seconds
        seen: tuple[str, int] | None = None
        seen_at = time.monotonic()
        announced = False
        while True:
            self.lease_id = self.store.claim_lease(self.owner)
            if self.lease_id is not None:
                break
            holder = self.store.lease_holder()
            if holder is None:
                continue  # released between our claim and our look: claim again
            now = time.monotonic()
            if (holder.lease_id, holder.beat) != seen:
                seen, seen_at = (holder.lease_id, holder.beat), now
            elif now - seen_at >= self.store.lease_seconds:
                logger.warning(
                    "The lease of %s (since %s) was not renewed for %.1f s: taking it over.",
                    holder.owner,
                    holder.since,
                    now - seen_at,
                )
                self.store.break_lease(holder.lease_id)
                continue
            who = f"another ingest ({holder.owner}, since {holder.since})"
            if now >= deadline:
                lapse = f"a lease not renewed for {self.store.lease_seconds:g} s lapses"
                raise _busy(self.store, who, lapse)
            if not announced:
                _say_waiting(self.store, who)
                announced = True
            time.sleep(min(_POLL_SECONDS, max(deadline - now, 0.0)))
        self._renewer = threading.Thread(target=self._renew, name="ingest-lease", daemon=True)
        self._renewer.start()

    def check(self) -> None:
        """Raise `IndexBusyError` when the lease lapsed and another writer took it over."""
        holder = self.store.lease_holder()
        if self.lost or holder is None or holder.lease_id != self.lease_id:
            self.lost = True
            raise IndexBusyError(
                f"This ingest lost its lease on the index at {self.store.location} (it was not "
                f"renewed for {self.store.lease_seconds:g} s) and another ingest took it over; "
                "the index in use is unchanged. Run cert-assistant ingest again."
            )

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        if self.lease_id is not None and not self.lost:
            try:
                self.store.break_lease(self.lease_id)
            except Exception as error:  # noqa: BLE001 - an unreleased lease simply lapses
                logger.warning("Could not end the ingest lease (it lapses by itself): %s", error)

    def _renew(self) -> None:
        beat = 0
        while not self._stop.wait(self.store.lease_seconds / 4):
            beat += 1
            try:
                if not self.store.renew_lease(self.lease_id, beat):
                    self.lost = True
                    return
            except Exception as error:  # noqa: BLE001 - a network blip: try again next beat
                logger.debug("Renewing the ingest lease failed: %s", error)


def _say_waiting(store: ChunkStore, who: str) -> None:
    if store.wait_seconds <= 0:
        return  # no wait: the error alone says it
    logger.warning(
        "Waiting up to %g s for %s to finish writing the index at %s ...",
        store.wait_seconds,
        who,
        store.location,
    )


def _busy(store: ChunkStore, who: str, lapse: str = "") -> IndexBusyError:
    return IndexBusyError(
        f"The index at {store.location} is being written by {who}; gave up after "
        f"{store.wait_seconds:g} s (CERT_ASSISTANT_INGEST_WAIT_SECONDS). "
        f"Run cert-assistant ingest again when it is done{f' ({lapse})' if lapse else ''}."
    )
