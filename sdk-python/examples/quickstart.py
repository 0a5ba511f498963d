"""A tour of the Percolate Python SDK against a running server.

    ./scripts/dev                                  # or: percolate dev --listen 127.0.0.1:50051
    python sdk-python/examples/quickstart.py [TARGET] [TENANT]

TARGET and TENANT default to $PERCOLATE_TARGET and $PERCOLATE_TENANT, then
to 127.0.0.1:50051 and `quickstart`.
"""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import percolate
from percolate import Edge, EntityInput, MomentInput, ResourceFilter, ResourceInput


def main(target: str, tenant: str) -> None:
    with percolate.Client(target, tenant=tenant) as client:
        # Resources: chunks of text, embedded by the server, found by meaning.
        client.put_resources(
            [
                ResourceInput("note://billing", "Invoices are sent on the first day of every month", tags=["finance"]),
                ResourceInput("note://lunch", "The cafeteria serves lunch from noon to two", tags=["office"]),
                ResourceInput("note://vpn", "Connect to the VPN before opening the intranet", tags=["office", "it"]),
            ]
        )
        for hit in client.search("when do I get billed?", top_k=2).hits:
            print(f"search  {hit.score:.3f}  {hit.resource.uri}  {hit.resource.content}")
        office = client.search("where can I eat?", filter=ResourceFilter(tags_any=["office"]), top_k=1)
        print(f"filter  {office.hits[0].resource.content}")

        # Entities and edges: a small graph, walked breadth first.
        ada, engines, london = client.upsert_entities(
            [
                EntityInput("person", "ada", {"name": "Ada Lovelace", "born": 1815}),
                EntityInput("org", "analytical-engines"),
                EntityInput("place", "london"),
            ]
        )
        client.add_edges(
            [Edge(ada.id, engines.id, "works_at", {"since": 1843}), Edge(engines.id, london.id, "located_in")]
        )
        walk = client.traverse([ada.id], max_depth=2)
        print("graph   " + " -> ".join(f"{n.entity.type}/{n.entity.key}" for n in walk.nodes))

        # Moments: a feed, newest first; the iterator follows the cursor.
        now = datetime.now(timezone.utc)
        client.put_moments(
            [
                MomentInput(f"standup {day}", start_time=now - timedelta(days=day), moment_type="meeting")
                for day in range(3)
            ]
        )
        for moment in client.iter_moments(moment_types=["meeting"], page_size=2):
            print(f"moment  {moment.start_time:%Y-%m-%d}  {moment.name}")

        # Chat: an answer from the tenant's memory, its context cited first (the
        # passages quoted when the server has no language model configured).
        answer = ""
        for event in client.chat("When are invoices sent?", top_k=2):
            if isinstance(event, percolate.Citation) and event.resource is not None:
                print(f"cite    [{event.number}] {event.resource.uri}")
            elif isinstance(event, percolate.ChatDelta):
                answer += event.text
            elif isinstance(event, percolate.ChatDone):
                print(f"answer  by {event.model}:\n" + textwrap.indent(answer.strip(), "        "))

        # Uploads: streamed in chunks, verified, ingested by a background job.
        path = Path(__file__).with_name("zebras.md")
        uploaded = client.upload(
            path, tags=["field"], progress=lambda sent, total: print(f"upload  {sent}/{total} bytes")
        )
        job = client.wait_for_job(uploaded.job_id, timeout=120)
        print(f"job     {job.state.name}: {job.result}")
        best = client.search("when do zebras cross the river?", top_k=1).hits[0]
        print(f"found   {best.resource.uri}: {best.resource.content[:60]}...")

        stats = client.tenant_stats()
        print(f"stats   {stats.resources} resources, {stats.entities} entities, {stats.moments} moments")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        args[0] if len(args) > 0 else os.environ.get("PERCOLATE_TARGET", "127.0.0.1:50051"),
        args[1] if len(args) > 1 else os.environ.get("PERCOLATE_TENANT", "quickstart"),
    )
