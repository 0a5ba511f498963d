"""Retries: idempotent calls are retried on UNAVAILABLE with backoff, other calls are not."""

from __future__ import annotations

import socket
from typing import Any

import grpc
import grpc.aio
import pytest

import percolate
from percolate import MomentInput, RetryPolicy, Unavailable

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
def dead_target() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class Counter(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamUnaryClientInterceptor):  # type: ignore[misc]
    """Counts the attempts of each method."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _count(self, continuation: Any, details: Any, request: Any) -> Any:
        self.calls.append(details.method.rsplit("/", 1)[-1])
        return continuation(details, request)

    intercept_unary_unary = intercept_unary_stream = _count

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return self._count(continuation, details, requests)


class AsyncCounter(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts the attempts of each method (asyncio)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        self.calls.append(method.rsplit("/", 1)[-1])
        return await continuation(details, request)


def test_backoff_bounds() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        assert all(ceiling / 2 <= policy.backoff(retry) <= ceiling for _ in range(20))


def test_sync_retries_only_idempotent_calls(dead_target: str) -> None:
    counter = Counter()
    channel = grpc.intercept_channel(grpc.insecure_channel(dead_target), counter)
    client = percolate.Client.from_channel(channel, "acme", retry=FAST, timeout=5)
    with pytest.raises(Unavailable) as caught:
        client.tenant_stats()
    assert counter.calls == ["GetTenantStats"] * 3 and caught.value.method == "GetTenantStats"
    counter.calls.clear()
    with pytest.raises(Unavailable):
        client.put_moments([MomentInput("no id: a retry could write it twice")])
    assert counter.calls == ["PutMoments"]
    counter.calls.clear()
    with pytest.raises(Unavailable):
        client.put_moments([MomentInput("with an id", id="01a22146-6d6b-744d-8f51-85fba87468e7")])
    assert counter.calls == ["PutMoments"] * 3
    counter.calls.clear()
    with pytest.raises(Unavailable):
        client.submit_job("uploads/x", uri="doc://x")
    with pytest.raises(Unavailable):
        client.submit_job("uploads/x", uri="doc://x", idempotency_key="k")
    assert counter.calls == ["SubmitJob"] + ["SubmitJob"] * 3
    channel.close()


async def test_async_retries_only_idempotent_calls(dead_target: str) -> None:
    counter = AsyncCounter()
    channel = grpc.aio.insecure_channel(dead_target, interceptors=[counter])
    client = percolate.AsyncClient.from_channel(channel, "acme", retry=FAST, timeout=5)
    with pytest.raises(Unavailable):
        await client.search("anything")
    assert counter.calls == ["SearchResources"] * 3
    counter.calls.clear()
    with pytest.raises(Unavailable):
        await client.put_moments([MomentInput("no id")])
    assert counter.calls == ["PutMoments"]
    await channel.close()


def test_streams_and_uploads_are_retried(dead_target: str, tmp_path: Any) -> None:
    counter = Counter()
    channel = grpc.intercept_channel(grpc.insecure_channel(dead_target), counter)
    client = percolate.Client.from_channel(channel, "acme", retry=FAST)
    with pytest.raises(Unavailable):
        list(client.watch_job("01a22146-6d6b-744d-8f51-85fba87468e7"))
    assert counter.calls == ["WatchJob"] * 3
    counter.calls.clear()
    with pytest.raises(Unavailable):
        list(client.chat("anything?"))
    assert counter.calls == ["Chat"] * 3
    counter.calls.clear()
    with pytest.raises(Unavailable):
        list(client.chat("anything?", record_moment=True))  # a retry could record the exchange twice
    assert counter.calls == ["Chat"]
    counter.calls.clear()

    doc = tmp_path / "a.md"
    doc.write_text("# A\n")
    with pytest.raises(Unavailable):
        client.upload(doc)  # a path can be sent again, under the same upload id
    assert counter.calls == ["Upload"] * 3
    counter.calls.clear()

    class Pipe:
        def read(self, n: int = -1) -> bytes:
            return b""

    with pytest.raises(Unavailable):
        client.upload(Pipe(), file_name="pipe.md")  # cannot be read twice: not retried
    assert counter.calls == ["Upload"]
    channel.close()
