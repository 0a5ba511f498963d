//! Bad input gets the right status code and changes nothing.

mod common;

use common::DbProcess;
use percolate_sdk::{Client, EntityInput, ResourceInput, pb};
use tonic::Code;

async fn status_of<T>(result: Result<T, percolate_sdk::Error>) -> Code {
    match result {
        Ok(_) => panic!("call succeeded but should have failed"),
        Err(e) => e.code().unwrap_or_else(|| panic!("not a status error: {e}")),
    }
}

#[tokio::test]
async fn bad_tenant_ids_are_rejected_before_touching_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let good = db.client("good").await;
    let long = "a".repeat(200);
    for tenant in ["../x", "..", "", "Acme", "a/b", long.as_str(), "-x", "x y"] {
        let client = match good.with_tenant(tenant) {
            Ok(client) => client,
            Err(_) => continue, // not even sendable as metadata
        };
        let code = status_of(client.put_resources(vec![ResourceInput::new("doc://a", "x")], false).await).await;
        assert_eq!(code, Code::InvalidArgument, "tenant {tenant:?}");
        let code = status_of(client.tenant_stats().await).await;
        assert_eq!(code, Code::InvalidArgument, "tenant {tenant:?}");
    }
    let tenants: Vec<_> = std::fs::read_dir(dir.path().join("tenants")).expect("tenants dir").collect();
    assert!(tenants.is_empty(), "no tenant directory was created: {tenants:?}");
    assert!(!dir.path().join("x").exists());
}

#[tokio::test]
async fn missing_tenant_metadata_is_invalid_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("good").await;
    let bare = tonic::Request::new(pb::GetTenantStatsRequest {});
    let err = client.raw().get_tenant_stats(bare).await.expect_err("no tenant");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("x-tenant-id"), "{}", err.message());
}

async fn assert_unchanged(client: &Client, before: &pb::TenantStats) {
    let after = client.tenant_stats().await.expect("stats");
    assert_eq!((after.resources, after.embedded_resources, after.entities, after.moments), (before.resources, before.embedded_resources, before.entities, before.moments));
}

#[tokio::test]
async fn bad_writes_are_rejected_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("acme").await;
    client.put_resources(vec![ResourceInput::new("doc://a", "first").embedding(vec![1.0, 0.0, 0.0])], false).await.expect("put");
    let before = client.tenant_stats().await.expect("stats");

    // A good chunk and a wrong-sized one: the whole batch is refused.
    let mixed = vec![ResourceInput::new("doc://b", "fine").embedding(vec![0.0, 1.0, 0.0]), ResourceInput::new("doc://b", "wrong").ordinal(1).embedding(vec![1.0, 0.0])];
    assert_eq!(status_of(client.put_resources(mixed, false).await).await, Code::InvalidArgument);
    let nan = vec![ResourceInput::new("doc://c", "nan").embedding(vec![f32::NAN, 0.0, 0.0])];
    assert_eq!(status_of(client.put_resources(nan, false).await).await, Code::InvalidArgument);
    let oversized: Vec<_> = (0..1001).map(|i| ResourceInput::new("doc://big", "x").ordinal(i)).collect();
    assert_eq!(status_of(client.put_resources(oversized, false).await).await, Code::InvalidArgument);
    let no_uri = vec![ResourceInput::new("", "no uri")];
    assert_eq!(status_of(client.put_resources(no_uri, false).await).await, Code::InvalidArgument);
    let metadata_nan = vec![ResourceInput(pb::Resource {
        uri: "doc://m".into(),
        metadata: Some(prost_types::Struct { fields: [("x".to_string(), prost_types::Value { kind: Some(prost_types::value::Kind::NumberValue(f64::NAN)) })].into() }),
        ..Default::default()
    })];
    assert_eq!(status_of(client.put_resources(metadata_nan, false).await).await, Code::InvalidArgument);
    // One message over the 16 MiB limit.
    let huge = vec![ResourceInput::new("doc://huge", "x".repeat(17 << 20))];
    assert_eq!(status_of(client.put_resources(huge, false).await).await, Code::OutOfRange);

    assert_eq!(status_of(client.search_vector(vec![1.0, 0.0], 5).await).await, Code::InvalidArgument);
    assert_eq!(status_of(client.search_vector(vec![f32::INFINITY, 0.0, 0.0], 5).await).await, Code::InvalidArgument);
    assert_eq!(status_of(client.get_resources(vec!["not-a-uuid".into()]).await).await, Code::InvalidArgument);
    assert_eq!(status_of(client.upsert_entities(vec![EntityInput::new("", "k")]).await).await, Code::InvalidArgument);
    let dup = vec![EntityInput::new("t", "k"), EntityInput::new("t", "k")];
    assert_eq!(status_of(client.upsert_entities(dup).await).await, Code::InvalidArgument);
    let no_start = pb::PutMomentsRequest { moments: vec![pb::Moment { name: "no start".into(), ..Default::default() }], durability: 0 };
    assert_eq!(client.raw().put_moments(client.request(no_start)).await.expect_err("no start").code(), Code::InvalidArgument);
    let bad_page = pb::ListMomentsRequest { cursor: "zz".into(), ..Default::default() };
    assert_eq!(status_of(client.list_moments(bad_page).await).await, Code::InvalidArgument);
    let too_deep = pb::TraverseRequest { start_ids: vec![uuid::Uuid::nil().to_string()], max_depth: 11, ..Default::default() };
    assert_eq!(status_of(client.traverse(too_deep).await).await, Code::InvalidArgument);
    let replicated = pb::PutResourcesRequest { resources: vec![ResourceInput::new("doc://r", "x").0], durability: pb::Durability::Replicated as i32, ..Default::default() };
    assert_eq!(client.raw().put_resources(client.request(replicated)).await.expect_err("no replication").code(), Code::FailedPrecondition);

    assert_unchanged(&client, &before).await;
    assert_eq!(client.search_vector(vec![1.0, 0.0, 0.0], 10).await.expect("search").len(), 1);
}
