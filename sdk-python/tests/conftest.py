"""Fixtures: one real `percolate dev` server for the whole session, a fresh
tenant per test, and the client under test, once blocking (`Client`) and
once asyncio (`AsyncClient`, driven through `Blocking`), so that every test
of the facade runs against both."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

import percolate

DEFAULT_BIN = "~/.cache/percolate/target/debug/percolate"
SDK = Path(__file__).resolve().parents[1]


def script_env() -> dict[str, str]:
    """The environment for a script run by a test: this checkout's SDK first on the path."""
    path = os.pathsep.join(filter(None, [str(SDK / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


@dataclass(frozen=True)
class Server:
    """A running `percolate dev`."""

    target: str
    """`127.0.0.1:PORT` of its gRPC port."""
    data_dir: Path
    """Where it keeps its data."""


def _wait_serving(target: str, deadline: float) -> None:
    """Waits until grpc.health.v1 answers SERVING (the banner is printed before the node is open)."""
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"", response_deserializer=lambda b: b
        )
        while True:
            try:
                if check(None, timeout=1) == b"\x08\x01":  # HealthCheckResponse{status: SERVING}
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"percolate dev at {target} did not become SERVING")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """Starts `percolate dev` ($PERCOLATE_BIN) on a free port with a temporary data directory."""
    binary = Path(os.path.expanduser(os.environ.get("PERCOLATE_BIN", DEFAULT_BIN)))
    if not binary.is_file():
        pytest.fail(
            f"no percolate binary at {binary}: build it (cargo build -p percolate) or set PERCOLATE_BIN", pytrace=False
        )
    data_dir = Path(tempfile.mkdtemp(prefix="percolate-sdk-python-"))
    stdout_path, stderr_path = data_dir / "stdout.log", data_dir / "stderr.log"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [
                str(binary),
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir / "data"),
            ],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        target = ""
        while not target:
            first = stdout_path.read_text().partition("\n")
            if first[1]:  # "percolate dev listening on 127.0.0.1:PORT admin 127.0.0.1:PORT"
                target = first[0].split()[4]
            elif process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"percolate dev did not start (exit {process.poll()}):\n{stderr_path.read_text()[-4000:]}"
                )
            else:
                time.sleep(0.02)
        _wait_serving(target, deadline)
        yield Server(target, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def new_tenant() -> str:
    """A tenant id no other test uses."""
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def tenant() -> str:
    """A fresh tenant for the test."""
    return new_tenant()


class Blocking:
    """Drives an `AsyncClient` from blocking test code: its coroutines run on
    an event loop in a background thread, its async iterators become
    iterators, so the same test exercises the asyncio client's real API."""

    def __init__(
        self,
        target: str,
        tenant: str,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        client: percolate.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        self._owns_loop = loop is None
        if loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
        self._loop = loop

        async def make() -> percolate.AsyncClient:
            return percolate.AsyncClient(target, tenant, **kwargs)

        self._client = client if client is not None else self._run(make())

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _iterate(self, iterator: AsyncGenerator[Any, None]) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self._run(iterator.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(iterator.aclose())

    def with_tenant(self, tenant: str) -> Blocking:
        return Blocking("", "", loop=self._loop, client=self._client.with_tenant(tenant))

    def close(self) -> None:
        self._run(self._client.close())
        if self._owns_loop:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def __enter__(self) -> Blocking:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._run(result)
            if inspect.isasyncgen(result):
                return self._iterate(result)
            return result

        return call


ClientFactory = Callable[..., Any]
"""Makes a client (`Client` or a `Blocking` `AsyncClient`): `factory(target, tenant, **kwargs)`."""


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """Makes clients of the flavour under test, closed after the test."""
    made: list[Any] = []

    def factory(target: str, tenant: str, **kwargs: Any) -> Any:
        client = (
            percolate.Client(target, tenant, **kwargs)
            if request.param == "sync"
            else Blocking(target, tenant, **kwargs)
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory, server: Server, tenant: str) -> Any:
    """A client of the session's server, as the test's fresh tenant, blocking or asyncio."""
    return make_client(server.target, tenant)
