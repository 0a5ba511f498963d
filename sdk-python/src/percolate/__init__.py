"""Python client for Percolate, the multi-tenant REM database served over gRPC.

::

    import percolate

    with percolate.Client("127.0.0.1:50051", tenant="acme") as client:
        client.put_resources([percolate.ResourceInput("note://1", "Invoices go out monthly")])
        hits = client.search("when am I billed?", top_k=3).hits

`Client` blocks; `AsyncClient` has the same methods for asyncio. Both take
and return the plain dataclasses exported here and raise `PercolateError`
subclasses. The generated protobuf and gRPC modules are in `percolate.v1`
for the rare call the clients do not cover.
"""

from percolate._errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PercolateError,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from percolate._models import (
    ChatDelta,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRole,
    Citation,
    Direction,
    Durability,
    Edge,
    Entity,
    EntityInput,
    Found,
    Job,
    JobKind,
    JobResult,
    JobSpec,
    JobState,
    JsonObject,
    Metric,
    Moment,
    MomentInput,
    Page,
    PutResult,
    Resource,
    ResourceFilter,
    ResourceInput,
    SearchHit,
    SearchResult,
    TenantStats,
    TraversalNode,
    TraverseResult,
    UploadResult,
)
from percolate._retry import RetryPolicy
from percolate._upload import ProgressCallback, UploadSource
from percolate.aio import AsyncClient
from percolate.client import Client

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "AsyncClient",
    "Cancelled",
    "ChatDelta",
    "ChatDone",
    "ChatEvent",
    "ChatMessage",
    "ChatRole",
    "Citation",
    "Client",
    "DataLoss",
    "DeadlineExceeded",
    "Direction",
    "Durability",
    "Edge",
    "Entity",
    "EntityInput",
    "FailedPrecondition",
    "Found",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobKind",
    "JobResult",
    "JobSpec",
    "JobState",
    "JsonObject",
    "Metric",
    "Moment",
    "MomentInput",
    "NotFound",
    "OutOfRange",
    "Page",
    "PercolateError",
    "PermissionDenied",
    "ProgressCallback",
    "PutResult",
    "Resource",
    "ResourceExhausted",
    "ResourceFilter",
    "ResourceInput",
    "RetryPolicy",
    "SearchHit",
    "SearchResult",
    "TenantStats",
    "TraversalNode",
    "TraverseResult",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "UploadResult",
    "UploadSource",
    "__version__",
]
