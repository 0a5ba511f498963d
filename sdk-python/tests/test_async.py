"""`AsyncClient` used the asyncio way: `async with`, `async for`, concurrent
calls. (Every method also runs through the shared tests, via `Blocking`.)"""

from __future__ import annotations

import asyncio
import io
from contextlib import aclosing
from typing import Any

import pytest

import percolate
from percolate import (
    AsyncClient,
    ChatDone,
    ChatMessage,
    ChatRole,
    Citation,
    EntityInput,
    FailedPrecondition,
    InvalidArgument,
    JobState,
    MomentInput,
    ResourceInput,
)
from tests.conftest import Server


async def test_async_end_to_end(server: Server, tenant: str) -> None:
    async with AsyncClient(server.target, tenant) as client:
        # Concurrent writes on one channel.
        puts = await asyncio.gather(
            *(
                client.put_resources([ResourceInput(f"note://{i}", text)])
                for i, text in enumerate(
                    ["Cats purr when content", "Dogs bark at strangers", "Parrots can mimic speech"]
                )
            )
        )
        assert [len(p.ids) for p in puts] == [1, 1, 1]
        result = await client.search("which bird talks?", top_k=1)
        assert result.hits[0].resource.uri == "note://2"

        ada, org = await client.upsert_entities([EntityInput("person", "ada"), EntityInput("org", "engines")])
        assert await client.add_edges([percolate.Edge(ada.id, org.id, "works_at")]) == 1
        assert [n.entity.key for n in (await client.traverse([ada.id])).nodes] == ["ada", "engines"]

        await client.put_moments([MomentInput(f"m{i}") for i in range(3)])
        assert len([m async for m in client.iter_moments(page_size=1)]) == 3
        async with aclosing(client.iter_moments(page_size=1)) as moments:
            async for first in moments:  # leaving early closes the iterator
                assert first.name == "m2"
                break

        uploaded = await client.upload(io.BytesIO(b"# Owls\n\nOwls hunt at night.\n"), file_name="owls.md")
        states = [job.state async for job in client.watch_job(uploaded.job_id, timeout=30)]
        assert states[-1] == JobState.SUCCEEDED and all(s != JobState.UNSPECIFIED for s in states)
        assert (await client.wait_for_job(uploaded.job_id)).result is not None
        assert uploaded.job_id in [job.id async for job in client.iter_jobs()]
        assert (await client.tenant_stats()).entities >= 2


async def test_async_chat_is_an_async_iterator(server: Server, tenant: str) -> None:
    async with AsyncClient(server.target, tenant) as client:
        await client.put_resources(
            [
                ResourceInput("doc://bread", "Bake the sourdough loaf at 250 degrees for forty minutes."),
                ResourceInput("doc://trip", "The Lisbon offsite is planned for March, in the Alfama district."),
            ]
        )
        events = [event async for event in client.chat("How long does the sourdough bake?", record_moment=True)]
        first = events[0]
        assert isinstance(first, Citation) and first.resource is not None and first.resource.uri == "doc://bread"
        done = events[-1]
        assert isinstance(done, ChatDone) and done.model == "extractive" and done.moment_id
        assert (await client.get_moments([done.moment_id])).items[0].moment_type == "chat"

        # Concurrent chats on one channel, each its own stream.
        conversation = [
            ChatMessage(ChatRole.USER, "When is the Lisbon offsite?"),
            ChatMessage(ChatRole.ASSISTANT, "In March [1]."),
            ChatMessage(ChatRole.USER, "Which district?"),
        ]

        async def first_uri(**kwargs: Any) -> str:
            async with aclosing(client.chat(**kwargs)) as stream:
                async for event in stream:  # leaving early closes the stream
                    assert isinstance(event, Citation) and event.resource is not None
                    return event.resource.uri
            raise AssertionError("no citation")

        firsts = await asyncio.gather(
            first_uri(question="How long does the sourdough bake?"), first_uri(messages=conversation)
        )
        assert list(firsts) == ["doc://bread", "doc://trip"]

        with pytest.raises(InvalidArgument):
            async for _event in client.chat("  "):
                pass
        with pytest.raises(FailedPrecondition):
            async for _event in client.chat("anything?", model="gpt-4o"):
                pass
