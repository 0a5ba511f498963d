"""What `Client` and `AsyncClient` share: the tenant and token metadata, the
default deadline, the retry policy and how a target names a server."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, TypeVar

import grpc

from percolate import _models as m
from percolate._errors import DeadlineExceeded
from percolate._retry import RetryPolicy

TENANT_HEADER = "x-tenant-id"
"""The metadata key naming the tenant of every call."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a unary call may take by default."""

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
)
"""Large answers (embeddings, big batches) fit in a message."""

_C = TypeVar("_C", bound="ClientBase")


def parse_target(target: str) -> tuple[str, bool]:
    """`host:port`, `http://host:port` (plaintext) or `https://host:port` (TLS),
    as the address for gRPC and whether to use TLS."""
    for scheme, tls in (("https://", True), ("http://", False)):
        if target.startswith(scheme):
            return target[len(scheme) :].rstrip("/"), tls
    return target, False


def check_tenant(tenant: str) -> None:
    """Refuses what cannot be a tenant id at all; the server checks the rest
    (`[a-z0-9][a-z0-9_-]{0,62}`) and answers INVALID_ARGUMENT."""
    if not isinstance(tenant, str):
        raise TypeError(f"tenant must be a string, not {type(tenant).__name__}")
    if not tenant:
        raise ValueError("tenant must not be empty: name the tenant every call acts as, for example 'acme'")


class ClientBase:
    """The settings every call of a client uses."""

    _tenant: str
    _metadata: tuple[tuple[str, str], ...]
    _token: str | None
    _timeout: float | None
    _retry: RetryPolicy
    _owns_channel: bool

    def _configure(self, tenant: str, token: str | None, timeout: float | None, retry: RetryPolicy | None) -> None:
        check_tenant(tenant)
        self._tenant = tenant
        self._token = token
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
        metadata = [(TENANT_HEADER, tenant)]
        if token:
            metadata.append(("authorization", f"Bearer {token}"))
        self._metadata = tuple(metadata)

    @property
    def tenant(self) -> str:
        """The tenant every call of this client acts as."""
        return self._tenant

    @property
    def timeout(self) -> float | None:
        """Seconds a unary call may take (`None`: no deadline)."""
        return self._timeout

    @property
    def retry(self) -> RetryPolicy:
        """How idempotent calls are retried on UNAVAILABLE."""
        return self._retry

    def with_tenant(self: _C, tenant: str) -> _C:
        """The same connection and settings, acting as another tenant.

        The new client shares this one's channel: closing it does nothing,
        closing this one closes both."""
        clone = copy.copy(self)
        clone._configure(tenant, self._token, self._timeout, self._retry)
        clone._owns_channel = False
        return clone


def channel_options(options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The SDK's channel options, overridden by the caller's."""
    given = {name for name, _ in options}
    return [o for o in CHANNEL_OPTIONS if o[0] not in given] + list(options)


def method_name(request: object) -> str:
    """The RPC a request is for: every request type is named `<Method>Request`."""
    return type(request).__name__.removesuffix("Request")


REWATCH_PAUSE = 0.1
"""Seconds before watching a job again when the server ended a watch before the job finished."""


def job_timeout(id: str, timeout: float | None, last: m.Job | None) -> DeadlineExceeded:
    """The error of a `wait_for_job` that ran out of time."""
    state = f" (it is {last.state.name}, stage {last.stage!r})" if last else ""
    return DeadlineExceeded(
        grpc.StatusCode.DEADLINE_EXCEEDED, f"job {id} did not finish within {timeout} s{state}", method="WatchJob"
    )
