"""The writer's lease on a Chroma server: a small record in the store (see `ingest.lock`).

A Chroma server may be shared by hosts with no common disk, so one writer at a time is a
lease there, not a file lock: a collection whose creation by name succeeds for one caller
only, renewed by its holder and broken by a waiting writer once it lapses. These are
`ChunkStore`'s methods for it, kept apart from the index they guard.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cert_core.errors import StoreUnavailableError


@dataclass(frozen=True)
class Lease:
    """Who holds the writer's lease on a Chroma server; `beat` counts its renewals."""

    lease_id: str
    owner: str
    beat: int
    since: str


class LeaseRecords:
    """The lease half of `ChunkStore`: it needs the store's `client`, `prefix` and
    `location`, and keeps which lease records it took."""

    client: Any
    prefix: str
    location: str

    def __init__(self) -> None:
        self._leases: dict[str, Any] = {}
        self._own_leases: set[str] = set()
        self.took_over_lease = False  # broke another writer's lapsed lease (see `ChunkStore`)

    def claim_lease(self, owner: str) -> str | None:
        """Create the lease record unless another writer holds it.

        Creating a collection by name succeeds for one caller only, so this is the atomic
        step of taking the lease.

        Returns:
            The new lease's id, or None when another writer holds the lease.
        """
        record = {"owner": owner, "beat": 0, "since": _now()}
        try:
            collection = self.client.create_collection(
                self._lease_name, metadata=record, embedding_function=None
            )
        except Exception as error:
            if self.lease_holder() is None and not _already_exists(error):
                raise StoreUnavailableError(
                    f"Cannot take the ingest lease in the Chroma store at {self.location}: {error}"
                ) from error
            return None
        self._leases[str(collection.id)] = collection
        self._own_leases.add(str(collection.id))
        return str(collection.id)

    def lease_holder(self) -> Lease | None:
        """The lease as it is now, or None when nobody holds it."""
        from chromadb.errors import NotFoundError

        try:
            collection = self.client.get_collection(self._lease_name, embedding_function=None)
        except NotFoundError:
            return None
        except Exception as error:  # an embedded client raises a plain error for a missing name
            if "does not exist" in str(error):
                return None
            raise
        self._leases[str(collection.id)] = collection
        meta = collection.metadata or {}
        return Lease(
            str(collection.id), str(meta.get("owner")), int(meta.get("beat", 0)), meta.get("since")
        )

    def renew_lease(self, lease_id: str, beat: int) -> bool:
        """Record one more renewal of a lease this store took; False when it is gone."""
        collection = self._leases[lease_id]
        record = {**(collection.metadata or {}), "beat": beat}
        try:
            collection.modify(metadata=record)
        except Exception as error:
            if "does not exist" in str(error):
                return False
            raise
        holder = self.lease_holder()
        return holder is not None and holder.lease_id == lease_id

    def break_lease(self, lease_id: str) -> None:
        """End a lease (one's own, or one that lapsed).

        The record is first renamed by its id, so a writer that took the lease meanwhile
        keeps its own record; only then is it deleted under its private name.
        """
        collection = self._leases.pop(lease_id, None)
        if collection is None:
            return
        if lease_id not in self._own_leases:
            self.took_over_lease = True  # its writer may still write: see `updatable`
        private = f"{self._lease_name}-ended-{uuid.uuid4().hex[:12]}"
        try:
            collection.modify(name=private)
        except Exception as error:
            if "does not exist" in str(error):
                return  # another writer ended it first
            raise
        self.client.delete_collection(private)

    @property
    def _lease_name(self) -> str:
        return f"{self.prefix}-lease"


def _already_exists(error: BaseException) -> bool:
    return "already exists" in str(error)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
