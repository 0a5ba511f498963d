"""Conversions and error mapping, without a server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest

import percolate
from percolate import _convert, _errors
from percolate._base import parse_target
from percolate.v1 import jobs_pb2


def test_json_round_trip() -> None:
    value = {
        "s": "x",
        "i": 3,
        "big": 2**60,
        "f": 0.25,
        "b": False,
        "n": None,
        "l": [1, "two", [3.5]],
        "o": {"deep": {"er": True}},
    }
    struct = _convert.to_struct(value, "metadata")
    assert struct is not None
    back = _convert.from_struct(struct)
    assert back == {**value, "big": float(2**60)}  # beyond 2**53 a double is not an exact int
    assert isinstance(back["i"], int) and isinstance(back["f"], float)
    assert _convert.to_struct(None, "metadata") is None
    with pytest.raises(TypeError, match=r"metadata\['when'\] is a datetime"):
        _convert.to_struct({"when": datetime.now()}, "metadata")
    with pytest.raises(TypeError, match="keys must be strings"):
        _convert.to_struct({1: "x"}, "metadata")


def test_times() -> None:
    aware = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    stamp = _convert.to_timestamp(aware)
    assert stamp is not None and stamp.ToDatetime(tzinfo=timezone.utc) == aware
    naive = _convert.to_timestamp(datetime(2025, 1, 2))
    assert naive is not None and naive.seconds == int(datetime(2025, 1, 2, tzinfo=timezone.utc).timestamp())


def test_unknown_enum_values_from_a_newer_server() -> None:
    job = _convert.job_out(jobs_pb2.Job(id="j", kind=1, state=99))  # type: ignore[arg-type]
    assert job.state == percolate.JobState.UNSPECIFIED and job.kind == percolate.JobKind.INGEST_DOCUMENT
    assert job.result is None and job.request is None and job.created_at is None and not job.done


def test_error_classes() -> None:
    for code in grpc.StatusCode:
        if code == grpc.StatusCode.OK:
            continue
        error = _errors.error(code, "boom", method="GetJob")
        assert isinstance(error, percolate.PercolateError) and error.code == code and error.message == "boom"
        assert type(error).__name__.lower() == code.name.replace("_", "").lower()
        assert str(error) == f"{code.name} (GetJob): boom"
    assert isinstance(_errors.error(grpc.StatusCode.NOT_FOUND, "x"), percolate.NotFound)
    assert str(percolate.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "bad")) == "INVALID_ARGUMENT: bad"


def test_job_states_and_targets() -> None:
    assert [s.name for s in percolate.JobState if s.is_final] == ["SUCCEEDED", "FAILED", "CANCELLED"]
    assert parse_target("127.0.0.1:50051") == ("127.0.0.1:50051", False)
    assert parse_target("http://db:50051/") == ("db:50051", False)
    assert parse_target("https://db.example:443") == ("db.example:443", True)


def test_public_api_has_no_generated_types() -> None:
    import inspect
    import typing

    for client_class in (percolate.Client, percolate.AsyncClient):
        for name, method in inspect.getmembers(client_class, inspect.isfunction):
            if name.startswith("_"):
                continue
            assert method.__doc__, f"{client_class.__name__}.{name} has no docstring"
            hints = typing.get_type_hints(method)
            assert not any("_pb2" in repr(hint) for hint in hints.values()), (name, hints)


def test_chat_request_and_events() -> None:
    from percolate.v1 import database_pb2, rem_pb2

    when = datetime(2025, 1, 2, tzinfo=timezone.utc)
    request = _convert.chat(
        "and then?",
        [
            percolate.ChatMessage(percolate.ChatRole.SYSTEM, "Be brief."),
            percolate.ChatMessage(percolate.ChatRole.USER, "hi"),
        ],
        3,
        percolate.ResourceFilter(tags_any=["a"]),
        False,
        None,
        when,
        None,
        "m",
        0.0,
        7,
        100,
        -1.0,
        0,
        2,
        True,
    )
    assert [(t.role, t.content) for t in request.messages] == [
        (database_pb2.CHAT_ROLE_SYSTEM, "Be brief."),
        (database_pb2.CHAT_ROLE_USER, "hi"),
    ]
    assert (request.question, request.top_k, request.model) == ("and then?", 3, "m")
    assert list(request.filter.tags_any) == ["a"]
    # Unset optional fields leave the server's defaults; set ones are sent even when zero or false.
    assert request.HasField("include_entities") and not request.include_entities
    assert not request.HasField("include_moments") and not request.HasField("moments_before")
    assert request.HasField("temperature") and request.temperature == 0.0
    assert request.HasField("min_score") and request.min_score == -1.0
    assert request.moments_after.ToDatetime(tzinfo=timezone.utc) == when
    settings = (request.max_tokens, request.context_tokens, request.max_moments, request.record_moment)
    assert settings == (7, 100, 2, True)
    bare = _convert.chat(None, None, 0, None, None, None, None, None, "", None, 0, 0, None, 0, 0, False)
    assert bare == database_pb2.ChatRequest()

    entity = rem_pb2.Entity(id="e", type="person", key="ada")
    event = _convert.chat_event(
        database_pb2.ChatEvent(citation=database_pb2.Citation(number=2, entity=entity, reason="named in the question"))
    )
    assert isinstance(event, percolate.Citation) and event.resource is None and event.moment is None
    assert event.entity is not None and event.source is event.entity and event.entity.key == "ada"
    assert (event.number, event.score, event.reason) == (2, 0.0, "named in the question")
    moment = _convert.chat_event(
        database_pb2.ChatEvent(citation=database_pb2.Citation(number=3, moment=rem_pb2.Moment(id="m", name="standup")))
    )
    assert isinstance(moment, percolate.Citation) and moment.moment is not None and moment.moment.name == "standup"
    unknown = _convert.chat_event(database_pb2.ChatEvent(citation=database_pb2.Citation(number=4)))
    assert isinstance(unknown, percolate.Citation) and unknown.source is None
    done = _convert.chat_event(database_pb2.ChatEvent(done=database_pb2.ChatDone(model="extractive", extractive=True)))
    assert done == percolate.ChatDone("extractive", True, None, 0, 0, 0)
    recorded = _convert.chat_event(database_pb2.ChatEvent(done=database_pb2.ChatDone(moment_id="x", omitted_items=2)))
    assert isinstance(recorded, percolate.ChatDone) and (recorded.moment_id, recorded.omitted_items) == ("x", 2)
    assert _convert.chat_event(database_pb2.ChatEvent()) is None
