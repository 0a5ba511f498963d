"""One exception hierarchy for everything the server (or the SDK) refuses.

Every failed call raises a `PercolateError` subclass chosen by its gRPC
status code, so callers can catch precisely (`except percolate.NotFound`) or
broadly (`except percolate.PercolateError`). Arguments the SDK can check
before calling raise the same classes (`InvalidArgument`), so a caller never
needs to catch `grpc.RpcError`.
"""

from __future__ import annotations

import grpc


class PercolateError(Exception):
    """A call failed: `code` is the gRPC status code, `message` the server's explanation."""

    code: grpc.StatusCode
    """The gRPC status code."""
    message: str
    """What went wrong, as the server (or the SDK) put it."""
    method: str | None
    """The RPC that failed, for example `PutResources`, when there was a call."""

    def __init__(self, code: grpc.StatusCode, message: str, *, method: str | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.method = method

    def __str__(self) -> str:
        where = f" ({self.method})" if self.method else ""
        return f"{self.code.name}{where}: {self.message}"


class Cancelled(PercolateError):
    """CANCELLED: the call was cancelled, usually by the caller."""


class Unknown(PercolateError):
    """UNKNOWN: an error without a more precise status."""


class InvalidArgument(PercolateError):
    """INVALID_ARGUMENT: the request is malformed (bad tenant id, wrong vector dimension, NaN, ...)."""


class DeadlineExceeded(PercolateError):
    """DEADLINE_EXCEEDED: the call (or `wait_for_job`) ran out of time."""


class NotFound(PercolateError):
    """NOT_FOUND: the named job, object or item does not exist."""


class AlreadyExists(PercolateError):
    """ALREADY_EXISTS: the item to create exists already."""


class PermissionDenied(PercolateError):
    """PERMISSION_DENIED: the caller may not do this."""


class ResourceExhausted(PercolateError):
    """RESOURCE_EXHAUSTED: a quota or size limit was hit."""


class FailedPrecondition(PercolateError):
    """FAILED_PRECONDITION: the tenant or node is not in a state that allows it
    (text search over vectors of an unknown model, cancelling a finished job, ...)."""


class Aborted(PercolateError):
    """ABORTED: the operation was aborted, typically by a conflict."""


class OutOfRange(PercolateError):
    """OUT_OF_RANGE: a value is past the valid range."""


class Unimplemented(PercolateError):
    """UNIMPLEMENTED: this server does not serve the call (yet)."""


class Internal(PercolateError):
    """INTERNAL: the server failed; its logs say more."""


class Unavailable(PercolateError):
    """UNAVAILABLE: the server cannot be reached or cannot do it now; idempotent calls
    were retried before this was raised."""


class DataLoss(PercolateError):
    """DATA_LOSS: stored or sent data failed verification (an upload's size or SHA-256)."""


class Unauthenticated(PercolateError):
    """UNAUTHENTICATED: the token is missing or not valid."""


_BY_CODE: dict[grpc.StatusCode, type[PercolateError]] = {
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNKNOWN: Unknown,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def error(code: grpc.StatusCode, message: str, *, method: str | None = None) -> PercolateError:
    """The `PercolateError` subclass for `code`, carrying `message`."""
    return _BY_CODE.get(code, PercolateError)(code, message, method=method)


def status_code(exc: grpc.RpcError) -> grpc.StatusCode:
    """The status code of a failed call (UNKNOWN when the error carries none)."""
    code = getattr(exc, "code", None)
    value = code() if callable(code) else None
    return value if isinstance(value, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def from_rpc_error(exc: grpc.RpcError, method: str) -> PercolateError:
    """Converts a failed gRPC call (sync or asyncio) into a `PercolateError`."""
    details = getattr(exc, "details", None)
    message = details() if callable(details) else None
    code = status_code(exc)
    if code == grpc.StatusCode.CANCELLED and message == "Timeout expired":
        # The server (tonic) reports its side of an expired deadline as
        # CANCELLED; it is the same deadline the client set.
        code, message = grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded (Timeout expired on the server)"
    return error(code, message or str(exc), method=method)
