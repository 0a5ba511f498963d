"""Entities and edges: upsert (merge), get by id and by key, delete, add and
remove edges, traverse."""

from __future__ import annotations

from typing import Any

import pytest

from percolate import Direction, Edge, EntityInput, InvalidArgument, NotFound

MISSING_ID = "00000000-0000-5000-8000-000000000000"


def test_upsert_merges_and_gets(client: Any) -> None:
    (ada,) = client.upsert_entities(
        [EntityInput("person", "ada", {"name": "Ada", "born": 1815, "langs": ["en", "fr"], "x": {"y": None}})]
    )
    assert (ada.type, ada.key) == ("person", "ada")
    assert ada.properties == {"name": "Ada", "born": 1815, "langs": ["en", "fr"], "x": {"y": None}}
    assert ada.updated_at is not None

    # A merge: `born` removed by None, `city` added, `name` kept.
    (merged,) = client.upsert_entities([EntityInput("person", "ada", {"born": None, "city": "London"})])
    assert merged.id == ada.id
    assert merged.properties == {"name": "Ada", "langs": ["en", "fr"], "x": {"y": None}, "city": "London"}

    found = client.get_entities([ada.id, MISSING_ID], keys=[("person", "ada"), ("person", "nobody")])
    assert [e.id for e in found.items] == [ada.id, ada.id]
    assert MISSING_ID in found.missing_ids and len(found.missing_ids) == 2

    assert client.get_entity("person", "ada").properties["city"] == "London"
    assert client.get_entity("person", "nobody") is None

    assert client.delete_entities([ada.id]) == 1
    assert client.delete_entities([ada.id]) == 0
    assert client.get_entities([ada.id]).missing_ids == [ada.id]


def test_edges_and_traverse(client: Any) -> None:
    ada, engines, lovelace, babbage = client.upsert_entities(
        [
            EntityInput("person", "ada"),
            EntityInput("org", "engines"),
            EntityInput("place", "london"),
            EntityInput("person", "babbage"),
        ]
    )
    edges = [
        Edge(ada.id, engines.id, "works_at", {"since": 1843}, 0.5),
        Edge(engines.id, lovelace.id, "located_in"),
        Edge(babbage.id, engines.id, "works_at"),
    ]
    assert client.add_edges(edges) == 3

    stored = client.get_entity("person", "ada")
    assert stored.edges == [Edge(ada.id, engines.id, "works_at", {"since": 1843}, 0.5)]
    assert client.get_entities([ada.id]).items[0].edges == []  # edges only when asked for

    one_hop = client.traverse([ada.id])
    assert [(n.entity.key, n.depth) for n in one_hop.nodes] == [("ada", 0), ("engines", 1)]
    assert one_hop.edges == [edges[0]] and not one_hop.truncated

    two_hops = client.traverse([ada.id], max_depth=2)
    assert [(n.entity.key, n.depth) for n in two_hops.nodes] == [("ada", 0), ("engines", 1), ("london", 2)]

    incoming = client.traverse([engines.id], direction=Direction.INCOMING)
    assert {n.entity.key for n in incoming.nodes} == {"engines", "ada", "babbage"}
    both = client.traverse([engines.id], direction=Direction.BOTH)
    assert {n.entity.key for n in both.nodes} == {"engines", "ada", "babbage", "london"}
    only_location = client.traverse([engines.id], direction=Direction.BOTH, rel_types=["located_in"])
    assert {n.entity.key for n in only_location.nodes} == {"engines", "london"}
    limited = client.traverse([engines.id], direction=Direction.BOTH, limit=2)
    assert len(limited.nodes) == 2 and limited.truncated

    # Re-adding an edge replaces its properties and weight.
    assert client.add_edges([Edge(ada.id, engines.id, "works_at", {"since": 1842}, 1.0)]) == 1
    assert client.get_entity("person", "ada").edges[0].properties == {"since": 1842}

    assert client.remove_edges([Edge(ada.id, engines.id, "works_at")]) == 1
    assert client.remove_edges([Edge(ada.id, engines.id, "works_at")]) == 0
    assert client.traverse([ada.id]).edges == []
    assert [n.entity.key for n in client.traverse([MISSING_ID]).nodes] == []


def test_bad_entity_input(client: Any) -> None:
    with pytest.raises(InvalidArgument, match="key is empty"):
        client.upsert_entities([EntityInput("person", "")])
    with pytest.raises(InvalidArgument, match="not a UUID"):
        client.add_edges([Edge("a", "b", "knows")])
    (ada,) = client.upsert_entities([EntityInput("person", "ada")])
    with pytest.raises(NotFound, match="does not exist"):
        client.add_edges([Edge(ada.id, MISSING_ID, "knows")])
    with pytest.raises(InvalidArgument, match="at least one start id"):
        client.traverse([])
