"""Retries of idempotent calls that fail with UNAVAILABLE."""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from percolate._errors import status_code


@dataclass(frozen=True)
class RetryPolicy:
    """How calls that are safe to repeat are retried when the server is UNAVAILABLE.

    Only UNAVAILABLE is retried (the request did not reach the server, or the
    server could not act on it), and only for calls whose repetition changes
    nothing: every read; `put_resources` (ids derive from uri and ordinal),
    `upsert_entities` (a field-by-field merge), `add_edges` / `remove_edges`
    (edges form a set), the deletes (the counts they return then describe the
    last attempt); `put_moments` when every moment has a caller-chosen id;
    `submit_job` with an idempotency key; uploads (the SDK always sends an
    upload id) from a path or a seekable file; streams (chat, job watching)
    only before their first message.

    The pause before retry `n` (1-based) is drawn between half and all of
    `min(max_backoff, initial_backoff * multiplier ** (n - 1))` seconds.
    `RetryPolicy(max_attempts=1)` turns retries off.
    """

    max_attempts: int = 4
    """Attempts in all, the first one included."""
    initial_backoff: float = 0.1
    """Seconds before the first retry (before jitter)."""
    max_backoff: float = 2.0
    """Upper bound of a pause, in seconds."""
    multiplier: float = 2.0
    """Growth of the pause from one retry to the next."""

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, exc: grpc.RpcError, attempt: int, idempotent: bool) -> bool:
        """Whether attempt number `attempt` (1-based), which failed with `exc`, is retried."""
        return idempotent and attempt < self.max_attempts and status_code(exc) == grpc.StatusCode.UNAVAILABLE
