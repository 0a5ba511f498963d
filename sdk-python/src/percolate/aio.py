"""`AsyncClient`: the asyncio client (grpc.aio), with the methods of `Client`
as coroutines, and its iterators as async iterators."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import grpc
import grpc.aio

from percolate import _convert as c
from percolate import _models as m
from percolate._base import (
    DEFAULT_TIMEOUT,
    REWATCH_PAUSE,
    ClientBase,
    channel_options,
    check_tenant,
    job_timeout,
    method_name,
    parse_target,
)
from percolate._errors import DeadlineExceeded, from_rpc_error
from percolate._retry import RetryPolicy
from percolate._upload import CHUNK_SIZE, ProgressCallback, Sending, Source, UploadSource
from percolate.v1 import database_pb2 as db
from percolate.v1 import database_pb2_grpc, jobs_pb2_grpc, upload_pb2_grpc
from percolate.v1 import jobs_pb2 as jobs
from percolate.v1 import upload_pb2 as up

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


class AsyncClient(ClientBase):
    """An asyncio client of a Percolate server, acting as one tenant.

    ::

        async with percolate.AsyncClient("127.0.0.1:50051", tenant="acme") as client:
            await client.put_resources([percolate.ResourceInput("note://1", "Invoices go out monthly")])
            result = await client.search("when am I billed?")
            async for moment in client.iter_moments():
                print(moment.name)

    Same settings, errors and retries as `Client`; every method is the
    coroutine (or async iterator) twin of the `Client` method of the same
    name, documented there. Create and use it inside one running event loop.
    """

    def __init__(
        self,
        target: str,
        tenant: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        """Connects (lazily) to `target` as `tenant`; see `Client.__init__`."""
        check_tenant(tenant)  # before opening a channel that would then leak
        address, tls = parse_target(target)
        if credentials is None and tls:
            credentials = grpc.ssl_channel_credentials()
        opts = channel_options(options)
        channel = (
            grpc.aio.secure_channel(address, credentials, opts)
            if credentials
            else grpc.aio.insecure_channel(address, opts)
        )
        self._init(channel, tenant, token, timeout, retry, owns_channel=True)

    @classmethod
    def from_channel(
        cls,
        channel: grpc.aio.Channel,
        tenant: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> AsyncClient:
        """A client over an existing `grpc.aio` channel; closing the client leaves it open."""
        client = cls.__new__(cls)
        client._init(channel, tenant, token, timeout, retry, owns_channel=False)
        return client

    def _init(
        self,
        channel: grpc.aio.Channel,
        tenant: str,
        token: str | None,
        timeout: float | None,
        retry: RetryPolicy | None,
        *,
        owns_channel: bool,
    ) -> None:
        self._configure(tenant, token, timeout, retry)
        self._channel = channel
        self._owns_channel = owns_channel
        self._db = database_pb2_grpc.DatabaseStub(channel)
        self._jobs = jobs_pb2_grpc.JobsStub(channel)
        self._upload = upload_pb2_grpc.UploadStub(channel)

    @property
    def channel(self) -> grpc.aio.Channel:
        """The underlying `grpc.aio` channel."""
        return self._channel

    async def close(self) -> None:
        """Closes the connection (unless it was given to `from_channel` or shared by `with_tenant`)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---- plumbing ----

    async def _unary(
        self, rpc: grpc.aio.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req, *, idempotent: bool
    ) -> _Resp:
        attempt = 1
        while True:
            try:
                return await rpc(request, metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as exc:
                if not self._retry.should_retry(exc, attempt, idempotent):
                    raise from_rpc_error(exc, method_name(request)) from None
            await asyncio.sleep(self._retry.backoff(attempt))
            attempt += 1

    async def _stream(
        self,
        rpc: grpc.aio.UnaryStreamMultiCallable[_Req, _Resp],
        request: _Req,
        timeout: float | None,
        *,
        idempotent: bool = True,
    ) -> AsyncGenerator[_Resp, None]:
        attempt = 1
        while True:
            call = rpc(request, metadata=self._metadata, timeout=timeout)
            received = False
            try:
                async for item in call:
                    received = True
                    yield item
                return
            except grpc.RpcError as exc:
                if received or not self._retry.should_retry(exc, attempt, idempotent):
                    raise from_rpc_error(exc, method_name(request)) from None
            finally:
                call.cancel()
            await asyncio.sleep(self._retry.backoff(attempt))
            attempt += 1

    # ---- resources ----

    async def put_resources(
        self,
        resources: Iterable[m.ResourceInput],
        *,
        replace_uris: bool = False,
        embedding_model: str = "",
        durability: m.Durability = m.Durability.DEFAULT,
    ) -> m.PutResult:
        """Writes resource chunks atomically; see `Client.put_resources`."""
        request = c.put_resources(resources, replace_uris, embedding_model, durability)
        return c.put_result(await self._unary(self._db.PutResources, request, idempotent=True))

    async def get_resources(
        self, ids: Iterable[str] = (), *, uri: str = "", include_embeddings: bool = False
    ) -> m.Found[m.Resource]:
        """Reads resources by id and/or uri; see `Client.get_resources`."""
        request = c.get_resources(ids, uri, include_embeddings)
        return c.found_resources(await self._unary(self._db.GetResources, request, idempotent=True))

    async def delete_resources(
        self, ids: Iterable[str] = (), *, uris: Iterable[str] = (), durability: m.Durability = m.Durability.DEFAULT
    ) -> int:
        """Deletes resources by id and uri; see `Client.delete_resources`."""
        request = c.delete_resources(ids, uris, durability)
        return (await self._unary(self._db.DeleteResources, request, idempotent=True)).deleted

    async def search(
        self,
        query: str | Iterable[float],
        *,
        top_k: int = 10,
        filter: m.ResourceFilter | None = None,
        metric: m.Metric = m.Metric.COSINE,
        include_embeddings: bool = False,
    ) -> m.SearchResult:
        """Searches by text or vector; see `Client.search`."""
        request = c.search(query, top_k, filter, metric, include_embeddings)
        return c.search_result(await self._unary(self._db.SearchResources, request, idempotent=True))

    # ---- entities and edges ----

    async def upsert_entities(
        self, entities: Iterable[m.EntityInput], *, durability: m.Durability = m.Durability.DEFAULT
    ) -> list[m.Entity]:
        """Creates or merges entities; see `Client.upsert_entities`."""
        request = c.upsert_entities(entities, durability)
        return [
            c.entity_out(e) for e in (await self._unary(self._db.UpsertEntities, request, idempotent=True)).entities
        ]

    async def get_entities(
        self, ids: Iterable[str] = (), *, keys: Iterable[tuple[str, str]] = (), include_edges: bool = False
    ) -> m.Found[m.Entity]:
        """Reads entities by id and by `(type, key)`; see `Client.get_entities`."""
        request = c.get_entities(ids, keys, include_edges)
        return c.found_entities(await self._unary(self._db.GetEntities, request, idempotent=True))

    async def get_entity(self, type: str, key: str, *, include_edges: bool = True) -> m.Entity | None:
        """One entity by `(type, key)`, or `None`; see `Client.get_entity`."""
        found = await self.get_entities(keys=[(type, key)], include_edges=include_edges)
        return found.items[0] if found.items else None

    async def delete_entities(self, ids: Iterable[str], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Deletes entities; see `Client.delete_entities`."""
        request = c.delete_entities(ids, durability)
        return (await self._unary(self._db.DeleteEntities, request, idempotent=True)).deleted

    async def add_edges(self, edges: Iterable[m.Edge], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Adds or replaces edges; see `Client.add_edges`."""
        request = c.add_edges(edges, durability)
        return (await self._unary(self._db.AddEdges, request, idempotent=True)).added

    async def remove_edges(self, edges: Iterable[m.Edge], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Removes edges; see `Client.remove_edges`."""
        request = c.remove_edges(edges, durability)
        return (await self._unary(self._db.RemoveEdges, request, idempotent=True)).removed

    async def traverse(
        self,
        start_ids: Iterable[str],
        *,
        max_depth: int = 1,
        direction: m.Direction = m.Direction.OUTGOING,
        rel_types: Iterable[str] = (),
        limit: int = 100,
    ) -> m.TraverseResult:
        """Walks the graph; see `Client.traverse`."""
        request = c.traverse(start_ids, max_depth, direction, rel_types, limit)
        return c.traverse_result(await self._unary(self._db.Traverse, request, idempotent=True))

    # ---- moments ----

    async def put_moments(
        self, moments: Iterable[m.MomentInput], *, durability: m.Durability = m.Durability.DEFAULT
    ) -> list[str]:
        """Writes moments; see `Client.put_moments`."""
        request = c.put_moments(moments, durability)
        return list(
            (await self._unary(self._db.PutMoments, request, idempotent=all(x.id for x in request.moments))).ids
        )

    async def get_moments(self, ids: Iterable[str]) -> m.Found[m.Moment]:
        """Reads moments by id."""
        request = db.GetMomentsRequest(ids=c.strings(ids, "ids"))
        return c.found_moments(await self._unary(self._db.GetMoments, request, idempotent=True))

    async def delete_moments(self, ids: Iterable[str], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Deletes moments by id; returns how many existed."""
        request = c.delete_moments(ids, durability)
        return (await self._unary(self._db.DeleteMoments, request, idempotent=True)).deleted

    async def list_moments(
        self,
        *,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        moment_types: Iterable[str] = (),
        tags: Iterable[str] = (),
        page_size: int = 50,
        cursor: str | None = None,
    ) -> m.Page[m.Moment]:
        """One page of moments, newest first; see `Client.list_moments`."""
        request = c.list_moments(start_after, start_before, moment_types, tags, page_size, cursor or "")
        return c.moment_page(await self._unary(self._db.ListMoments, request, idempotent=True))

    async def iter_moments(
        self,
        *,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        moment_types: Iterable[str] = (),
        tags: Iterable[str] = (),
        page_size: int = 50,
    ) -> AsyncGenerator[m.Moment, None]:
        """Every moment `list_moments` would list, page after page: `async for moment in client.iter_moments()`."""
        moment_types, tags = list(moment_types), list(tags)
        cursor: str | None = None
        while True:
            page = await self.list_moments(
                start_after=start_after,
                start_before=start_before,
                moment_types=moment_types,
                tags=tags,
                page_size=page_size,
                cursor=cursor,
            )
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ---- tenant and chat ----

    async def tenant_stats(self) -> m.TenantStats:
        """Counts and settings of the tenant."""
        return c.tenant_stats(await self._unary(self._db.GetTenantStats, db.GetTenantStatsRequest(), idempotent=True))

    async def chat(
        self,
        question: str | None = None,
        *,
        messages: Sequence[m.ChatMessage] | None = None,
        top_k: int = 0,
        filter: m.ResourceFilter | None = None,
        include_entities: bool | None = None,
        include_moments: bool | None = None,
        moments_after: datetime | None = None,
        moments_before: datetime | None = None,
        model: str = "",
        temperature: float | None = None,
        max_tokens: int = 0,
        context_tokens: int = 0,
        min_score: float | None = None,
        max_entities: int = 0,
        max_moments: int = 0,
        record_moment: bool = False,
        timeout: float | None = None,
    ) -> AsyncGenerator[m.ChatEvent, None]:
        """The streamed answer to a question or conversation: `async for event
        in client.chat(...)` gives every `Citation`, then `ChatDelta`s, then
        `ChatDone`; see `Client.chat`."""
        request = c.chat(
            question,
            messages,
            top_k,
            filter,
            include_entities,
            include_moments,
            moments_after,
            moments_before,
            model,
            temperature,
            max_tokens,
            context_tokens,
            min_score,
            max_entities,
            max_moments,
            record_moment,
        )
        async for message in self._stream(self._db.Chat, request, timeout, idempotent=not record_moment):
            event = c.chat_event(message)
            if event is not None:
                yield event

    # ---- uploads ----

    async def upload(
        self,
        source: UploadSource,
        *,
        file_name: str | None = None,
        uri: str = "",
        content_type: str = "",
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        upload_id: str | None = None,
        verify: bool = True,
        chunk_size: int = CHUNK_SIZE,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> m.UploadResult:
        """Uploads a file and queues its ingestion; see `Client.upload`. The
        file is read in a worker thread; `progress` is called on the event loop."""
        source_info = await asyncio.to_thread(Source.of, source, file_name, verify)
        first = c.upload_metadata(
            upload_id or uuid.uuid4().hex,
            source_info.file_name,
            content_type,
            uri,
            tags,
            metadata,
            source_info.size,
            source_info.sha256,
        )
        attempt = 1
        while True:
            sending = Sending(source_info, chunk_size, progress)
            reader = await asyncio.to_thread(source_info.open)
            try:
                answer = await self._upload.Upload(
                    _requests(sending, first, reader), metadata=self._metadata, timeout=timeout
                )
                return sending.check(answer)
            except (grpc.RpcError, asyncio.CancelledError) as exc:
                # grpc.aio cancels the call when reading the source fails.
                if sending.error is not None:
                    raise sending.error from None
                if isinstance(exc, asyncio.CancelledError):
                    raise
                if not self._retry.should_retry(exc, attempt, source_info.rewindable):
                    raise from_rpc_error(exc, "Upload") from None
            finally:
                source_info.release(reader)
            await asyncio.sleep(self._retry.backoff(attempt))
            attempt += 1

    # ---- jobs ----

    async def submit_job(
        self,
        object_key: str,
        *,
        uri: str = "",
        content_type: str = "",
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str = "",
        kind: m.JobKind = m.JobKind.INGEST_DOCUMENT,
    ) -> m.Job:
        """Queues the ingestion of a stored object; see `Client.submit_job`."""
        request = c.submit_job(kind, object_key, uri, content_type, tags, metadata, idempotency_key)
        return c.job_out(await self._unary(self._jobs.SubmitJob, request, idempotent=bool(idempotency_key)))

    async def get_job(self, id: str) -> m.Job:
        """Reads a job."""
        return c.job_out(await self._unary(self._jobs.GetJob, jobs.GetJobRequest(id=id), idempotent=True))

    async def list_jobs(
        self, *, states: Iterable[m.JobState] = (), page_size: int = 50, cursor: str | None = None
    ) -> m.Page[m.Job]:
        """One page of the tenant's jobs, newest first; see `Client.list_jobs`."""
        request = c.list_jobs(states, page_size, cursor or "")
        return c.job_page(await self._unary(self._jobs.ListJobs, request, idempotent=True))

    async def iter_jobs(self, *, states: Iterable[m.JobState] = (), page_size: int = 50) -> AsyncGenerator[m.Job, None]:
        """Every job `list_jobs` would list, page after page."""
        states = list(states)
        cursor: str | None = None
        while True:
            page = await self.list_jobs(states=states, page_size=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def cancel_job(self, id: str) -> m.Job:
        """Cancels a job that has not finished; see `Client.cancel_job`."""
        return c.job_out(await self._unary(self._jobs.CancelJob, jobs.CancelJobRequest(id=id), idempotent=True))

    async def watch_job(self, id: str, *, timeout: float | None = None) -> AsyncGenerator[m.Job, None]:
        """The job now, then at each change, until it has finished."""
        async for message in self._stream(self._jobs.WatchJob, jobs.WatchJobRequest(id=id), timeout):
            yield c.job_out(message)

    async def wait_for_job(self, id: str, *, timeout: float | None = None) -> m.Job:
        """Follows a job until it has finished and returns it; see `Client.wait_for_job`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: m.Job | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise job_timeout(id, timeout, last)
            try:
                async with aclosing(self.watch_job(id, timeout=remaining)) as updates:
                    async for job in updates:
                        last = job
                        if job.done:
                            return job
            except DeadlineExceeded:
                raise job_timeout(id, timeout, last) from None
            await asyncio.sleep(REWATCH_PAUSE)


async def _requests(
    sending: Sending, first: up.UploadRequest, reader: BinaryIO
) -> AsyncGenerator[up.UploadRequest, None]:
    """The whole upload stream, each chunk read in a worker thread as it is sent."""
    try:
        yield first
        sending.started()
        while data := await asyncio.to_thread(reader.read, sending.chunk_size):
            yield sending.chunk(data)
            sending.after_chunk()
    except Exception as exc:
        # Kept for the client to raise once the call has failed. (Not
        # cancellation: that is gRPC no longer reading, not an error.)
        sending.error = exc
        raise
