"""Resources: put, get (by id and by uri), delete, and search by text and by vector."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest

from percolate import (
    FailedPrecondition,
    InvalidArgument,
    Metric,
    ResourceFilter,
    ResourceInput,
)

MISSING_ID = "00000000-0000-5000-8000-000000000000"


def test_put_get_delete(client: Any) -> None:
    old = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    put = client.put_resources(
        [
            ResourceInput(
                "doc://a",
                "Alpha, first chunk",
                tags=["x"],
                content_type="text/plain",
                metadata={"page": 1, "title": "Alpha", "ratio": 0.5},
            ),
            ResourceInput("doc://a", "Alpha, second chunk", chunk_ordinal=1),
            ResourceInput("doc://b", "Beta", created_at=old),
        ]
    )
    assert len(put.ids) == 3 and len(set(put.ids)) == 3
    assert put.embedded_by_node == 3 and put.replaced_chunks == 0

    found = client.get_resources([put.ids[0], MISSING_ID])
    assert found.missing_ids == [MISSING_ID]
    (first,) = found.items
    assert (first.id, first.uri, first.chunk_ordinal, first.content) == (put.ids[0], "doc://a", 0, "Alpha, first chunk")
    assert first.tags == ["x"] and first.content_type == "text/plain"
    assert first.metadata == {"page": 1, "title": "Alpha", "ratio": 0.5}
    assert isinstance(first.metadata["page"], int)
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert first.embedding == [] and not first.embedding_pending

    by_uri = client.get_resources(uri="doc://a", include_embeddings=True)
    assert [r.content for r in by_uri.items] == ["Alpha, first chunk", "Alpha, second chunk"]
    assert all(len(r.embedding) == 384 for r in by_uri.items)
    assert client.get_resources([put.ids[2]]).items[0].created_at == old

    assert client.delete_resources([put.ids[2]]) == 1
    assert client.delete_resources([put.ids[2]]) == 0
    assert client.delete_resources(uris=["doc://a"]) == 2
    assert client.get_resources(put.ids).missing_ids == put.ids
    assert client.get_resources(uri="doc://a").items == []


def test_replace_uris(client: Any) -> None:
    client.put_resources([ResourceInput("doc://r", f"Part {i}", chunk_ordinal=i) for i in range(3)])
    put = client.put_resources([ResourceInput("doc://r", "The whole document now")], replace_uris=True)
    assert put.replaced_chunks == 2
    assert [r.content for r in client.get_resources(uri="doc://r").items] == ["The whole document now"]


def test_search_text_and_filters(client: Any) -> None:
    old = datetime(2020, 6, 1, tzinfo=timezone.utc)
    client.put_resources(
        [
            ResourceInput(
                "note://billing",
                "Invoices are sent on the first day of every month",
                tags=["finance"],
                content_type="text/plain",
            ),
            ResourceInput(
                "note://lunch",
                "The cafeteria serves lunch from noon to two",
                tags=["office"],
                content_type="text/markdown",
            ),
            ResourceInput(
                "wiki://vpn", "Connect to the VPN before opening the intranet", tags=["office", "it"], created_at=old
            ),
        ]
    )
    result = client.search("when do I get billed?", top_k=3)
    assert result.hits[0].resource.uri == "note://billing"
    assert result.candidates == 3 and result.pending_embeddings == 0
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert len(client.search("billing", top_k=1).hits) == 1

    def uris(flt: ResourceFilter) -> set[str]:
        return {h.resource.uri for h in client.search("anything", filter=flt).hits}

    assert uris(ResourceFilter(tags_any=["office"])) == {"note://lunch", "wiki://vpn"}
    assert uris(ResourceFilter(tags_all=["office", "it"])) == {"wiki://vpn"}
    assert uris(ResourceFilter(uri_prefix="note://")) == {"note://billing", "note://lunch"}
    assert uris(ResourceFilter(content_types=["text/markdown"])) == {"note://lunch"}
    assert uris(ResourceFilter(created_before=old + timedelta(days=1))) == {"wiki://vpn"}
    assert uris(ResourceFilter(created_after=old + timedelta(days=1))) == {"note://billing", "note://lunch"}


def test_search_vector(client: Any) -> None:
    client.put_resources(
        [
            ResourceInput("vec://x", "x axis", embedding=[1.0, 0.0, 0.0]),
            ResourceInput("vec://y", "y axis", embedding=[0.0, 2.0, 0.0]),
            ResourceInput("vec://xy", "diagonal", embedding=[0.7, 0.7, 0.0]),
        ]
    )
    hits = client.search([1.0, 0.1, 0.0], top_k=3, include_embeddings=True).hits
    assert [h.resource.uri for h in hits] == ["vec://x", "vec://xy", "vec://y"]
    assert hits[0].score == pytest.approx(0.995, abs=1e-3) and hits[0].resource.embedding == [1.0, 0.0, 0.0]
    # Dot product favours the long y vector.
    assert client.search((0.0, 1.0, 0.0), metric=Metric.DOT).hits[0].resource.uri == "vec://y"
    assert client.tenant_stats().vector_dimension == 3


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda c: c.search([1.0, 2.0, 3.0, 4.0]), InvalidArgument, "4 dimensions"),
        (lambda c: c.search([math.nan, 0.0, 0.0]), InvalidArgument, "non-finite"),
        (lambda c: c.search([math.inf, 0.0, 0.0]), InvalidArgument, "non-finite"),
        (
            lambda c: c.put_resources([ResourceInput("vec://4", "four", embedding=[1.0, 0.0, 0.0, 0.0])]),
            InvalidArgument,
            "4 dimensions",
        ),
        (
            lambda c: c.put_resources([ResourceInput("vec://nan", "nan", embedding=[math.nan, 0.0, 0.0])]),
            InvalidArgument,
            "non-finite",
        ),
        # Text is embedded with the server's 384-dimension model: it does not fit this tenant.
        (lambda c: c.put_resources([ResourceInput("txt://1", "some text")]), InvalidArgument, "384 dimensions"),
        # The tenant's vectors came from an unnamed model: text cannot be compared with them.
        (lambda c: c.search("some text"), FailedPrecondition, "without a model name"),
        (lambda c: c.put_resources([ResourceInput("", "no uri")]), InvalidArgument, "uri is empty"),
        (lambda c: c.get_resources(["not-a-uuid"]), InvalidArgument, "not a UUID"),
    ],
)
def test_bad_vectors_and_input(client: Any, call: Any, error: type[Exception], words: str) -> None:
    client.put_resources([ResourceInput("vec://x", "x axis", embedding=[1.0, 0.0, 0.0])])
    with pytest.raises(error) as caught:
        call(client)
    assert words in caught.value.message
    assert caught.value.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)


def test_text_search_refuses_another_model(client: Any) -> None:
    client.put_resources([ResourceInput("vec://m", "mine", embedding=[0.5] * 384)], embedding_model="my-own-model")
    assert client.tenant_stats().embedding_model == "my-own-model"
    with pytest.raises(FailedPrecondition):
        client.search("mine")
    assert client.search([0.5] * 384).hits[0].resource.uri == "vec://m"


def test_local_argument_checks(client: Any) -> None:
    with pytest.raises(InvalidArgument, match="sequence of numbers"):
        client.search(["not", "numbers"])
    with pytest.raises(InvalidArgument, match="not a single string"):
        client.get_resources("doc://a")
    with pytest.raises(TypeError, match="JSON cannot hold"):
        client.put_resources([ResourceInput("doc://t", "t", metadata={"when": datetime.now()})])
