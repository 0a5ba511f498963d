"""`Client`: the blocking client of a Percolate server, bound to one tenant."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import grpc

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

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


class Client(ClientBase):
    """A blocking client of a Percolate server, acting as one tenant.

    ::

        with percolate.Client("127.0.0.1:50051", tenant="acme") as client:
            client.put_resources([percolate.ResourceInput("note://1", "Invoices go out monthly")])
            for hit in client.search("when am I billed?").hits:
                print(hit.score, hit.resource.content)

    Every call sends `x-tenant-id: <tenant>` (and `authorization: Bearer
    <token>` when a token is given). Unary calls get a deadline of `timeout`
    seconds; streams (chat, job watching, uploads) take their own `timeout`.
    Failures raise `PercolateError` subclasses; idempotent calls are retried
    on UNAVAILABLE as `retry` says (see `RetryPolicy`). Thread-safe: one
    client can serve many threads.
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
        """Connects (lazily, at the first call) to `target` as `tenant`.

        `target` is `host:port` or `http://host:port` (plaintext), or
        `https://host:port` (TLS with the system's roots); `credentials`
        overrides the TLS settings. `options` are extra gRPC channel options.
        """
        check_tenant(tenant)  # before opening a channel that would then leak
        address, tls = parse_target(target)
        if credentials is None and tls:
            credentials = grpc.ssl_channel_credentials()
        opts = channel_options(options)
        channel = (
            grpc.secure_channel(address, credentials, opts) if credentials else grpc.insecure_channel(address, opts)
        )
        self._init(channel, tenant, token, timeout, retry, owns_channel=True)

    @classmethod
    def from_channel(
        cls,
        channel: grpc.Channel,
        tenant: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> Client:
        """A client over an existing channel (custom credentials, interceptors...).
        Closing the client leaves the channel open."""
        client = cls.__new__(cls)
        client._init(channel, tenant, token, timeout, retry, owns_channel=False)
        return client

    def _init(
        self,
        channel: grpc.Channel,
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
    def channel(self) -> grpc.Channel:
        """The underlying channel, for the generated stubs in `percolate.v1` (add the tenant metadata yourself)."""
        return self._channel

    def close(self) -> None:
        """Closes the connection (unless it was given to `from_channel` or shared by `with_tenant`)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- plumbing ----

    def _unary(self, rpc: grpc.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req, *, idempotent: bool) -> _Resp:
        attempt = 1
        while True:
            try:
                return rpc(request, metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as exc:
                if not self._retry.should_retry(exc, attempt, idempotent):
                    raise from_rpc_error(exc, method_name(request)) from None
            time.sleep(self._retry.backoff(attempt))
            attempt += 1

    def _stream(
        self,
        rpc: grpc.UnaryStreamMultiCallable[_Req, _Resp],
        request: _Req,
        timeout: float | None,
        *,
        idempotent: bool = True,
    ) -> Iterator[_Resp]:
        attempt = 1
        while True:
            call = rpc(request, metadata=self._metadata, timeout=timeout)
            received = False
            try:
                for item in call:
                    received = True
                    yield item
                return
            except grpc.RpcError as exc:
                if received or not self._retry.should_retry(exc, attempt, idempotent):
                    raise from_rpc_error(exc, method_name(request)) from None
            finally:
                call.cancel()
            time.sleep(self._retry.backoff(attempt))
            attempt += 1

    # ---- resources ----

    def put_resources(
        self,
        resources: Iterable[m.ResourceInput],
        *,
        replace_uris: bool = False,
        embedding_model: str = "",
        durability: m.Durability = m.Durability.DEFAULT,
    ) -> m.PutResult:
        """Writes resource chunks atomically; their ids derive from `(uri, chunk_ordinal)`.

        Chunks without an embedding are embedded by the server. With
        `replace_uris`, every uri in the batch is replaced whole (its chunks
        not in the batch are deleted). `embedding_model` names the model
        that produced the given embeddings (text search needs it to match
        the server's). Retried on UNAVAILABLE (rewriting is harmless).
        """
        request = c.put_resources(resources, replace_uris, embedding_model, durability)
        return c.put_result(self._unary(self._db.PutResources, request, idempotent=True))

    def get_resources(
        self, ids: Iterable[str] = (), *, uri: str = "", include_embeddings: bool = False
    ) -> m.Found[m.Resource]:
        """Reads resources by id, and/or every chunk of `uri` in chunk order."""
        request = c.get_resources(ids, uri, include_embeddings)
        return c.found_resources(self._unary(self._db.GetResources, request, idempotent=True))

    def delete_resources(
        self, ids: Iterable[str] = (), *, uris: Iterable[str] = (), durability: m.Durability = m.Durability.DEFAULT
    ) -> int:
        """Deletes resources by id and every chunk of `uris`; returns how many existed."""
        request = c.delete_resources(ids, uris, durability)
        return self._unary(self._db.DeleteResources, request, idempotent=True).deleted

    def search(
        self,
        query: str | Iterable[float],
        *,
        top_k: int = 10,
        filter: m.ResourceFilter | None = None,
        metric: m.Metric = m.Metric.COSINE,
        include_embeddings: bool = False,
    ) -> m.SearchResult:
        """The `top_k` resources closest to `query`: a text (embedded by the
        server with the tenant's model) or a vector of the tenant's dimension."""
        request = c.search(query, top_k, filter, metric, include_embeddings)
        return c.search_result(self._unary(self._db.SearchResources, request, idempotent=True))

    # ---- entities and edges ----

    def upsert_entities(
        self, entities: Iterable[m.EntityInput], *, durability: m.Durability = m.Durability.DEFAULT
    ) -> list[m.Entity]:
        """Creates entities or merges their properties field by field (a
        `None` value removes the field); returns them as stored, in order."""
        request = c.upsert_entities(entities, durability)
        return [c.entity_out(e) for e in self._unary(self._db.UpsertEntities, request, idempotent=True).entities]

    def get_entities(
        self, ids: Iterable[str] = (), *, keys: Iterable[tuple[str, str]] = (), include_edges: bool = False
    ) -> m.Found[m.Entity]:
        """Reads entities by id and by `(type, key)`: those of `ids` first, then those of `keys`."""
        request = c.get_entities(ids, keys, include_edges)
        return c.found_entities(self._unary(self._db.GetEntities, request, idempotent=True))

    def get_entity(self, type: str, key: str, *, include_edges: bool = True) -> m.Entity | None:
        """The entity `key` of type `type` with its outgoing edges, or `None` when there is none."""
        found = self.get_entities(keys=[(type, key)], include_edges=include_edges)
        return found.items[0] if found.items else None

    def delete_entities(self, ids: Iterable[str], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Deletes entities with their outgoing edges; returns how many existed."""
        request = c.delete_entities(ids, durability)
        return self._unary(self._db.DeleteEntities, request, idempotent=True).deleted

    def add_edges(self, edges: Iterable[m.Edge], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Adds edges between existing entities (or replaces the properties and
        weight of existing ones); returns how many were written."""
        request = c.add_edges(edges, durability)
        return self._unary(self._db.AddEdges, request, idempotent=True).added

    def remove_edges(self, edges: Iterable[m.Edge], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Removes edges (named by `src`, `dst` and `rel_type`); returns how many existed."""
        request = c.remove_edges(edges, durability)
        return self._unary(self._db.RemoveEdges, request, idempotent=True).removed

    def traverse(
        self,
        start_ids: Iterable[str],
        *,
        max_depth: int = 1,
        direction: m.Direction = m.Direction.OUTGOING,
        rel_types: Iterable[str] = (),
        limit: int = 100,
    ) -> m.TraverseResult:
        """Walks the graph breadth first from `start_ids`, up to `max_depth`
        hops (at most 10) along edges of `rel_types` (all when empty),
        returning at most `limit` entities."""
        request = c.traverse(start_ids, max_depth, direction, rel_types, limit)
        return c.traverse_result(self._unary(self._db.Traverse, request, idempotent=True))

    # ---- moments ----

    def put_moments(
        self, moments: Iterable[m.MomentInput], *, durability: m.Durability = m.Durability.DEFAULT
    ) -> list[str]:
        """Writes moments atomically; returns their ids. Retried on UNAVAILABLE
        only when every moment has an id (otherwise a retry could duplicate them)."""
        request = c.put_moments(moments, durability)
        return list(self._unary(self._db.PutMoments, request, idempotent=all(x.id for x in request.moments)).ids)

    def get_moments(self, ids: Iterable[str]) -> m.Found[m.Moment]:
        """Reads moments by id."""
        request = db.GetMomentsRequest(ids=c.strings(ids, "ids"))
        return c.found_moments(self._unary(self._db.GetMoments, request, idempotent=True))

    def delete_moments(self, ids: Iterable[str], *, durability: m.Durability = m.Durability.DEFAULT) -> int:
        """Deletes moments by id; returns how many existed."""
        request = c.delete_moments(ids, durability)
        return self._unary(self._db.DeleteMoments, request, idempotent=True).deleted

    def list_moments(
        self,
        *,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        moment_types: Iterable[str] = (),
        tags: Iterable[str] = (),
        page_size: int = 50,
        cursor: str | None = None,
    ) -> m.Page[m.Moment]:
        """One page of moments, newest first: those starting in
        `[start_after, start_before)`, of `moment_types` (any when empty),
        carrying every one of `tags`. Pass the page's `next_cursor` as
        `cursor` for the next one, or use `iter_moments`."""
        request = c.list_moments(start_after, start_before, moment_types, tags, page_size, cursor or "")
        return c.moment_page(self._unary(self._db.ListMoments, request, idempotent=True))

    def iter_moments(
        self,
        *,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        moment_types: Iterable[str] = (),
        tags: Iterable[str] = (),
        page_size: int = 50,
    ) -> Iterator[m.Moment]:
        """Every moment `list_moments` would list, newest first, fetching page after page as it is iterated."""
        moment_types, tags = list(moment_types), list(tags)
        cursor: str | None = None
        while True:
            page = self.list_moments(
                start_after=start_after,
                start_before=start_before,
                moment_types=moment_types,
                tags=tags,
                page_size=page_size,
                cursor=cursor,
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ---- tenant and chat ----

    def tenant_stats(self) -> m.TenantStats:
        """Counts and settings of the tenant."""
        return c.tenant_stats(self._unary(self._db.GetTenantStats, db.GetTenantStatsRequest(), idempotent=True))

    def chat(
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
    ) -> Iterator[m.ChatEvent]:
        """Answers a question from the tenant's memory (resources, entities
        and moments), as a stream of events: every `Citation` first, then
        `ChatDelta`s of the answer's text, then one `ChatDone`.

        Give `question`, `messages` (the conversation so far, oldest first:
        `ChatMessage(ChatRole.USER, ...)`, at most 100 turns), or both: the
        question is then the last user turn. The conversation must end with
        a user turn. The answer is written by the server's language model,
        or the one named by `model`; `model="extractive"` (what a server
        without a model always does) quotes the retrieved passages instead.

        Zero and `None` leave the server's defaults: `top_k` resources (5,
        at most 50) matching `filter` and at least `min_score` similar to the
        question (0.2; negative keeps every hit); up to `max_entities` (10)
        entities named in the question or passages with their neighbours,
        and `max_moments` (5) moments starting in `[moments_after,
        moments_before)`, unless `include_entities` / `include_moments` is
        `False`; a context budget of `context_tokens` (3000, estimated as 4
        characters a token); the model's own `temperature` (0 to 2) and
        `max_tokens`. With `record_moment`, the exchange is stored as a
        moment of type `chat` whose id is `ChatDone.moment_id`.

        The call starts when iteration does; errors are raised while
        iterating (`InvalidArgument` for a request the server refuses,
        `FailedPrecondition` for a `model` on a server without one). Retried
        on UNAVAILABLE before the first event, unless `record_moment` is set.
        """
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
        for message in self._stream(self._db.Chat, request, timeout, idempotent=not record_moment):
            event = c.chat_event(message)
            if event is not None:
                yield event

    # ---- uploads ----

    def upload(
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
        """Uploads a file, a path or a binary file object, and queues its
        ingestion; returns once the server has stored it (follow the job
        with `wait_for_job(result.job_id)`).

        The bytes are streamed in `chunk_size` pieces, never held whole.
        `file_name` defaults to the path's (or file object's) base name;
        `uri` to `upload://<file_name>`. With `verify`, a source that can be
        read twice (a path, a seekable file) is hashed first so the server
        checks its exact size and SHA-256 and stores nothing on a mismatch;
        in every case the SDK checks the server's SHA-256 against the bytes
        it sent (`DataLoss` otherwise). `progress(sent, total)` is called
        before the first chunk and after each one, from gRPC's sending
        thread (`total` is `None` for a non-seekable file). `upload_id`
        (a random one by default) makes a retry safe: such sources are
        re-sent on UNAVAILABLE. Errors reading the source are raised as they are.
        """
        source_info = Source.of(source, file_name, verify)
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
            reader = source_info.open()
            try:
                answer = self._upload.Upload(sending.requests(first, reader), metadata=self._metadata, timeout=timeout)
                return sending.check(answer)
            except grpc.RpcError as exc:
                if sending.error is not None:
                    raise sending.error from None
                if not self._retry.should_retry(exc, attempt, source_info.rewindable):
                    raise from_rpc_error(exc, "Upload") from None
            finally:
                source_info.release(reader)
            time.sleep(self._retry.backoff(attempt))
            attempt += 1

    # ---- jobs ----

    def submit_job(
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
        """Queues the ingestion of a stored object (an upload's `object_key`)
        as the resources of `uri`. Submitting the same `idempotency_key`
        again returns the existing job; only then is the call retried on UNAVAILABLE."""
        request = c.submit_job(kind, object_key, uri, content_type, tags, metadata, idempotency_key)
        return c.job_out(self._unary(self._jobs.SubmitJob, request, idempotent=bool(idempotency_key)))

    def get_job(self, id: str) -> m.Job:
        """Reads a job (`NotFound` when the tenant has no such job)."""
        return c.job_out(self._unary(self._jobs.GetJob, jobs.GetJobRequest(id=id), idempotent=True))

    def list_jobs(
        self, *, states: Iterable[m.JobState] = (), page_size: int = 50, cursor: str | None = None
    ) -> m.Page[m.Job]:
        """One page of the tenant's jobs, newest first, in `states` (any when empty)."""
        request = c.list_jobs(states, page_size, cursor or "")
        return c.job_page(self._unary(self._jobs.ListJobs, request, idempotent=True))

    def iter_jobs(self, *, states: Iterable[m.JobState] = (), page_size: int = 50) -> Iterator[m.Job]:
        """Every job `list_jobs` would list, fetching page after page as it is iterated."""
        states = list(states)
        cursor: str | None = None
        while True:
            page = self.list_jobs(states=states, page_size=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel_job(self, id: str) -> m.Job:
        """Cancels a job that has not finished (`FailedPrecondition` when it has)."""
        return c.job_out(self._unary(self._jobs.CancelJob, jobs.CancelJobRequest(id=id), idempotent=True))

    def watch_job(self, id: str, *, timeout: float | None = None) -> Iterator[m.Job]:
        """The job now, then at each change, until it has finished."""
        for message in self._stream(self._jobs.WatchJob, jobs.WatchJobRequest(id=id), timeout):
            yield c.job_out(message)

    def wait_for_job(self, id: str, *, timeout: float | None = None) -> m.Job:
        """Follows a job until it has finished and returns it (check its
        `state`: a failed job is returned, not raised). Raises
        `DeadlineExceeded` when it has not finished within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: m.Job | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise job_timeout(id, timeout, last)
            try:
                for job in self.watch_job(id, timeout=remaining):
                    last = job
                    if job.done:
                        return job
            except DeadlineExceeded:
                raise job_timeout(id, timeout, last) from None
            time.sleep(REWATCH_PAUSE)
