"""Moments: put, get, delete, list one page, and iterate across pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from percolate import InvalidArgument, MomentInput

BASE = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_moments(client: Any) -> None:
    moments = [
        MomentInput(
            f"standup {i}",
            start_time=BASE + timedelta(days=i),
            end_time=BASE + timedelta(days=i, minutes=15),
            summary=f"day {i}",
            moment_type="meeting" if i % 2 else "note",
            tags=["team"] + (["odd"] if i % 2 else []),
            metadata={"day": i},
        )
        for i in range(5)
    ]
    ids = client.put_moments(moments)
    assert len(ids) == 5

    found = client.get_moments([ids[1], "01a22146-6d6b-744d-8f51-85fba87468e7"])
    assert found.missing_ids == ["01a22146-6d6b-744d-8f51-85fba87468e7"]
    (one,) = found.items
    assert (one.id, one.name, one.summary, one.moment_type) == (ids[1], "standup 1", "day 1", "meeting")
    assert one.start_time == BASE + timedelta(days=1) and one.end_time == BASE + timedelta(days=1, minutes=15)
    assert one.tags == ["team", "odd"] and one.metadata == {"day": 1}

    page = client.list_moments(page_size=2)
    assert [m.name for m in page.items] == ["standup 4", "standup 3"] and page.next_cursor
    second = client.list_moments(page_size=2, cursor=page.next_cursor)
    assert [m.name for m in second.items] == ["standup 2", "standup 1"]

    # The iterator follows the cursor across pages, newest first.
    assert [m.name for m in client.iter_moments(page_size=2)] == [f"standup {i}" for i in (4, 3, 2, 1, 0)]
    assert [m.name for m in client.iter_moments(moment_types=["meeting"])] == ["standup 3", "standup 1"]
    assert [m.name for m in client.iter_moments(tags=["team", "odd"], page_size=1)] == ["standup 3", "standup 1"]
    window = client.iter_moments(start_after=BASE + timedelta(days=1), start_before=BASE + timedelta(days=3))
    assert [m.name for m in window] == ["standup 2", "standup 1"]
    last = client.list_moments(page_size=10)
    assert len(last.items) == 5 and last.next_cursor is None

    assert client.delete_moments(ids[:2]) == 2
    assert client.delete_moments(ids[:2]) == 0
    assert len(list(client.iter_moments())) == 3


def test_moment_with_chosen_id_and_refs(client: Any) -> None:
    chosen = "01a22146-6d6b-744d-8f51-85fba87468e7"
    assert client.put_moments([MomentInput("chosen", id=chosen, entity_refs=["e1"], resource_refs=["r1"])]) == [chosen]
    (moment,) = client.get_moments([chosen]).items
    assert (moment.entity_refs, moment.resource_refs) == (["e1"], ["r1"])
    assert moment.start_time is not None and abs(moment.start_time - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_bad_moment(client: Any) -> None:
    with pytest.raises(InvalidArgument):
        client.put_moments([MomentInput("bad id", id="not-a-uuid")])
