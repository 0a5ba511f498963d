//! Process-level behaviour: durability across `kill -9`, reflection the way
//! grpcurl uses it, health and metrics.

mod common;

use common::DbProcess;
use percolate_sdk::{EntityInput, ResourceInput};
use tokio_stream::StreamExt;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("durable").await;
    let mut acked = Vec::new();
    for batch in 0..20u32 {
        let chunks = (0..10).map(|i| ResourceInput::new(format!("doc://{batch}"), format!("chunk {i}")).ordinal(i).embedding(vec![1.0, batch as f32, i as f32])).collect();
        acked.extend(client.put_resources(chunks, false).await.expect("acknowledged").ids);
    }
    client.upsert_entities(vec![EntityInput::new("person", "ada")]).await.expect("acknowledged");
    db.kill_hard();

    let db = DbProcess::start(dir.path());
    let client = db.client("durable").await;
    let got = client.get_resources(acked.clone()).await.expect("get");
    assert!(got.missing_ids.is_empty(), "lost {} acknowledged resources", got.missing_ids.len());
    assert_eq!(got.resources.len(), 200);
    assert!(client.get_entity("person", "ada").await.expect("get").is_some());
    assert_eq!(client.search_vector(vec![1.0, 19.0, 9.0], 1).await.expect("search")[0].resource.as_ref().expect("hit").content, "chunk 9");
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("graceful").await;
    client.upsert_entities(vec![EntityInput::new("person", "grace")]).await.expect("upsert");
    // The client stays connected: shutdown must not wait for it forever.
    let status = tokio::task::spawn_blocking(move || db.terminate()).await.expect("terminated");
    drop(client);
    assert!(status.success(), "exit status {status:?}");

    let db = DbProcess::start(dir.path());
    assert!(db.client("graceful").await.get_entity("person", "grace").await.expect("get").is_some());
}

async fn reflect(client: &mut ServerReflectionClient<tonic::transport::Channel>, request: MessageRequest) -> MessageResponse {
    let outbound = tokio_stream::iter(vec![ServerReflectionRequest { host: String::new(), message_request: Some(request) }]);
    let mut inbound = client.server_reflection_info(outbound).await.expect("reflection stream").into_inner();
    let response: ServerReflectionResponse = inbound.next().await.expect("one response").expect("ok");
    response.message_response.expect("has a response")
}

#[tokio::test]
async fn reflection_lists_and_describes_the_four_services() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let mut client = ServerReflectionClient::new(db.channel().await);

    let MessageResponse::ListServicesResponse(list) = reflect(&mut client, MessageRequest::ListServices(String::new())).await else { panic!("not a service list") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in percolate_proto::SERVICE_NAMES {
        assert!(names.iter().any(|n| n == service), "{service} missing from {names:?}");
    }

    // `grpcurl describe percolate.v1.Database` asks for the file holding the symbol.
    let MessageResponse::FileDescriptorResponse(files) = reflect(&mut client, MessageRequest::FileContainingSymbol("percolate.v1.Database".into())).await else { panic!("not a file descriptor") };
    let file: prost_types::FileDescriptorProto = prost::Message::decode(files.file_descriptor_proto[0].as_slice()).expect("decodes");
    let database = file.service.iter().find(|s| s.name() == "Database").expect("Database in its file");
    let methods: Vec<&str> = database.method.iter().map(|m| m.name()).collect();
    for method in ["PutResources", "SearchResources", "UpsertEntities", "Traverse", "ListMoments", "Chat"] {
        assert!(methods.contains(&method), "{method} missing from {methods:?}");
    }
}

#[tokio::test]
async fn health_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let mut health = tonic_health::pb::health_client::HealthClient::new(db.channel().await);
    let status = health.check(tonic_health::pb::HealthCheckRequest { service: "percolate.v1.Database".into() }).await.expect("health").into_inner();
    assert_eq!(status.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

    let client = db.client("metered").await;
    client.put_resources(vec![ResourceInput::new("doc://m", "x")], false).await.expect("put");
    client.get_resources(vec!["bad".into()]).await.expect_err("invalid id");
    let _ = client.tenant_stats().await.expect("stats");

    let metrics = db.admin_get("/metrics");
    for expected in [
        r#"percolate_grpc_requests_total{method="percolate.v1.Database/PutResources",code="Ok"} 1"#,
        r#"percolate_grpc_requests_total{method="percolate.v1.Database/GetResources",code="InvalidArgument"} 1"#,
        r#"percolate_active_tenants{tier="small"} 1"#,
        "percolate_open_tenants 1",
        "percolate_tenant_cache_misses_total 1",
        "percolate_tenant_cache_hits_total 2",
        r#"percolate_grpc_request_duration_seconds_count{method="percolate.v1.Database/PutResources",code="Ok"} 1"#,
    ] {
        assert!(metrics.contains(expected), "missing {expected:?} in:\n{metrics}");
    }
    assert_eq!(db.admin_get("/healthz"), "ok\n");
}
