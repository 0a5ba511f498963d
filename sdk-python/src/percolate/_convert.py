"""Conversions between the SDK's dataclasses and the generated messages, and
the request builders shared by `Client` and `AsyncClient`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from percolate import _models as m
from percolate._errors import InvalidArgument
from percolate.v1 import database_pb2 as db
from percolate.v1 import jobs_pb2 as jobs
from percolate.v1 import rem_pb2 as rem
from percolate.v1 import upload_pb2 as up

# ---- JSON <-> google.protobuf.Struct ---------------------------------------------


def to_struct(value: Mapping[str, Any] | None, where: str) -> struct_pb2.Struct | None:
    """A JSON object as a `Struct` (`None` stays unset)."""
    return None if value is None else _struct(value, where)


def _struct(value: Mapping[str, Any], where: str) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{where} keys must be strings, not {type(key).__name__}")
        out.fields[key].CopyFrom(_value(item, f"{where}[{key!r}]"))
    return out


def _value(value: Any, where: str) -> struct_pb2.Value:
    out = struct_pb2.Value()
    if value is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, (int, float)):
        out.number_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, Mapping):
        out.struct_value.CopyFrom(_struct(value, where))
    elif isinstance(value, (list, tuple)):
        out.list_value.values.extend(_value(item, f"{where}[{i}]") for i, item in enumerate(value))
    else:
        raise TypeError(
            f"{where} is a {type(value).__name__}, which JSON cannot hold"
            " (use str, int, float, bool, None, list or dict)"
        )
    return out


def from_struct(value: struct_pb2.Struct) -> m.JsonObject:
    """A `Struct` as a dict. Integral numbers come back as `int` (JSON numbers are doubles on the wire)."""
    return {key: _json(item) for key, item in value.fields.items()}


def _json(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) <= 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [_json(item) for item in value.list_value.values]
    return None


# ---- times ----------------------------------------------------------------------


def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A datetime as a `Timestamp` (naive datetimes are taken as UTC)."""
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _time(value: timestamp_pb2.Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=timezone.utc)


# ---- inputs -----------------------------------------------------------------------


def strings(values: Iterable[str], what: str) -> list[str]:
    """`values` as a list, refusing a lone string (which would read as its characters)."""
    if isinstance(values, str):
        raise InvalidArgument(
            grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be a list of strings, not a single string"
        )
    return list(values)


def resource_in(value: m.ResourceInput) -> rem.Resource:
    """A `ResourceInput` as the message to put."""
    return rem.Resource(
        uri=value.uri,
        chunk_ordinal=value.chunk_ordinal,
        content=value.content,
        content_type=value.content_type,
        metadata=to_struct(value.metadata, "metadata"),
        tags=strings(value.tags, "tags"),
        created_at=to_timestamp(value.created_at),
        embedding=[float(x) for x in value.embedding or ()],
    )


def filter_in(value: m.ResourceFilter | None) -> db.ResourceFilter | None:
    """A `ResourceFilter` as its message."""
    if value is None:
        return None
    return db.ResourceFilter(
        tags_all=strings(value.tags_all, "tags_all"),
        tags_any=strings(value.tags_any, "tags_any"),
        uri_prefix=value.uri_prefix,
        content_types=strings(value.content_types, "content_types"),
        created_after=to_timestamp(value.created_after),
        created_before=to_timestamp(value.created_before),
    )


def edge_in(value: m.Edge) -> rem.Edge:
    """An `Edge` as its message."""
    return rem.Edge(
        src=value.src,
        dst=value.dst,
        rel_type=value.rel_type,
        properties=to_struct(value.properties, "properties"),
        weight=value.weight,
    )


def moment_in(value: m.MomentInput) -> rem.Moment:
    """A `MomentInput` as the message to put."""
    return rem.Moment(
        id=value.id,
        name=value.name,
        summary=value.summary,
        start_time=to_timestamp(value.start_time),
        end_time=to_timestamp(value.end_time),
        moment_type=value.moment_type,
        tags=strings(value.tags, "tags"),
        entity_refs=strings(value.entity_refs, "entity_refs"),
        resource_refs=strings(value.resource_refs, "resource_refs"),
        metadata=to_struct(value.metadata, "metadata"),
    )


# ---- requests -----------------------------------------------------------------------


def _durability(value: m.Durability) -> rem.Durability.ValueType:
    return rem.Durability.ValueType(value)


def put_resources(
    resources: Iterable[m.ResourceInput], replace_uris: bool, embedding_model: str, durability: m.Durability
) -> db.PutResourcesRequest:
    """The request of `put_resources`."""
    return db.PutResourcesRequest(
        resources=[resource_in(r) for r in resources],
        replace_uris=replace_uris,
        embedding_model=embedding_model,
        durability=_durability(durability),
    )


def get_resources(ids: Iterable[str], uri: str, include_embeddings: bool) -> db.GetResourcesRequest:
    """The request of `get_resources`."""
    return db.GetResourcesRequest(ids=strings(ids, "ids"), uri=uri, include_embeddings=include_embeddings)


def delete_resources(ids: Iterable[str], uris: Iterable[str], durability: m.Durability) -> db.DeleteResourcesRequest:
    """The request of `delete_resources`."""
    return db.DeleteResourcesRequest(
        ids=strings(ids, "ids"), uris=strings(uris, "uris"), durability=_durability(durability)
    )


def search(
    query: str | Iterable[float],
    top_k: int,
    filter: m.ResourceFilter | None,
    metric: m.Metric,
    include_embeddings: bool,
) -> db.SearchResourcesRequest:
    """The request of `search`: a text query, or a vector."""
    request = db.SearchResourcesRequest(
        top_k=top_k, filter=filter_in(filter), metric=db.Metric.ValueType(metric), include_embeddings=include_embeddings
    )
    if isinstance(query, str):
        request.text = query
    else:
        try:
            request.vector.values.extend(float(x) for x in query)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(
                grpc.StatusCode.INVALID_ARGUMENT, f"search query must be a text or a sequence of numbers: {exc}"
            ) from None
    return request


def delete_entities(ids: Iterable[str], durability: m.Durability) -> db.DeleteEntitiesRequest:
    """The request of `delete_entities`."""
    return db.DeleteEntitiesRequest(ids=strings(ids, "ids"), durability=_durability(durability))


def add_edges(edges: Iterable[m.Edge], durability: m.Durability) -> db.AddEdgesRequest:
    """The request of `add_edges`."""
    return db.AddEdgesRequest(edges=[edge_in(e) for e in edges], durability=_durability(durability))


def put_moments(moments: Iterable[m.MomentInput], durability: m.Durability) -> db.PutMomentsRequest:
    """The request of `put_moments`."""
    return db.PutMomentsRequest(moments=[moment_in(x) for x in moments], durability=_durability(durability))


def delete_moments(ids: Iterable[str], durability: m.Durability) -> db.DeleteMomentsRequest:
    """The request of `delete_moments`."""
    return db.DeleteMomentsRequest(ids=strings(ids, "ids"), durability=_durability(durability))


def chat_messages(values: Iterable[m.ChatMessage] | None) -> list[db.ChatMessage]:
    """A conversation as its messages, refusing a lone string or message and unknown roles."""
    if values is None:
        return []
    if isinstance(values, (str, m.ChatMessage)):
        raise InvalidArgument(
            grpc.StatusCode.INVALID_ARGUMENT, "messages must be a list of ChatMessage, not a single one"
        )
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, m.ChatMessage):
            raise InvalidArgument(
                grpc.StatusCode.INVALID_ARGUMENT, f"messages[{i}] is a {type(value).__name__}, not a ChatMessage"
            )
        try:
            role = m.ChatRole(value.role)
        except ValueError:
            raise InvalidArgument(
                grpc.StatusCode.INVALID_ARGUMENT, f"messages[{i}] has role {value.role!r}, not a ChatRole"
            ) from None
        out.append(db.ChatMessage(role=db.ChatRole.ValueType(role), content=value.content))
    return out


def chat(
    question: str | None,
    messages: Iterable[m.ChatMessage] | None,
    top_k: int,
    filter: m.ResourceFilter | None,
    include_entities: bool | None,
    include_moments: bool | None,
    moments_after: datetime | None,
    moments_before: datetime | None,
    model: str,
    temperature: float | None,
    max_tokens: int,
    context_tokens: int,
    min_score: float | None,
    max_entities: int,
    max_moments: int,
    record_moment: bool,
) -> db.ChatRequest:
    """The request of `chat` (unset optional fields leave the server's defaults)."""
    return db.ChatRequest(
        question=question or "",
        messages=chat_messages(messages),
        top_k=top_k,
        filter=filter_in(filter),
        include_entities=include_entities,
        include_moments=include_moments,
        moments_after=to_timestamp(moments_after),
        moments_before=to_timestamp(moments_before),
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        context_tokens=context_tokens,
        min_score=min_score,
        max_entities=max_entities,
        max_moments=max_moments,
        record_moment=record_moment,
    )


def list_jobs(states: Iterable[m.JobState], page_size: int, cursor: str) -> jobs.ListJobsRequest:
    """The request of `list_jobs`."""
    return jobs.ListJobsRequest(states=[jobs.JobState.ValueType(s) for s in states], page_size=page_size, cursor=cursor)


def upsert_entities(entities: Iterable[m.EntityInput], durability: m.Durability) -> db.UpsertEntitiesRequest:
    """The request of `upsert_entities`."""
    upserts = [
        db.EntityUpsert(type=e.type, key=e.key, properties=to_struct(e.properties, "properties")) for e in entities
    ]
    return db.UpsertEntitiesRequest(entities=upserts, durability=_durability(durability))


def get_entities(ids: Iterable[str], keys: Iterable[tuple[str, str]], include_edges: bool) -> db.GetEntitiesRequest:
    """The request of `get_entities`."""
    return db.GetEntitiesRequest(
        ids=strings(ids, "ids"), keys=[db.EntityKey(type=t, key=k) for t, k in keys], include_edges=include_edges
    )


def remove_edges(edges: Iterable[m.Edge], durability: m.Durability) -> db.RemoveEdgesRequest:
    """The request of `remove_edges`."""
    keys = [db.EdgeKey(src=e.src, dst=e.dst, rel_type=e.rel_type) for e in edges]
    return db.RemoveEdgesRequest(edges=keys, durability=_durability(durability))


def traverse(
    start_ids: Iterable[str], max_depth: int, direction: m.Direction, rel_types: Iterable[str], limit: int
) -> db.TraverseRequest:
    """The request of `traverse`."""
    return db.TraverseRequest(
        start_ids=strings(start_ids, "start_ids"),
        max_depth=max_depth,
        direction=db.Direction.ValueType(direction),
        rel_types=strings(rel_types, "rel_types"),
        limit=limit,
    )


def list_moments(
    start_after: datetime | None,
    start_before: datetime | None,
    moment_types: Iterable[str],
    tags: Iterable[str],
    page_size: int,
    cursor: str,
) -> db.ListMomentsRequest:
    """The request of `list_moments`."""
    return db.ListMomentsRequest(
        start_after=to_timestamp(start_after),
        start_before=to_timestamp(start_before),
        moment_types=strings(moment_types, "moment_types"),
        tags=strings(tags, "tags"),
        page_size=page_size,
        cursor=cursor,
    )


def submit_job(
    kind: m.JobKind,
    object_key: str,
    uri: str,
    content_type: str,
    tags: Iterable[str],
    metadata: Mapping[str, Any] | None,
    idempotency_key: str,
) -> jobs.SubmitJobRequest:
    """The request of `submit_job`."""
    return jobs.SubmitJobRequest(
        kind=jobs.JobKind.ValueType(kind),
        object_key=object_key,
        uri=uri,
        content_type=content_type,
        tags=strings(tags, "tags"),
        metadata=to_struct(metadata, "metadata"),
        idempotency_key=idempotency_key,
    )


def upload_metadata(
    upload_id: str,
    file_name: str,
    content_type: str,
    uri: str,
    tags: Iterable[str],
    metadata: Mapping[str, Any] | None,
    size: int | None,
    sha256: str,
) -> up.UploadRequest:
    """The first message of an upload stream."""
    meta = up.UploadMetadata(
        upload_id=upload_id,
        file_name=file_name,
        content_type=content_type,
        uri=uri,
        tags=strings(tags, "tags"),
        metadata=to_struct(metadata, "metadata"),
        expected_size=size,
        expected_sha256=sha256,
    )
    return up.UploadRequest(metadata=meta)


# ---- outputs --------------------------------------------------------------------------


def resource_out(value: rem.Resource) -> m.Resource:
    """A stored resource."""
    return m.Resource(
        id=value.id,
        uri=value.uri,
        chunk_ordinal=value.chunk_ordinal,
        content=value.content,
        content_type=value.content_type,
        metadata=from_struct(value.metadata),
        tags=list(value.tags),
        created_at=_time(value.created_at) if value.HasField("created_at") else None,
        embedding=list(value.embedding),
        embedding_pending=value.embedding_pending,
    )


def put_result(value: db.PutResourcesResponse) -> m.PutResult:
    """The answer of `put_resources`."""
    return m.PutResult(
        ids=list(value.ids), replaced_chunks=value.replaced_chunks, embedded_by_node=value.embedded_by_node
    )


def found_resources(value: db.GetResourcesResponse) -> m.Found[m.Resource]:
    """The answer of `get_resources`."""
    return m.Found([resource_out(r) for r in value.resources], list(value.missing_ids))


def search_result(value: db.SearchResourcesResponse) -> m.SearchResult:
    """The answer of `search`."""
    hits = [m.SearchHit(resource_out(h.resource), h.score) for h in value.hits]
    return m.SearchResult(hits=hits, candidates=value.candidates, pending_embeddings=value.pending_embeddings)


def edge_out(value: rem.Edge) -> m.Edge:
    """A stored edge."""
    return m.Edge(
        src=value.src,
        dst=value.dst,
        rel_type=value.rel_type,
        properties=from_struct(value.properties),
        weight=value.weight,
    )


def entity_out(value: rem.Entity) -> m.Entity:
    """A stored entity."""
    return m.Entity(
        id=value.id,
        type=value.type,
        key=value.key,
        properties=from_struct(value.properties),
        edges=[edge_out(e) for e in value.edges],
        updated_at=_time(value.updated_at) if value.HasField("updated_at") else None,
    )


def found_entities(value: db.GetEntitiesResponse) -> m.Found[m.Entity]:
    """The answer of `get_entities`."""
    return m.Found([entity_out(e) for e in value.entities], list(value.missing_ids))


def traverse_result(value: db.TraverseResponse) -> m.TraverseResult:
    """The answer of `traverse`."""
    nodes = [m.TraversalNode(entity_out(n.entity), n.depth) for n in value.nodes]
    return m.TraverseResult(nodes=nodes, edges=[edge_out(e) for e in value.edges], truncated=value.truncated)


def moment_out(value: rem.Moment) -> m.Moment:
    """A stored moment."""
    return m.Moment(
        id=value.id,
        name=value.name,
        summary=value.summary,
        start_time=_time(value.start_time) if value.HasField("start_time") else None,
        end_time=_time(value.end_time) if value.HasField("end_time") else None,
        moment_type=value.moment_type,
        tags=list(value.tags),
        entity_refs=list(value.entity_refs),
        resource_refs=list(value.resource_refs),
        metadata=from_struct(value.metadata),
    )


def found_moments(value: db.GetMomentsResponse) -> m.Found[m.Moment]:
    """The answer of `get_moments`."""
    return m.Found([moment_out(x) for x in value.moments], list(value.missing_ids))


def moment_page(value: db.ListMomentsResponse) -> m.Page[m.Moment]:
    """A page of `list_moments`."""
    return m.Page([moment_out(x) for x in value.moments], value.next_cursor or None)


def tenant_stats(value: db.TenantStats) -> m.TenantStats:
    """The answer of `tenant_stats`."""
    return m.TenantStats(
        tenant_id=value.tenant_id,
        resources=value.resources,
        embedded_resources=value.embedded_resources,
        entities=value.entities,
        moments=value.moments,
        vector_dimension=value.vector_dimension,
        embedding_model=value.embedding_model,
        disk_bytes=value.disk_bytes,
    )


def chat_event(value: db.ChatEvent) -> m.ChatEvent | None:
    """A chat event (`None` for a kind this SDK does not know, from a newer server)."""
    kind = value.WhichOneof("event")
    if kind == "citation":
        return citation_out(value.citation)
    if kind == "delta":
        return m.ChatDelta(value.delta)
    if kind == "done":
        done = value.done
        return m.ChatDone(
            model=done.model,
            extractive=done.extractive,
            moment_id=done.moment_id or None,
            context_tokens=done.context_tokens,
            omitted_items=done.omitted_items,
            dropped_messages=done.dropped_messages,
        )
    return None


def citation_out(value: db.Citation) -> m.Citation:
    """A citation: its one source set, the others `None` (all `None` for a kind this SDK does not know)."""
    source = value.WhichOneof("source")
    return m.Citation(
        number=value.number,
        score=value.score,
        reason=value.reason,
        resource=resource_out(value.resource) if source == "resource" else None,
        entity=entity_out(value.entity) if source == "entity" else None,
        moment=moment_out(value.moment) if source == "moment" else None,
    )


def _enum(kind: type[m.JobKind] | type[m.JobState], value: int) -> Any:
    try:
        return kind(value)
    except ValueError:
        return kind(0)


def job_out(value: jobs.Job) -> m.Job:
    """A job."""
    request = value.request
    spec = m.JobSpec(
        kind=_enum(m.JobKind, request.kind),
        object_key=request.object_key,
        uri=request.uri,
        content_type=request.content_type,
        tags=list(request.tags),
        metadata=from_struct(request.metadata),
        idempotency_key=request.idempotency_key,
    )
    result = value.result
    return m.Job(
        id=value.id,
        kind=_enum(m.JobKind, value.kind),
        state=_enum(m.JobState, value.state),
        progress=value.progress,
        stage=value.stage,
        error=value.error,
        result=m.JobResult(result.resources, result.entities, result.moments) if value.HasField("result") else None,
        attempts=value.attempts,
        created_at=_time(value.created_at) if value.HasField("created_at") else None,
        started_at=_time(value.started_at) if value.HasField("started_at") else None,
        finished_at=_time(value.finished_at) if value.HasField("finished_at") else None,
        request=spec if value.HasField("request") else None,
    )


def job_page(value: jobs.ListJobsResponse) -> m.Page[m.Job]:
    """A page of `list_jobs`."""
    return m.Page([job_out(j) for j in value.jobs], value.next_cursor or None)


def upload_result(value: up.UploadResponse) -> m.UploadResult:
    """The answer of `upload`."""
    return m.UploadResult(
        upload_id=value.upload_id,
        job_id=value.job_id,
        object_key=value.object_key,
        size=value.size,
        sha256=value.sha256,
    )
