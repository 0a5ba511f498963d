"""The ghz configs of loadtest/ghz: each names a real method, its data is a
valid request, and (after loadtest/ghz/seed.py) one call of it succeeds, the
way ghz would make it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor

from percolate.v1 import database_pb2, jobs_pb2, upload_pb2
from tests.conftest import Server, script_env

GHZ = Path(__file__).resolve().parents[2] / "loadtest" / "ghz"
CONFIGS = sorted(GHZ.glob("*.json"))
TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
TEMPLATE = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def render(value: Any, number: int) -> Any:
    """Evaluates ghz's call template actions the way one request would see them."""
    if isinstance(value, str):
        known = {"RequestNumber": str(number), "UUID": str(uuid.uuid4()), "TimestampUnix": "1700000000"}
        return TEMPLATE.sub(lambda match: known[match.group(1)], value)
    if isinstance(value, list):
        return [render(item, number) for item in value]
    if isinstance(value, dict):
        return {key: render(item, number) for key, item in value.items()}
    return value


def method_of(call: str) -> MethodDescriptor:
    """The method named `package.Service.Method` or `package.Service/Method`."""
    service_name, _, method_name = call.replace("/", ".").rpartition(".")
    for module in (database_pb2, jobs_pb2, upload_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.full_name == service_name and method_name in service.methods_by_name:
                return service.methods_by_name[method_name]
    raise AssertionError(f"{call} is not a method of proto/percolate/v1")


def test_there_are_configs_for_the_main_calls() -> None:
    calls = {json.loads(path.read_text())["call"].rpartition(".")[2] for path in CONFIGS}
    assert {"PutResources", "SearchResources", "GetResources", "Traverse", "ListMoments", "GetTenantStats"} <= calls
    searches = [json.loads(p.read_text())["data"] for p in CONFIGS if "SearchResources" in p.read_text()]
    assert any("text" in d for d in searches) and any("vector" in d for d in searches)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_is_valid(path: Path) -> None:
    config = json.loads(path.read_text())
    assert config["insecure"] is True and "proto" not in config  # server reflection, plaintext
    assert (
        isinstance(config["total"], int)
        and isinstance(config["concurrency"], int)
        and config["total"] >= config["concurrency"]
    )
    assert "max-duration" in config, "every run stops by itself"
    assert TENANT.fullmatch(config["metadata"]["x-tenant-id"])
    method = method_of(config["call"])
    assert not method.client_streaming and not method.server_streaming
    request_class = message_factory.GetMessageClass(method.input_type)
    json_format.ParseDict(render(config["data"], 1), request_class())  # raises on unknown fields or bad values


@pytest.fixture(scope="module")
def seeded(server: Server) -> Server:
    subprocess.run(
        [
            sys.executable,
            str(GHZ / "seed.py"),
            server.target,
            "--resources",
            "20",
            "--vectors",
            "50",
            "--people",
            "10",
            "--moments",
            "60",
        ],
        check=True,
        timeout=120,
        env=script_env(),
    )
    return server


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_one_call_of_each_config(seeded: Server, path: Path) -> None:
    config = json.loads(path.read_text())
    method = method_of(config["call"])
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    with grpc.insecure_channel(seeded.target) as channel:
        unary = channel.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        request = json_format.ParseDict(render(config["data"], 1), request_class())
        answer = unary(request, metadata=list(render(config["metadata"], 1).items()), timeout=30)
    name = method.name
    if name == "SearchResources":
        assert len(answer.hits) == 10
    elif name == "GetResources":
        assert len(answer.resources) == 1
    elif name == "Traverse":
        assert {node.depth for node in answer.nodes} == {0, 1, 2}
    elif name == "ListMoments":
        assert len(answer.moments) == 50 and answer.next_cursor
    elif name == "GetTenantStats":
        assert answer.resources >= 20
    elif name == "PutResources":
        assert len(answer.ids) == 1
