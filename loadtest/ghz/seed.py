"""Seeds the tenants the ghz configs of this folder read, through the Python SDK.

    python3 -m pip install ./sdk-python          # once (scripts/bootstrap does it)
    python3 loadtest/ghz/seed.py 127.0.0.1:50051

`ghz` (text, embedded by the server): resources `ghz://doc/0..N`, people
`person/p0..` working at `org/o0..o4` located in `place/london`, and moments.
`ghz-vec` (caller vectors, 8 dimensions): resources `vec://doc/0..N`.
Seeding again rewrites the same ids, so it is safe to repeat.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import percolate
from percolate import Edge, EntityInput, MomentInput, ResourceInput

HERE = Path(__file__).resolve().parent
TOPICS = [
    "invoices are sent monthly",
    "lunch is served from noon",
    "the VPN is needed for the intranet",
    "expenses are filed by Friday",
    "the office closes at eight",
]


def seed(target: str, resources: int, vectors: int, people: int, moments: int) -> None:
    """Writes the seed data; checks that traverse.json starts at `person/p0`."""
    with percolate.Client(target, tenant="ghz", timeout=120) as client:
        for start in range(0, resources, 100):
            batch = [
                ResourceInput(f"ghz://doc/{i}", f"Note {i}: {TOPICS[i % len(TOPICS)]}", tags=[f"t{i % 3}"])
                for i in range(start, min(start + 100, resources))
            ]
            client.put_resources(batch)
        orgs = client.upsert_entities([EntityInput("org", f"o{i}") for i in range(5)])
        (london,) = client.upsert_entities([EntityInput("place", "london")])
        persons = client.upsert_entities([EntityInput("person", f"p{i}", {"n": i}) for i in range(people)])
        edges = [Edge(p.id, orgs[i % len(orgs)].id, "works_at") for i, p in enumerate(persons)] + [
            Edge(o.id, london.id, "located_in") for o in orgs
        ]
        client.add_edges(edges)
        base = datetime(2025, 1, 1, tzinfo=timezone.utc)
        # Fixed ids (UUID v7 layout, so they sort like generated ones): reseeding rewrites them.
        feed = [
            MomentInput(
                f"event {i}",
                start_time=base + timedelta(minutes=i),
                moment_type="load",
                id=f"01900000-0000-7000-8000-{i:012d}",
            )
            for i in range(moments)
        ]
        for start in range(0, len(feed), 500):
            client.put_moments(feed[start : start + 500])
        start_ids = json.loads((HERE / "traverse.json").read_text())["data"]["start_ids"]
        if persons and start_ids != [persons[0].id]:
            raise SystemExit(f"traverse.json starts at {start_ids}, but person/p0 is {persons[0].id}: update it")
    rng = random.Random(7)
    with percolate.Client(target, tenant="ghz-vec", timeout=120) as client:
        for start in range(0, vectors, 500):
            vectors_batch = [
                ResourceInput(f"vec://doc/{i}", f"vector {i}", embedding=[rng.uniform(-1, 1) for _ in range(8)])
                for i in range(start, min(start + 500, vectors))
            ]
            client.put_resources(vectors_batch)
    print(
        f"seeded {target}: ghz ({resources} resources, {people} people, {moments} moments), ghz-vec ({vectors} vectors)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "target", nargs="?", default="127.0.0.1:50051", help="host:port of the server (default 127.0.0.1:50051)"
    )
    parser.add_argument("--resources", type=int, default=1000, help="text chunks in tenant ghz (default 1000)")
    parser.add_argument(
        "--vectors", type=int, default=10000, help="8-dimension vectors in tenant ghz-vec (default 10000)"
    )
    parser.add_argument("--people", type=int, default=50, help="person entities in tenant ghz (default 50)")
    parser.add_argument("--moments", type=int, default=2000, help="moments in tenant ghz (default 2000)")
    args = parser.parse_args()
    seed(args.target, args.resources, args.vectors, args.people, args.moments)
