"""Chat: a question or a conversation answered from the tenant's memory, as a
stream of citations, then the answer's text, then a last `ChatDone`.

The test server has no language model configured, so every answer is
extractive (quoted passages) and a named model is refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest

from percolate import (
    ChatDelta,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRole,
    Citation,
    Edge,
    EntityInput,
    FailedPrecondition,
    InvalidArgument,
    MomentInput,
    ResourceFilter,
    ResourceInput,
)

DOCS = [
    ResourceInput(
        "doc://recipes",
        "Sourdough bread needs a mature starter, fed the night before. Bake the loaf at 250 degrees for forty minutes.",
        tags=["kitchen"],
    ),
    ResourceInput(
        "doc://travel",
        "The Lisbon offsite is planned for March. The team stays at a small hotel in the Alfama district.",
        tags=["travel"],
    ),
    ResourceInput(
        "doc://it",
        "Connect to the VPN before opening the intranet. Its certificates are renewed every ninety days.",
        tags=["it"],
    ),
]

SOURDOUGH = "How long do I bake sourdough bread?"


def put_docs(client: Any) -> dict[str, str]:
    """Writes `DOCS`; returns their ids by uri."""
    ids = client.put_resources(DOCS).ids
    return {doc.uri: id for doc, id in zip(DOCS, ids)}


def split(events: list[ChatEvent]) -> tuple[list[Citation], list[str], ChatDone]:
    """The citations, text pieces and end of a stream, checking its shape:
    citations (numbered from 1, one source each) before any text, one `ChatDone` last."""
    order = "".join("c" if isinstance(e, Citation) else "d" if isinstance(e, ChatDelta) else "D" for e in events)
    assert re.fullmatch(r"c*d+D", order), order
    citations = [e for e in events if isinstance(e, Citation)]
    assert [c.number for c in citations] == list(range(1, len(citations) + 1))
    for citation in citations:
        sources = [s for s in (citation.resource, citation.entity, citation.moment) if s is not None]
        assert len(sources) == 1 and citation.source is sources[0], citation
        assert citation.reason, citation
    deltas = [e.text for e in events if isinstance(e, ChatDelta)]
    done = events[-1]
    assert isinstance(done, ChatDone)
    return citations, deltas, done


def uris(citations: list[Citation]) -> list[str]:
    return [c.resource.uri for c in citations if c.resource is not None]


def test_chat_quotes_the_closest_passage(client: Any) -> None:
    ids = put_docs(client)
    citations, deltas, done = split(list(client.chat(SOURDOUGH)))

    first = citations[0]
    assert first.resource is not None and first.resource.uri == "doc://recipes"
    assert first.resource.id == ids["doc://recipes"] and first.resource.content == DOCS[0].content
    assert first.resource.tags == ["kitchen"] and first.resource.embedding == []
    assert first.entity is None and first.moment is None and first.source is first.resource
    assert first.reason == "similar to the question" and 0.2 <= first.score <= 1.0

    assert deltas[0].startswith("Extractive answer")
    text = "".join(deltas)
    assert "Bake the loaf at 250 degrees for forty minutes. [1]" in text, text
    assert (done.model, done.extractive, done.moment_id, done.dropped_messages) == ("extractive", True, None, 0)
    assert 0 < done.context_tokens <= 3000 and done.omitted_items == 0

    citations, deltas, _ = split(list(client.chat("When is the Lisbon offsite?", model="extractive")))
    assert uris(citations)[0] == "doc://travel"
    assert "The Lisbon offsite is planned for March. [1]" in "".join(deltas)


def test_chat_retrieval_settings(client: Any) -> None:
    put_docs(client)
    # The filter and a negative min_score: the one IT note, however unrelated.
    citations, _, _ = split(
        list(
            client.chat(
                SOURDOUGH,
                filter=ResourceFilter(tags_any=["it"]),
                min_score=-1.0,
                top_k=3,
                include_entities=False,
                include_moments=False,
            )
        )
    )
    assert uris(citations) == ["doc://it"]
    # top_k bounds the passages; a high min_score leaves out everything.
    citations, _, _ = split(list(client.chat(SOURDOUGH, top_k=1, min_score=-1.0)))
    assert uris(citations) == ["doc://recipes"]
    citations, deltas, _ = split(list(client.chat(SOURDOUGH, min_score=0.99)))
    assert citations == [] and "Nothing in this tenant's memory matches the question." in "".join(deltas)
    # A small context budget: fewer items, counted.
    _, _, done = split(list(client.chat(SOURDOUGH, context_tokens=60, top_k=3, min_score=-1.0)))
    assert done.context_tokens <= 60 and done.omitted_items > 0, done
    # Sampling settings are accepted (and unused by an extractive answer).
    _, _, done = split(list(client.chat(SOURDOUGH, temperature=0.5, max_tokens=100, max_entities=2, max_moments=2)))
    assert done.extractive


def test_chat_conversation(client: Any) -> None:
    put_docs(client)
    turns = [
        ChatMessage(ChatRole.SYSTEM, "Answer in one sentence."),
        ChatMessage(ChatRole.USER, "When is the Lisbon offsite?"),
        ChatMessage(ChatRole.ASSISTANT, "The Lisbon offsite is planned for March [1]."),
        ChatMessage(ChatRole.USER, "Where does the team stay?"),
    ]
    citations, deltas, done = split(list(client.chat(messages=turns)))
    assert uris(citations)[0] == "doc://travel"  # the follow-up keeps the subject of the turn before
    assert deltas[0].startswith("Extractive answer") and "Alfama" in "".join(deltas)
    assert (done.model, done.extractive, done.dropped_messages) == ("extractive", True, 0)

    # `question` is the last user turn after `messages` (any sequence).
    citations, _, _ = split(list(client.chat("Where does the team stay?", messages=tuple(turns[:3]))))
    assert uris(citations)[0] == "doc://travel"

    # The conversation must end with a user turn.
    with pytest.raises(InvalidArgument, match="must end with a user turn"):
        list(client.chat(messages=turns[:3]))


def test_chat_records_the_exchange_as_a_moment(client: Any) -> None:
    ids = put_docs(client)
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    citations, deltas, done = split(list(client.chat(SOURDOUGH, record_moment=True)))
    assert done.moment_id

    (moment,) = client.get_moments([done.moment_id]).items
    assert (moment.moment_type, moment.name, moment.summary) == ("chat", SOURDOUGH, "".join(deltas).strip())
    assert ids["doc://recipes"] in moment.resource_refs
    assert moment.resource_refs == [c.resource.id for c in citations if c.resource is not None]
    assert moment.metadata["model"] == "extractive" and moment.metadata["citations"] == len(citations)
    assert moment.start_time is not None and moment.end_time is not None
    assert before <= moment.start_time <= moment.end_time <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert [m.id for m in client.iter_moments(moment_types=["chat"])] == [done.moment_id]

    # Recorded exchanges are never context (answers are not grounded in
    # earlier answers), and are not recorded again without being asked.
    citations, _, done = split(list(client.chat(SOURDOUGH)))
    assert [c for c in citations if c.moment is not None] == [], citations
    assert done.moment_id is None

    # Other moments are: one referring to the cited passage comes first...
    (baked,) = client.put_moments([MomentInput("Baked a loaf", moment_type="baking", resource_refs=[ids["doc://recipes"]])])
    citations, _, _ = split(list(client.chat(SOURDOUGH)))
    cited = [c for c in citations if c.moment is not None]
    assert [c.moment.id for c in cited if c.moment is not None] == [baked], citations
    assert cited[0].score == 0.0 and cited[0].reason.startswith("refers to ["), cited[0].reason
    # ... when it starts in the time window, and moments are wanted.
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    windows: list[dict[str, Any]] = [
        {"moments_after": before, "moments_before": after},
        {"moments_after": before.replace(tzinfo=None)},  # naive: taken as UTC
    ]
    for window in windows:
        citations, _, _ = split(list(client.chat(SOURDOUGH, **window)))
        assert [c.moment.id for c in citations if c.moment is not None] == [baked], window
    windows = [{"moments_before": before}, {"moments_after": after}, {"include_moments": False}]
    for window in windows:
        citations, _, _ = split(list(client.chat(SOURDOUGH, **window)))
        assert [c for c in citations if c.moment is not None] == [], window
    assert client.tenant_stats().moments == 2


def test_chat_cites_named_entities_and_their_neighbours(client: Any) -> None:
    put_docs(client)
    ada, engines = client.upsert_entities(
        [
            EntityInput("person", "ada lovelace", {"name": "Ada Lovelace", "role": "organiser"}),
            EntityInput("organization", "analytical engines ltd", {"name": "Analytical Engines Ltd"}),
        ]
    )
    client.add_edges([Edge(ada.id, engines.id, "works_at")])

    citations, _, _ = split(list(client.chat("What does Ada Lovelace organise?")))
    entities = [c for c in citations if c.entity is not None]
    assert [c.entity.id for c in entities if c.entity is not None] == [ada.id, engines.id], citations
    named, neighbour = entities
    assert named.reason == "named in the question" and named.score == 0.0
    assert named.entity is not None and named.entity.properties == {"name": "Ada Lovelace", "role": "organiser"}
    assert named.entity.edges == [Edge(ada.id, engines.id, "works_at")]
    assert neighbour.reason == f"[{named.number}] works_at it"
    assert all(c.number < named.number for c in citations if c.resource is not None)  # resources come first

    citations, _, _ = split(list(client.chat("What does Ada Lovelace organise?", include_entities=False)))
    assert [c for c in citations if c.entity is not None] == []
    citations, _, _ = split(list(client.chat("What does Ada Lovelace organise?", max_entities=1)))
    assert [c.entity.id for c in citations if c.entity is not None] == [ada.id]


def test_bad_chat_requests(client: Any) -> None:
    put_docs(client)
    refused: list[dict[str, Any]] = [
        {},
        {"question": "   "},
        {"messages": [ChatMessage(ChatRole.USER, "")]},
        {"question": SOURDOUGH, "temperature": 3.0},
        {"question": SOURDOUGH, "top_k": 51},
        {"question": SOURDOUGH, "max_tokens": 1_000_000},
        {"question": SOURDOUGH, "moments_after": datetime(2025, 2, 1), "moments_before": datetime(2025, 1, 1)},
    ]
    for kwargs in refused:
        with pytest.raises(InvalidArgument) as caught:
            list(client.chat(**kwargs))
        error = caught.value
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.method == "Chat", (kwargs, error)
    with pytest.raises(InvalidArgument, match="needs a question"):
        list(client.chat())

    # A named model on a server without one is refused, not silently quoted.
    with pytest.raises(FailedPrecondition) as failed:
        list(client.chat(SOURDOUGH, model="gpt-4o", record_moment=True))
    assert failed.value.method == "Chat" and "no language model" in failed.value.message
    assert client.tenant_stats().moments == 0  # nothing recorded

    # Checked by the SDK before anything is sent.
    with pytest.raises(InvalidArgument, match="list of ChatMessage"):
        list(client.chat(messages=ChatMessage(ChatRole.USER, "hi")))
    with pytest.raises(InvalidArgument, match=r"messages\[0\] is a str"):
        list(client.chat(messages=["hi"]))
    with pytest.raises(InvalidArgument, match="not a ChatRole"):
        list(client.chat(messages=[ChatMessage(7, "hi")]))  # type: ignore[arg-type]
