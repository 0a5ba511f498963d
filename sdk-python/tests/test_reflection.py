"""The grpcurl path: everything a generic client needs comes from server
reflection. This test works the way `grpcurl` does: it lists the services,
describes methods, builds requests from the descriptors it received (never
from the generated `percolate.v1` modules) and calls them with a generic
unary call."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.conftest import Server, new_tenant

DATABASE_METHODS = {
    "PutResources", "GetResources", "DeleteResources", "SearchResources",
    "UpsertEntities", "GetEntities", "DeleteEntities", "AddEdges", "RemoveEdges", "Traverse",
    "PutMoments", "GetMoments", "DeleteMoments", "ListMoments", "Chat", "GetTenantStats",
}  # fmt: skip


def test_reflection_like_grpcurl(server: Server) -> None:
    tenant = new_tenant()
    with grpc.insecure_channel(server.target) as channel:
        reflection = ProtoReflectionDescriptorDatabase(channel)

        # grpcurl list
        services = set(reflection.get_services())
        assert {
            "percolate.v1.Database",
            "percolate.v1.Jobs",
            "percolate.v1.Upload",
            "grpc.health.v1.Health",
        } <= services

        # grpcurl describe percolate.v1.Database
        pool = descriptor_pool.DescriptorPool(reflection)
        database = pool.FindServiceByName("percolate.v1.Database")
        methods = {method.name: method for method in database.methods}
        assert set(methods) == DATABASE_METHODS
        assert methods["Chat"].server_streaming and not methods["Chat"].client_streaming
        assert methods["PutResources"].input_type.full_name == "percolate.v1.PutResourcesRequest"
        resource = pool.FindMessageTypeByName("percolate.v1.Resource")
        assert resource.fields_by_name["metadata"].message_type.full_name == "google.protobuf.Struct"
        upload = pool.FindServiceByName("percolate.v1.Upload").methods_by_name["Upload"]
        assert upload.client_streaming and not upload.server_streaming
        jobs = pool.FindServiceByName("percolate.v1.Jobs")
        assert jobs.methods_by_name["WatchJob"].server_streaming

        def call(method_name: str, body: dict[str, object]) -> dict[str, object]:
            """grpcurl -H 'x-tenant-id: ...' -d BODY target percolate.v1.Database/METHOD"""
            method = methods[method_name]
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            assert request_class.DESCRIPTOR.file.pool is pool  # built from reflection only
            unary = channel.unary_unary(
                f"/{database.full_name}/{method.name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            answer = unary(json_format.ParseDict(body, request_class()), metadata=[("x-tenant-id", tenant)], timeout=30)
            return json_format.MessageToDict(answer, preserving_proto_field_name=True)

        put = call(
            "PutResources",
            {
                "resources": [
                    {
                        "uri": "note://3",
                        "content": "Invoices go out monthly",
                        "tags": ["billing"],
                        "metadata": {"source": "grpcurl"},
                    }
                ]
            },
        )
        assert len(put["ids"]) == 1 and put["embedded_by_node"] == 1  # type: ignore[arg-type]

        stats = call("GetTenantStats", {})
        assert stats["tenant_id"] == tenant and stats["resources"] == "1"  # uint64 is a string in JSON
        assert stats["vector_dimension"] == 384

        found = call("SearchResources", {"text": "when am I billed?", "top_k": 3})
        (hit,) = found["hits"]  # type: ignore[misc]
        assert hit["resource"]["metadata"] == {"source": "grpcurl"}


def test_reflection_v1_and_v1alpha_agree(server: Server) -> None:
    """grpcurl asks grpc.reflection.v1 first; the messages are the same as v1alpha's."""
    with grpc.insecure_channel(server.target) as channel:
        listed = {}
        for version in ("v1", "v1alpha"):
            info = channel.stream_stream(
                f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            (answer,) = list(info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
            listed[version] = {service.name for service in answer.list_services_response.service}
        # Each version lists itself (not the other one) besides the same services.
        assert listed["v1"] - {"grpc.reflection.v1.ServerReflection"} == listed["v1alpha"] - {
            "grpc.reflection.v1alpha.ServerReflection"
        }
        assert "percolate.v1.Database" in listed["v1"]
