//! Every `Database` RPC driven through the Rust SDK against a real
//! `percolate-db` process.

mod common;

use common::DbProcess;
use percolate_sdk::{EntityInput, MomentInput, ResourceInput, pb, struct_to_json};
use serde_json::json;
use tonic::Code;

fn vector_query(values: Vec<f32>, top_k: u32, filter: Option<pb::ResourceFilter>) -> pb::SearchResourcesRequest {
    pb::SearchResourcesRequest { query: Some(pb::search_resources_request::Query::Vector(pb::Vector { values })), top_k, filter, ..Default::default() }
}

#[tokio::test]
async fn resources_round_trip_search_and_replace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("acme").await;

    let written = client
        .put_resources(
            vec![
                ResourceInput::new("doc://guide", "install with two commands").embedding(vec![1.0, 0.0, 0.0]).tags(["docs"]).metadata(json!({"page": 1})),
                ResourceInput::new("doc://guide", "run the tests").ordinal(1).embedding(vec![0.0, 1.0, 0.0]).tags(["docs"]),
                ResourceInput::new("blog://launch", "we launched").embedding(vec![0.9, 0.1, 0.0]).tags(["blog"]).content_type("text/markdown"),
            ],
            false,
        )
        .await
        .expect("put");
    assert_eq!(written.ids.len(), 3);

    let got = client.get_resources(vec![written.ids[0].clone(), "00000000-0000-0000-0000-000000000000".into()]).await.expect("get");
    assert_eq!(got.resources[0].content, "install with two commands");
    assert_eq!(struct_to_json(got.resources[0].metadata.as_ref().expect("metadata")), json!({"page": 1.0}));
    assert_eq!(got.missing_ids, vec!["00000000-0000-0000-0000-000000000000".to_string()]);
    assert_eq!(client.get_uri("doc://guide").await.expect("by uri").len(), 2);

    let hits = client.search_vector(vec![1.0, 0.05, 0.0], 2).await.expect("search");
    assert_eq!(hits.iter().map(|h| h.resource.as_ref().expect("resource").uri.as_str()).collect::<Vec<_>>(), vec!["doc://guide", "blog://launch"]);
    assert!(hits[0].score > 0.99);

    let filtered = client.search(vector_query(vec![1.0, 0.0, 0.0], 10, Some(pb::ResourceFilter { tags_all: vec!["blog".into()], ..Default::default() }))).await.expect("search");
    assert_eq!(filtered.hits.len(), 1);
    assert_eq!(filtered.candidates, 1);
    let by_type = client.search(vector_query(vec![1.0, 0.0, 0.0], 10, Some(pb::ResourceFilter { content_types: vec!["text/markdown".into()], ..Default::default() }))).await.expect("search");
    assert_eq!(by_type.hits.len(), 1);
    let future = prost_types::Timestamp { seconds: 4_000_000_000, nanos: 0 };
    let none = client.search(vector_query(vec![1.0, 0.0, 0.0], 10, Some(pb::ResourceFilter { created_after: Some(future), ..Default::default() }))).await.expect("search");
    assert!(none.hits.is_empty());

    let replaced = client.put_resources(vec![ResourceInput::new("doc://guide", "one chunk now").embedding(vec![0.0, 0.0, 1.0])], true).await.expect("replace");
    assert_eq!(replaced.replaced_chunks, 1);
    assert_eq!(client.get_uri("doc://guide").await.expect("by uri").iter().map(|r| r.content.as_str()).collect::<Vec<_>>(), vec!["one chunk now"]);

    assert_eq!(client.delete_resources(vec![], vec!["blog://launch".into()]).await.expect("delete"), 1);
    let stats = client.tenant_stats().await.expect("stats");
    assert_eq!((stats.resources, stats.embedded_resources, stats.vector_dimension), (1, 1, 3));
    assert_eq!(stats.tenant_id, "acme");
}

#[tokio::test]
async fn entities_edges_and_traversal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("graph").await;

    let stored = client.upsert_entities(vec![EntityInput::new("person", "ada").properties(json!({"name": "Ada", "born": 1815}))]).await.expect("upsert");
    let ada = stored[0].id.clone();
    let merged = client.upsert_entities(vec![EntityInput::new("person", "ada").properties(json!({"field": "maths", "born": null}))]).await.expect("merge");
    assert_eq!(struct_to_json(merged[0].properties.as_ref().expect("props")), json!({"name": "Ada", "field": "maths"}));
    assert_eq!(merged[0].id, ada, "ids are deterministic from (type, key)");

    let others = client.upsert_entities(vec![EntityInput::new("org", "analytical-engines"), EntityInput::new("person", "charles")]).await.expect("upsert");
    let (org, charles) = (others[0].id.clone(), others[1].id.clone());
    assert_eq!(client.add_edge(&ada, "works_at", &org).await.expect("edge"), 1);
    client.add_edge(&charles, "works_at", &org).await.expect("edge");
    client.add_edge(&ada, "knows", &charles).await.expect("edge");

    let fetched = client.get_entity("person", "ada").await.expect("get").expect("exists");
    assert_eq!(fetched.edges.len(), 2);
    let by_id = client.get_entities(vec![org.clone()], false).await.expect("get");
    assert_eq!(by_id.entities[0].key, "analytical-engines");

    let walk = client
        .traverse(pb::TraverseRequest { start_ids: vec![ada.clone()], max_depth: 2, direction: pb::Direction::Outgoing as i32, rel_types: vec!["knows".into()], limit: 0 })
        .await
        .expect("traverse");
    assert_eq!(walk.nodes.iter().map(|n| (n.entity.as_ref().expect("entity").key.as_str(), n.depth)).collect::<Vec<_>>(), vec![("ada", 0), ("charles", 1)]);
    let two_hop = client
        .traverse(pb::TraverseRequest { start_ids: vec![ada.clone()], max_depth: 2, direction: pb::Direction::Both as i32, rel_types: vec![], limit: 0 })
        .await
        .expect("traverse");
    assert_eq!(two_hop.nodes.len(), 3);
    assert_eq!(two_hop.edges.len(), 3);

    assert_eq!(client.remove_edge(&ada, "knows", &charles).await.expect("remove"), 1);
    assert_eq!(client.delete_entities(vec![org.clone()]).await.expect("delete"), 1);
    assert!(client.get_entities(vec![org.clone()], false).await.expect("get").entities.is_empty());
    let err = client.add_edge(&ada, "works_at", &org).await.expect_err("org is gone");
    assert_eq!(err.code(), Some(Code::NotFound));
}

#[tokio::test]
async fn moments_feed_pages_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let client = db.client("feed").await;
    let moments: Vec<MomentInput> = (0..30).map(|i| MomentInput::new(format!("event {i}")).start_seconds(1_700_000_000 + i).moment_type(if i % 3 == 0 { "meeting" } else { "note" })).collect();
    let ids = client.put_moments(moments).await.expect("put");
    assert_eq!(ids.len(), 30);
    let fetched = client.get_moments(vec![ids[0].clone()]).await.expect("get");
    assert_eq!(fetched.moments[0].name, "event 0");

    let first = client.list_moments(pb::ListMomentsRequest { page_size: 7, ..Default::default() }).await.expect("page");
    assert_eq!(first.moments[0].name, "event 29");
    assert!(first.next_cursor.is_some());
    let all = client.all_moments(pb::ListMomentsRequest { page_size: 7, ..Default::default() }).await.expect("all");
    let starts: Vec<i64> = all.iter().map(|m| m.start_time.as_ref().expect("start").seconds).collect();
    assert_eq!(starts, (0..30).rev().map(|i| 1_700_000_000 + i).collect::<Vec<_>>());
    let meetings = client.all_moments(pb::ListMomentsRequest { moment_types: vec!["meeting".into()], page_size: 4, ..Default::default() }).await.expect("meetings");
    assert_eq!(meetings.len(), 10);

    assert_eq!(client.delete_moments(vec![ids[29].clone()]).await.expect("delete"), 1);
    let first = client.list_moments(pb::ListMomentsRequest { page_size: 1, ..Default::default() }).await.expect("page");
    assert_eq!(first.moments[0].name, "event 28");
}

#[tokio::test]
async fn two_tenants_never_see_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start(dir.path());
    let (alice, bob) = (db.client("alice").await, db.client("bob").await);
    let written = alice.put_resources(vec![ResourceInput::new("doc://private", "alice only").embedding(vec![1.0, 0.0])], false).await.expect("put");
    alice.upsert_entities(vec![EntityInput::new("secret", "x")]).await.expect("upsert");
    alice.put_moments(vec![MomentInput::new("alice's day")]).await.expect("moment");
    assert_eq!(bob.get_resources(written.ids.clone()).await.expect("get").missing_ids, written.ids);
    assert!(bob.search_vector(vec![1.0, 0.0], 10).await.expect("search").is_empty());
    assert!(bob.get_entity("secret", "x").await.expect("get").is_none());
    assert!(bob.list_moments(pb::ListMomentsRequest::default()).await.expect("feed").moments.is_empty());
    assert_eq!(bob.tenant_stats().await.expect("stats").resources, 0);
}
