"""Tenant stats and isolation, chat, the error hierarchy, and client settings."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

import percolate
from percolate import (
    ChatDelta,
    ChatDone,
    Citation,
    EntityInput,
    InvalidArgument,
    MomentInput,
    PercolateError,
    ResourceInput,
)
from tests.conftest import ClientFactory, Server, new_tenant


def test_tenant_stats(client: Any) -> None:
    empty = client.tenant_stats()
    assert (empty.tenant_id, empty.resources, empty.entities, empty.moments, empty.vector_dimension) == (
        client.tenant,
        0,
        0,
        0,
        0,
    )
    client.put_resources([ResourceInput("doc://s", "Stats are counted per tenant")])
    client.upsert_entities([EntityInput("person", "ada"), EntityInput("person", "bob")])
    client.put_moments([MomentInput("counted")])
    stats = client.tenant_stats()
    assert (stats.resources, stats.embedded_resources, stats.entities, stats.moments) == (1, 1, 2, 1)
    assert stats.vector_dimension == 384 and stats.embedding_model


@pytest.mark.parametrize("bad", ["../acme", "Acme", "-acme", "a" * 64, "acme/../other"])
def test_bad_tenant_ids(make_client: ClientFactory, server: Server, bad: str) -> None:
    client = make_client(server.target, bad)
    with pytest.raises(InvalidArgument) as caught:
        client.tenant_stats()
    error = caught.value
    assert isinstance(error, PercolateError) and error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.method == "GetTenantStats" and "tenant id" in error.message
    assert str(error).startswith("INVALID_ARGUMENT (GetTenantStats): tenant id")


def test_tenant_isolation(client: Any) -> None:
    put = client.put_resources([ResourceInput("doc://secret", "The launch code is 0000", embedding=None)])
    (entity,) = client.upsert_entities([EntityInput("person", "ada", {"secret": True})])
    (moment_id,) = client.put_moments([MomentInput("secret meeting")])

    other = client.with_tenant(new_tenant())
    assert other.tenant != client.tenant
    assert other.get_resources(put.ids).missing_ids == put.ids
    assert other.get_resources(uri="doc://secret").items == []
    assert other.search("launch code").hits == []
    assert other.get_entities([entity.id]).missing_ids == [entity.id]
    assert other.get_entity("person", "ada") is None
    assert other.traverse([entity.id]).nodes == []
    assert other.get_moments([moment_id]).items == []
    assert list(other.iter_moments()) == []
    assert other.delete_resources(put.ids) == 0
    stats = other.tenant_stats()
    assert (stats.resources, stats.entities, stats.moments) == (0, 0, 0)
    # ... and the first tenant still has everything.
    assert client.get_resources(put.ids).items[0].content == "The launch code is 0000"
    assert client.tenant_stats().resources == 1


def test_chat_answers_only_from_the_tenants_memory(client: Any) -> None:
    put = client.put_resources([ResourceInput("doc://secret", "The launch code of the rocket is 0000")])
    client.upsert_entities([EntityInput("person", "ada lovelace")])
    client.put_moments([MomentInput("secret meeting", resource_refs=put.ids)])

    mine = list(client.chat("What launch code did Ada Lovelace give the rocket?"))
    cited = [e for e in mine if isinstance(e, Citation)]
    assert cited[0].resource is not None and cited[0].resource.uri == "doc://secret"
    assert {type(c.source).__name__ for c in cited} == {"Resource", "Entity", "Moment"}, cited

    other = client.with_tenant(new_tenant())
    events = list(other.chat("What launch code did Ada Lovelace give the rocket?", record_moment=True))
    assert not any(isinstance(e, Citation) for e in events), events
    text = "".join(e.text for e in events if isinstance(e, ChatDelta))
    assert "Nothing in this tenant's memory matches the question." in text and "0000" not in text
    done = events[-1]
    assert isinstance(done, ChatDone) and done.extractive and done.moment_id
    # The exchange is recorded in the other tenant only.
    assert other.get_moments([done.moment_id]).items[0].moment_type == "chat"
    assert client.get_moments([done.moment_id]).items == []
    assert client.tenant_stats().moments == 1


def test_targets_and_context_manager(server: Server, tenant: str) -> None:
    for target in (server.target, f"http://{server.target}", f"http://{server.target}/"):
        with percolate.Client(target, tenant=tenant, timeout=5) as client:
            assert client.tenant_stats().tenant_id == tenant
            assert client.timeout == 5 and client.tenant == tenant
    with pytest.raises(ValueError, match="tenant must not be empty"):
        percolate.Client(server.target, tenant="")
    with pytest.raises(TypeError, match="tenant must be a string"):
        percolate.Client(server.target, tenant=None)  # type: ignore[arg-type]


def test_token_and_tenant_metadata_are_sent(server: Server, tenant: str) -> None:
    seen: list[tuple[tuple[str, str | bytes], ...]] = []

    class Recorder(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            seen.append(tuple(details.metadata or ()))
            return continuation(details, request)

    channel = grpc.intercept_channel(grpc.insecure_channel(server.target), Recorder())
    client = percolate.Client.from_channel(channel, tenant, token="s3cret")
    assert client.tenant_stats().tenant_id == tenant  # the server ignores tokens for now
    assert seen == [(("x-tenant-id", tenant), ("authorization", "Bearer s3cret"))]
    client.close()  # leaves the given channel open
    assert client.with_tenant(new_tenant()).tenant_stats().resources == 0
    channel.close()
