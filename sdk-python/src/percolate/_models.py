"""The SDK's plain data types: what the client methods take and return.

Inputs (`ResourceInput`, `EntityInput`, `MomentInput`, `Edge`,
`ResourceFilter`, `ChatMessage`) are frozen dataclasses built by the
caller; outputs are frozen dataclasses built from the server's answers. JSON-valued fields
(metadata, properties) are plain `dict`s; times are timezone-aware
`datetime`s in UTC (naive ones given as input are taken as UTC).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

T = TypeVar("T")

JsonObject = dict[str, Any]
"""A JSON object as Python values: str, int, float, bool, None, list, dict."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Metric(enum.IntEnum):
    """Similarity measure of a search."""

    COSINE = 1
    """Cosine similarity, in [-1, 1] (the default)."""
    DOT = 2
    """Dot product of the raw vectors."""


class Direction(enum.IntEnum):
    """Which edges a traversal follows."""

    OUTGOING = 1
    """From source to destination (the default)."""
    INCOMING = 2
    """Backwards, from destination to source."""
    BOTH = 3
    """Both ways."""


class Durability(enum.IntEnum):
    """How long a write waits before it is acknowledged."""

    DEFAULT = 0
    """The server's default, `LOCAL`."""
    LOCAL = 1
    """Once committed to the node's write-ahead log (fsynced)."""
    REPLICATED = 2
    """Also once the replication log has it (FAILED_PRECONDITION on a node without replication)."""


class JobKind(enum.IntEnum):
    """What a background job does."""

    UNSPECIFIED = 0
    """Not a valid kind (also what an unknown kind from a newer server reads as)."""
    INGEST_DOCUMENT = 1
    """Parse, chunk, embed and extract entities from an uploaded document."""
    EMBED_RESOURCES = 2
    """Reserved: the server refuses it with FAILED_PRECONDITION."""


class JobState(enum.IntEnum):
    """Where a job is in its life."""

    UNSPECIFIED = 0
    """Not a valid state (also what an unknown state from a newer server reads as)."""
    QUEUED = 1
    """Waiting for a worker."""
    RUNNING = 2
    """A worker is on it."""
    SUCCEEDED = 3
    """Finished successfully."""
    FAILED = 4
    """Finished with an error (see `Job.error`)."""
    CANCELLED = 5
    """Cancelled before it finished."""

    @property
    def is_final(self) -> bool:
        """Whether the job has finished (succeeded, failed or was cancelled)."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class ChatRole(enum.IntEnum):
    """Who wrote a turn of a chat conversation."""

    SYSTEM = 1
    """Instructions from the application, given to the model after the server's
    own (which ask it to answer from the retrieved context and cite it)."""
    USER = 2
    """The person asking."""
    ASSISTANT = 3
    """An earlier answer."""


# ---- inputs -----------------------------------------------------------------


@dataclass(frozen=True)
class ResourceInput:
    """A resource chunk to write. Its id is derived from `(uri, chunk_ordinal)`.

    Without an `embedding`, the server embeds `content` with its model.
    """

    uri: str
    """Where the document came from (a URL, a path, any stable name)."""
    content: str = ""
    """The chunk's text."""
    chunk_ordinal: int = 0
    """Position of this chunk within the document, from 0."""
    content_type: str = ""
    """MIME type of the source document, for example `text/markdown`."""
    tags: Sequence[str] = ()
    """Labels usable as search filters."""
    metadata: Mapping[str, Any] | None = None
    """Free-form JSON metadata."""
    embedding: Sequence[float] | None = None
    """The chunk's vector; every vector of a tenant has the same dimension."""
    created_at: datetime | None = None
    """Creation time; the server's clock when `None`."""


@dataclass(frozen=True)
class EntityInput:
    """An entity to create, or to merge into the stored one field by field."""

    type: str
    """The entity's type, for example `person`."""
    key: str
    """The entity's natural key within its type, for example an email address."""
    properties: Mapping[str, Any] | None = None
    """Fields to set; a field set to `None` is removed."""


@dataclass(frozen=True)
class MomentInput:
    """A time-stamped event to write. Moments are immutable."""

    name: str
    """Short name of what happened."""
    start_time: datetime = field(default_factory=_now)
    """When it began (now by default)."""
    summary: str = ""
    """Longer description."""
    end_time: datetime | None = None
    """When it ended; `None` for instants."""
    moment_type: str = ""
    """Kind of moment, for example `meeting`."""
    tags: Sequence[str] = ()
    """Labels usable as feed filters."""
    entity_refs: Sequence[str] = ()
    """Ids of entities this moment refers to."""
    resource_refs: Sequence[str] = ()
    """Ids of resources this moment refers to."""
    metadata: Mapping[str, Any] | None = None
    """Free-form JSON metadata."""
    id: str = ""
    """A UUID chosen by the caller, or empty for one generated by the server.
    Writes whose moments all have ids are retried on UNAVAILABLE."""


@dataclass(frozen=True)
class ResourceFilter:
    """Filters applied to search candidates before ranking. Empty fields filter nothing."""

    tags_all: Sequence[str] = ()
    """Only resources carrying every one of these tags."""
    tags_any: Sequence[str] = ()
    """Only resources carrying at least one of these tags."""
    uri_prefix: str = ""
    """Only resources whose uri starts with this prefix."""
    content_types: Sequence[str] = ()
    """Only resources with one of these content types."""
    created_after: datetime | None = None
    """Only resources created at or after this time."""
    created_before: datetime | None = None
    """Only resources created before this time."""


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat conversation, for `chat(messages=...)`."""

    role: ChatRole
    """Who wrote it."""
    content: str
    """Its text (at most 32 KiB)."""


# ---- both ways ----------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """A typed edge `src -[rel_type]-> dst` between two entities (by id)."""

    src: str
    """Id of the entity the edge starts at."""
    dst: str
    """Id of the entity the edge points to."""
    rel_type: str
    """Relation type, for example `works_at`."""
    properties: JsonObject = field(default_factory=dict)
    """Free-form JSON properties."""
    weight: float = 0.0
    """Weight of the edge; 0 means unweighted."""


# ---- outputs --------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """A stored resource chunk."""

    id: str
    """Deterministic id (UUID v5 of `uri` and `chunk_ordinal`)."""
    uri: str
    """Where the document came from."""
    chunk_ordinal: int
    """Position of this chunk within the document."""
    content: str
    """The chunk's text."""
    content_type: str
    """MIME type of the source document."""
    metadata: JsonObject
    """Free-form JSON metadata."""
    tags: list[str]
    """Labels usable as search filters."""
    created_at: datetime | None
    """When the resource was created."""
    embedding: list[float]
    """The chunk's vector; empty unless asked for (`include_embeddings`)."""
    embedding_pending: bool
    """Whether the resource still waits for its embedding."""


@dataclass(frozen=True)
class PutResult:
    """What `put_resources` did."""

    ids: list[str]
    """Ids of the written resources, in request order."""
    replaced_chunks: int
    """Chunks deleted because their uri was replaced."""
    embedded_by_node: int
    """How many of the written chunks the server embedded itself."""


@dataclass(frozen=True)
class SearchHit:
    """One search result."""

    resource: Resource
    """The matching resource."""
    score: float
    """Similarity to the query; higher is closer."""


@dataclass(frozen=True)
class SearchResult:
    """The answer of `search`."""

    hits: list[SearchHit]
    """Hits, best first."""
    candidates: int
    """How many vectors passed the filter and were scored."""
    pending_embeddings: int
    """Resources of the tenant still waiting for an embedding (not searchable yet)."""


@dataclass(frozen=True)
class Found(Generic[T]):
    """Items read by id, and the requested ids that do not exist."""

    items: list[T]
    """The items found, in request order."""
    missing_ids: list[str]
    """Requested ids that do not exist."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: list[T]
    """The page's items, newest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; `None` on the last page."""


@dataclass(frozen=True)
class Entity:
    """A stored entity: a node of the graph."""

    id: str
    """Deterministic id (UUID v5 of `type` and `key`)."""
    type: str
    """The entity's type."""
    key: str
    """The entity's key within its type."""
    properties: JsonObject
    """Properties as a JSON object."""
    edges: list[Edge]
    """Outgoing edges (only when asked for with `include_edges`)."""
    updated_at: datetime | None
    """When the entity was last changed."""


@dataclass(frozen=True)
class TraversalNode:
    """An entity reached by a traversal."""

    entity: Entity
    """The entity (without edges)."""
    depth: int
    """Hops from the nearest start entity."""


@dataclass(frozen=True)
class TraverseResult:
    """The answer of `traverse`."""

    nodes: list[TraversalNode]
    """Entities reached, breadth first, start entities first."""
    edges: list[Edge]
    """Edges walked between the returned entities."""
    truncated: bool
    """True when `limit` stopped the walk early."""


@dataclass(frozen=True)
class Moment:
    """A stored moment."""

    id: str
    """The moment's id."""
    name: str
    """Short name of what happened."""
    summary: str
    """Longer description."""
    start_time: datetime | None
    """When it began."""
    end_time: datetime | None
    """When it ended; `None` for instants."""
    moment_type: str
    """Kind of moment."""
    tags: list[str]
    """Labels usable as feed filters."""
    entity_refs: list[str]
    """Ids of entities it refers to."""
    resource_refs: list[str]
    """Ids of resources it refers to."""
    metadata: JsonObject
    """Free-form JSON metadata."""


@dataclass(frozen=True)
class TenantStats:
    """Counts and settings of a tenant."""

    tenant_id: str
    """The tenant's id."""
    resources: int
    """Number of resources."""
    embedded_resources: int
    """Number of resources with an embedding."""
    entities: int
    """Number of entities."""
    moments: int
    """Number of moments."""
    vector_dimension: int
    """Dimension of the tenant's vectors; 0 before the first vector."""
    embedding_model: str
    """The model that produced the tenant's vectors, if known."""
    disk_bytes: int
    """Bytes on disk (estimated)."""


@dataclass(frozen=True)
class Citation:
    """A chat event: a piece of context the answer is grounded in (every
    citation comes before the answer's text).

    Exactly one of `resource`, `entity` and `moment` is set (none, for a kind
    of source this SDK does not know, from a newer server); `source` is
    whichever it is.
    """

    number: int
    """1-based number the answer uses to refer to it, as `[n]`."""
    score: float
    """The resource's similarity to the question; 0 for entities and moments."""
    reason: str
    """Why it is in the context, for example `similar to the question`,
    `named in the question`, `named in [2]` or `refers to [1]`."""
    resource: Resource | None = None
    """A resource chunk found by meaning (without its embedding)."""
    entity: Entity | None = None
    """An entity named in the question or a passage, or a neighbour of one
    (with the edges that connect it to the other cited entities)."""
    moment: Moment | None = None
    """A moment of the time window."""

    @property
    def source(self) -> Resource | Entity | Moment | None:
        """What is cited: the resource, entity or moment that is set."""
        return self.resource or self.entity or self.moment


@dataclass(frozen=True)
class ChatDelta:
    """A chat event: the next piece of the answer text."""

    text: str
    """The text to append."""


@dataclass(frozen=True)
class ChatDone:
    """The last chat event. A stream that ends without it raised an error instead."""

    model: str
    """The model that wrote the answer, or `extractive` when the answer quotes the retrieved context."""
    extractive: bool
    """Whether the answer is extractive (quoted passages, no language model)."""
    moment_id: str | None
    """Id of the moment (of type `chat`) that records the exchange, when
    `record_moment` was asked for; `None` otherwise."""
    context_tokens: int
    """Estimated tokens of the context the answer was given."""
    omitted_items: int
    """Context items retrieved but left out because the budget was spent."""
    dropped_messages: int
    """Oldest conversation turns left out of what the model saw."""


ChatEvent = Citation | ChatDelta | ChatDone
"""One event of a streamed chat answer."""


@dataclass(frozen=True)
class UploadResult:
    """The server's answer to an upload: the file is stored and its ingestion job queued."""

    upload_id: str
    """The upload's id (re-sending it does not create a second job)."""
    job_id: str
    """Id of the ingestion job: follow it with `wait_for_job`."""
    object_key: str
    """Where the file is stored."""
    size: int
    """How many bytes were stored."""
    sha256: str
    """Hex SHA-256 of the stored bytes."""


@dataclass(frozen=True)
class JobSpec:
    """What a job was asked to do (the request that created it)."""

    kind: JobKind
    """What the job does."""
    object_key: str
    """For document jobs: key of the uploaded file."""
    uri: str
    """For document jobs: the uri the resulting resources get."""
    content_type: str
    """For document jobs: the content type, if given."""
    tags: list[str]
    """Tags given to every resulting resource."""
    metadata: JsonObject
    """Metadata given to every resulting resource."""
    idempotency_key: str
    """The client-chosen key that makes resubmission safe, if any."""


@dataclass(frozen=True)
class JobResult:
    """What a finished job produced."""

    resources: int
    """Resource chunks written."""
    entities: int
    """Entities written."""
    moments: int
    """Moments written."""


@dataclass(frozen=True)
class Job:
    """A background job and its progress."""

    id: str
    """The job's id."""
    kind: JobKind
    """What the job does."""
    state: JobState
    """Where the job is in its life."""
    progress: float
    """Fraction done, from 0 to 1."""
    stage: str
    """The current stage, for example `parsing` or `embedding`."""
    error: str
    """Why the job failed, when it did."""
    result: JobResult | None
    """What the job produced, once it succeeded."""
    attempts: int
    """How many times a worker has started it."""
    created_at: datetime | None
    """When it was submitted."""
    started_at: datetime | None
    """When a worker last started it."""
    finished_at: datetime | None
    """When it finished."""
    request: JobSpec | None
    """The request that created it."""

    @property
    def done(self) -> bool:
        """Whether the job has finished (succeeded, failed or was cancelled)."""
        return self.state.is_final
