//! Storage engine behaviour through its public API, on real RocksDB.

use std::time::Duration;

use percolate_rem::ids::{entity_id, resource_id};
use percolate_rem::model::{EdgeWrite, EntityWrite, MomentData, PropertyWrite, ResourceData};
use percolate_rem::mutation::{AddEdges, DeleteResources, IdList, PutMoments, PutResources, RemoveEdges, UpsertEntities};
use percolate_rem::{Direction, FeedQuery, Metric, Op, RemError, SearchFilter, SearchQuery, StoreConfig, TenantId, TenantStore, TraverseQuery};
use uuid::Uuid;

fn store(dir: &tempfile::TempDir) -> TenantStore {
    TenantStore::open(StoreConfig::new(dir.path())).expect("store opens")
}

fn tenant_id(name: &str) -> TenantId {
    TenantId::parse(name).expect("valid tenant id")
}

fn chunk(uri: &str, ordinal: u32, content: &str, embedding: Vec<f32>) -> ResourceData {
    ResourceData { uri: uri.into(), chunk_ordinal: ordinal, content: content.into(), content_type: "text/plain".into(), embedding, created_at: 1_000, ..Default::default() }
}

fn put(chunks: Vec<ResourceData>, replace: bool) -> Op {
    Op::PutResources(PutResources { resources: chunks, replace_uris: replace, embedding_model: String::new() })
}

fn upsert(entity_type: &str, key: &str, props: &[(&str, Option<&str>)]) -> Op {
    let properties = props.iter().map(|(n, v)| PropertyWrite { name: n.to_string(), value_json: v.map(str::to_string) }).collect();
    Op::UpsertEntities(UpsertEntities { entities: vec![EntityWrite { entity_type: entity_type.into(), key: key.into(), properties }] })
}

fn edge(src: Uuid, rel: &str, dst: Uuid) -> EdgeWrite {
    EdgeWrite { src: src.as_bytes().to_vec(), dst: dst.as_bytes().to_vec(), rel_type: rel.into(), ..Default::default() }
}

fn search(vector: Vec<f32>, k: usize) -> SearchQuery {
    SearchQuery { vector, top_k: k, ..Default::default() }
}

#[test]
fn resources_put_get_search_and_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    t.write(put(vec![chunk("doc://a", 0, "alpha", vec![1.0, 0.0, 0.0]), chunk("doc://a", 1, "beta", vec![0.0, 1.0, 0.0]), chunk("doc://b", 0, "gamma", vec![0.7, 0.7, 0.0])], false)).expect("put");

    let got = t.get_resources(&[resource_id("doc://a", 1)], false).expect("get");
    assert_eq!(got[0].as_ref().expect("exists").data.content, "beta");
    assert_eq!(t.resources_by_uri("doc://a", false).expect("by uri").len(), 2);

    let result = t.search(&search(vec![1.0, 0.1, 0.0], 2)).expect("search");
    assert_eq!(result.hits.len(), 2);
    assert_eq!(result.hits[0].0.data.content, "alpha");
    assert_eq!(result.hits[1].0.data.content, "gamma");
    assert!(result.hits[0].1 > result.hits[1].1);

    let filtered = SearchQuery { filter: SearchFilter { uri_prefix: "doc://b".into(), ..Default::default() }, ..search(vec![1.0, 0.0, 0.0], 5) };
    let result = t.search(&filtered).expect("search");
    assert_eq!(result.candidates, 1);
    assert_eq!(result.hits[0].0.data.content, "gamma");

    let chunks = t.chunk_refs(&[resource_id("doc://a", 0)]).expect("refs").into_iter().flatten().collect();
    let outcome = t.write(Op::DeleteResources(DeleteResources { chunks, uris: vec![] })).expect("delete");
    assert_eq!(outcome.report.resources_deleted, 1);
    assert!(t.get_resources(&[resource_id("doc://a", 0)], false).expect("get")[0].is_none());
    assert_eq!(t.search(&search(vec![1.0, 0.0, 0.0], 10)).expect("search").hits.len(), 2);
    assert_eq!(t.counters().expect("counters").resources, 2);
}

#[test]
fn replacing_a_uri_leaves_no_stale_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    let three: Vec<_> = (0..3).map(|i| chunk("doc://r", i, &format!("v1 chunk {i}"), vec![1.0, i as f32 + 1.0])).collect();
    t.write(put(three, true)).expect("put v1");
    let outcome = t.write(put(vec![chunk("doc://r", 0, "v2 only chunk", vec![1.0, 0.5])], true)).expect("put v2");
    assert_eq!(outcome.report.resources_deleted, 2, "chunks 1 and 2 are replaced away");
    let chunks = t.resources_by_uri("doc://r", false).expect("by uri");
    assert_eq!(chunks.iter().map(|r| r.data.content.as_str()).collect::<Vec<_>>(), vec!["v2 only chunk"]);
    assert_eq!(t.search(&search(vec![1.0, 1.0], 10)).expect("search").hits.len(), 1);
    let counters = t.counters().expect("counters");
    assert_eq!((counters.resources, counters.embedded), (1, 1));
}

#[test]
fn wrong_dimension_nan_and_oversized_batches_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    t.write(put(vec![chunk("doc://a", 0, "a", vec![1.0, 0.0, 0.0])], false)).expect("put");
    let before = t.dump().expect("dump");
    let bad_batches = vec![
        vec![chunk("doc://b", 0, "ok", vec![1.0, 0.0, 0.0]), chunk("doc://b", 1, "wrong size", vec![1.0, 0.0])],
        vec![chunk("doc://c", 0, "nan", vec![f32::NAN, 0.0, 0.0])],
        vec![chunk("doc://c", 0, "inf", vec![f32::INFINITY, 0.0, 0.0])],
        vec![chunk("", 0, "no uri", vec![])],
        (0..1001).map(|i| chunk("doc://big", i, "x", vec![])).collect(),
    ];
    for batch in bad_batches {
        let err = t.write(put(batch, false)).expect_err("rejected");
        assert!(matches!(err, RemError::InvalidArgument(_)), "{err}");
    }
    assert_eq!(t.dump().expect("dump"), before, "nothing was written");
}

#[test]
fn entity_properties_merge_field_by_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    t.write(upsert("person", "ada", &[("name", Some("\"Ada\"")), ("born", Some("1815"))])).expect("upsert");
    t.write(upsert("person", "ada", &[("field", Some("\"maths\"")), ("born", None)])).expect("merge");
    let ada = t.get_entity(entity_id("person", "ada"), false).expect("get").expect("exists");
    assert_eq!(serde_json::Value::Object(ada.properties), serde_json::json!({"name": "Ada", "field": "maths"}));
    assert_eq!(t.counters().expect("counters").entities, 1);
}

#[test]
fn edges_traversal_and_entity_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    for key in ["a", "b", "c", "d"] {
        t.write(upsert("node", key, &[])).expect("upsert");
    }
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|k| entity_id("node", k));
    t.write(Op::AddEdges(AddEdges { edges: vec![edge(a, "knows", b), edge(b, "knows", c), edge(c, "likes", d)] })).expect("edges");

    let walk = |start, depth, direction, rels: &[&str]| {
        let q = TraverseQuery { start: vec![start], max_depth: depth, direction, rel_types: rels.iter().map(|s| s.to_string()).collect(), limit: 100 };
        t.traverse(&q).expect("traverse").nodes.into_iter().map(|(e, depth)| (e.key, depth)).collect::<Vec<_>>()
    };
    assert_eq!(walk(a, 2, Direction::Outgoing, &[]), vec![("a".into(), 0), ("b".into(), 1), ("c".into(), 2)]);
    assert_eq!(walk(a, 5, Direction::Outgoing, &["knows"]), vec![("a".into(), 0), ("b".into(), 1), ("c".into(), 2)]);
    assert_eq!(walk(d, 5, Direction::Incoming, &[]), vec![("d".into(), 0), ("c".into(), 1), ("b".into(), 2), ("a".into(), 3)]);
    assert_eq!(walk(c, 1, Direction::Both, &[]).len(), 3);

    let limited = t.traverse(&TraverseQuery { start: vec![a], max_depth: 5, limit: 2, ..Default::default() }).expect("traverse");
    assert!(limited.truncated);
    assert_eq!(limited.nodes.len(), 2);

    let removed = t.write(Op::RemoveEdges(RemoveEdges { edges: vec![edge(a, "knows", b)] })).expect("remove");
    assert_eq!(removed.report.edges_removed, 1);
    assert_eq!(walk(a, 3, Direction::Outgoing, &[]).len(), 1);

    t.write(Op::DeleteEntities(IdList { ids: vec![b.as_bytes().to_vec()] })).expect("delete");
    assert!(t.get_entity(b, true).expect("get").is_none());
    assert!(t.edges_to(c, &[]).expect("edges").is_empty(), "b's outgoing edges went with it");
    let err = t.write(Op::AddEdges(AddEdges { edges: vec![edge(a, "knows", b)] })).expect_err("dst is gone");
    assert!(matches!(err, RemError::NotFound(_)));
}

fn moment(start: i64, kind: &str, tags: &[&str]) -> MomentData {
    MomentData { id: Uuid::now_v7().as_bytes().to_vec(), name: format!("m{start}"), start_time: start, moment_type: kind.into(), tags: tags.iter().map(|s| s.to_string()).collect(), ..Default::default() }
}

#[test]
fn moment_feed_is_newest_first_with_cursor_paging_and_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    let moments: Vec<_> = (0..25).map(|i| moment(i * 10, if i % 2 == 0 { "even" } else { "odd" }, if i % 5 == 0 { &["five"] } else { &[] })).collect();
    t.write(Op::PutMoments(PutMoments { moments })).expect("put");

    let mut query = FeedQuery { page_size: 10, ..Default::default() };
    let mut starts = Vec::new();
    loop {
        let (page, cursor) = t.list_moments(&query).expect("page");
        starts.extend(page.iter().map(|m| m.start_time));
        match cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(starts, (0..25).rev().map(|i| i * 10).collect::<Vec<_>>());

    let ranged = FeedQuery { start_after: Some(50), start_before: Some(100), page_size: 100, ..Default::default() };
    let (page, cursor) = t.list_moments(&ranged).expect("page");
    assert_eq!(page.iter().map(|m| m.start_time).collect::<Vec<_>>(), vec![90, 80, 70, 60, 50]);
    assert!(cursor.is_none());

    let typed = FeedQuery { moment_types: vec!["odd".into()], tags: vec![], page_size: 100, ..Default::default() };
    assert_eq!(t.list_moments(&typed).expect("page").0.len(), 12);
    let tagged = FeedQuery { tags: vec!["five".into()], page_size: 100, ..Default::default() };
    assert_eq!(t.list_moments(&tagged).expect("page").0.iter().map(|m| m.start_time).collect::<Vec<_>>(), vec![200, 150, 100, 50, 0]);

    let bad = FeedQuery { cursor: Some("zz".into()), page_size: 10, ..Default::default() };
    assert!(matches!(t.list_moments(&bad), Err(RemError::InvalidArgument(_))));
}

#[test]
fn tenants_never_see_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let (one, two) = (store.tenant(&tenant_id("one")).expect("t1"), store.tenant(&tenant_id("two")).expect("t2"));
    one.write(put(vec![chunk("doc://secret", 0, "one's secret", vec![1.0, 0.0])], false)).expect("put");
    one.write(upsert("person", "ada", &[])).expect("upsert");
    assert!(two.get_resources(&[resource_id("doc://secret", 0)], false).expect("get")[0].is_none());
    assert!(two.search(&search(vec![1.0, 0.0], 10)).expect("search").hits.is_empty());
    assert!(two.get_entity(entity_id("person", "ada"), false).expect("get").is_none());
    assert!(dir.path().join("tenants/one").is_dir() && dir.path().join("tenants/two").is_dir());
}

#[test]
fn data_and_vectors_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = store(&dir);
        let t = store.tenant(&tenant_id("acme")).expect("tenant");
        t.write(put(vec![chunk("doc://a", 0, "kept", vec![0.0, 1.0])], false)).expect("put");
        drop(t);
        store.close_all();
    }
    let store = store(&dir);
    let t = store.tenant(&tenant_id("acme")).expect("tenant");
    assert_eq!(t.dimension(), 2);
    let hits = t.search(&SearchQuery { metric: Metric::Dot, ..search(vec![0.0, 1.0], 1) }).expect("search").hits;
    assert_eq!(hits[0].0.data.content, "kept");
}

#[test]
fn open_tenants_are_bounded_and_idle_ones_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig { max_open_tenants: 3, idle_timeout: Duration::from_millis(1), ..StoreConfig::new(dir.path()) };
    let store = TenantStore::open(config).expect("store");
    for i in 0..6 {
        let t = store.tenant(&tenant_id(&format!("t{i}"))).expect("tenant");
        t.write(upsert("n", "k", &[])).expect("write");
    }
    assert!(store.open_tenants() <= 3, "LRU keeps at most 3 open, has {}", store.open_tenants());
    assert_eq!(store.active_tenants(Duration::from_secs(300)), 6);
    let held = store.tenant(&tenant_id("t5")).expect("tenant");
    std::thread::sleep(Duration::from_millis(5));
    store.evict_idle();
    assert_eq!(store.open_tenants(), 1, "only the tenant in use stays open");
    assert!(held.entity_exists(entity_id("n", "k")).expect("read"));
    drop(held);
    // A closed tenant reopens with its data.
    assert!(store.tenant(&tenant_id("t0")).expect("reopen").entity_exists(entity_id("n", "k")).expect("read"));
    let stats = store.cache_stats();
    assert!(stats.misses >= 7 && stats.hits >= 1, "{stats:?}");
}

#[test]
fn concurrent_first_use_opens_a_tenant_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(store(&dir));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.tenant(&tenant_id("shared")).map(|_| ()))
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread").expect("every caller gets the tenant");
    }
    assert_eq!(store.cache_stats().misses, 1);
}

#[test]
fn embeddings_are_set_only_on_the_version_that_was_embedded() {
    use percolate_rem::mutation::{ChunkEmbedding, SetEmbeddings};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let t = store.tenant(&tenant_id("fill")).expect("tenant");
    t.write(put(vec![chunk("doc://a", 0, "alpha", vec![]), chunk("doc://a", 1, "beta", vec![]), chunk("doc://b", 0, " ", vec![])], false)).expect("put");
    let found = t.unembedded_chunks(None, 10).expect("scan");
    assert_eq!(found.len(), 2, "the blank chunk has nothing to embed");
    let after_first = t.unembedded_chunks(Some(found[0].id), 10).expect("scan");
    assert_eq!(after_first.len(), 1);

    // doc://a#1 is rewritten after it was read for embedding: its newer text
    // must not get the old text's vector.
    t.write(put(vec![chunk("doc://a", 1, "beta, rewritten", vec![])], false)).expect("rewrite");
    let fill = |chunks: &[percolate_rem::UnembeddedChunk], model: &str| {
        Op::SetEmbeddings(SetEmbeddings {
            items: chunks.iter().map(|c| ChunkEmbedding { chunk: Some(c.chunk.clone()), version: c.version.clone(), embedding: vec![1.0, 0.0] }).collect(),
            embedding_model: model.into(),
        })
    };
    let outcome = t.write(fill(&found, "model-a")).expect("set");
    assert_eq!(outcome.report.resources_embedded, 1);
    assert_eq!(t.write(fill(&found, "model-a")).expect("again").report.resources_embedded, 0, "idempotent");
    let counters = t.counters().expect("counters");
    assert_eq!((counters.resources, counters.embedded), (3, 1));
    assert_eq!(t.embedding_model().expect("model").as_deref(), Some("model-a"));
    let hit = t.search(&search(vec![1.0, 0.0], 5)).expect("search");
    assert_eq!(hit.hits.len(), 1);
    assert_eq!(hit.hits[0].0.data.content, "alpha");
    assert!(hit.hits[0].0.has_embedding);
    assert_eq!(hit.pending_embeddings, 2);

    let left = t.unembedded_chunks(None, 10).expect("scan");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].content, "beta, rewritten");
    let err = t.write(fill(&left, "model-b")).expect_err("other model");
    assert!(matches!(err, RemError::FailedPrecondition(_)), "{err:?}");
    let nan = Op::SetEmbeddings(SetEmbeddings {
        items: vec![ChunkEmbedding { chunk: Some(left[0].chunk.clone()), version: left[0].version.clone(), embedding: vec![f32::NAN, 0.0] }],
        embedding_model: "model-a".into(),
    });
    assert!(matches!(t.write(nan).expect_err("nan"), RemError::InvalidArgument(_)));
    let wrong_dim = Op::SetEmbeddings(SetEmbeddings {
        items: vec![ChunkEmbedding { chunk: Some(left[0].chunk.clone()), version: left[0].version.clone(), embedding: vec![1.0, 0.0, 0.0] }],
        embedding_model: "model-a".into(),
    });
    assert!(t.write(wrong_dim).is_err());
    assert_eq!(t.counters().expect("counters").embedded, 1);
}

#[test]
fn the_outbox_and_the_applied_sequence_are_exactly_once_bookkeeping() {
    use percolate_rem::LoggedOutcome;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig { replicate: true, max_outbox: 3, ..StoreConfig::new(dir.path()) };
    let store = TenantStore::open(config.clone()).expect("store");
    let t = store.tenant(&tenant_id("rep")).expect("tenant");
    let mut written = Vec::new();
    for k in 0..3 {
        written.push(t.write(put(vec![chunk(&format!("doc://{k}"), 0, "x", vec![1.0, 0.0])], false)).expect("write").mutation);
    }
    assert_eq!(t.outbox_depth(), 3);
    let err = t.write(put(vec![chunk("doc://3", 0, "x", vec![1.0, 0.0])], false)).expect_err("outbox full");
    assert!(matches!(err, RemError::Unavailable(_)), "{err:?}");
    let queued = t.outbox(10).expect("outbox");
    assert_eq!(queued.iter().map(|e| e.mutation.clone()).collect::<Vec<_>>(), written, "in write order");
    t.remove_from_outbox(&[queued[0].position]).expect("remove");
    drop(t);
    store.close_all();
    // The outbox survives a reopen; positions keep growing.
    let t = store.tenant(&tenant_id("rep")).expect("reopen");
    assert_eq!(t.outbox_depth(), 2);
    let next = t.write(put(vec![chunk("doc://4", 0, "x", vec![1.0, 0.0])], false)).expect("write").mutation;
    let queued = t.outbox(10).expect("outbox");
    assert_eq!(queued.last().map(|e| (e.position, e.mutation.clone())), Some((3, next)));

    // Another node's copy applies the log exactly once.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = TenantStore::open(StoreConfig::new(other_dir.path())).expect("store");
    let copy = other.tenant(&tenant_id("rep")).expect("tenant");
    for (i, m) in written.iter().enumerate() {
        assert!(matches!(copy.apply_logged(m, i as u64 + 1).expect("apply"), LoggedOutcome::Applied(_)));
    }
    assert!(matches!(copy.apply_logged(&written[0], 1).expect("again"), LoggedOutcome::AlreadyApplied));
    assert_eq!(copy.applied_sequence().expect("seq"), 3);
    assert_eq!(copy.counters().expect("counters").resources, 3);
    // A mutation that cannot apply here (another dimension) is skipped, and
    // the log moves on.
    let odd = percolate_rem::Mutation { id: uuid::Uuid::now_v7().as_bytes().to_vec(), stamp: written[0].stamp.clone(), op: Some(put(vec![chunk("doc://odd", 0, "x", vec![1.0, 0.0, 0.0])], false)) };
    assert!(matches!(copy.apply_logged(&odd, 4).expect("apply"), LoggedOutcome::Rejected(_)));
    assert_eq!(copy.applied_sequence().expect("seq"), 4);
    assert_eq!(copy.dump().expect("dump").iter().filter(|(cf, _, _)| *cf == "replication").count(), 0, "bookkeeping is not state");
}

#[test]
fn a_replicated_write_too_large_for_one_log_message_is_refused_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig { replicate: true, max_mutation_bytes: 20_000, ..StoreConfig::new(dir.path()) };
    let store = TenantStore::open(config).expect("store");
    let t = store.tenant(&tenant_id("big")).expect("tenant");
    let many: Vec<_> = (0..20).map(|k| chunk("doc://big", k, "a chunk of text", vec![0.5; 384])).collect();
    let err = t.write(put(many, false)).expect_err("too large to replicate");
    assert!(matches!(&err, RemError::InvalidArgument(m) if m.contains("split it")), "{err:?}");
    assert!(t.dump().expect("dump").iter().all(|(cf, _, _)| *cf == "meta" || *cf == "replication"), "nothing written");
    assert_eq!((t.outbox_depth(), t.counters().expect("counters").resources), (0, 0));
    let few: Vec<_> = (0..5).map(|k| chunk("doc://big", k, "a chunk of text", vec![0.5; 384])).collect();
    t.write(put(few, false)).expect("a smaller batch fits");
}

#[test]
fn a_checkpoint_is_a_whole_copy_and_the_store_can_replace_a_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TenantStore::open(StoreConfig::new(dir.path())).expect("store");
    let id = tenant_id("copy");
    let t = store.tenant(&id).expect("tenant");
    assert!(!t.changed_since_snapshot().expect("changed"), "a new tenant has nothing to snapshot");
    t.write(put(vec![chunk("doc://a", 0, "alpha", vec![1.0, 0.0])], false)).expect("write");
    assert!(t.changed_since_snapshot().expect("changed"));
    let cut = dir.path().join("cut");
    let info = t.checkpoint(&cut).expect("checkpoint");
    t.mark_snapshot(percolate_rem::SnapshotMarker { db_sequence: info.db_sequence, taken_at_ms: 7 }).expect("mark");
    assert!(!t.changed_since_snapshot().expect("changed"), "the marker's own write does not count");
    assert_eq!(t.snapshot_marker().expect("marker").map(|m| m.taken_at_ms), Some(7));
    let before = t.dump().expect("dump");
    t.write(put(vec![chunk("doc://b", 0, "beta", vec![0.0, 1.0])], false)).expect("write after the cut");
    assert!(t.changed_since_snapshot().expect("changed"));
    drop(t);

    // Replacing the tenant with the checkpoint brings back the state at the cut.
    store.replace(&id, |target| std::fs::rename(&cut, target).map_err(RemError::from)).expect("replace");
    let restored = store.tenant(&id).expect("reopen");
    assert_eq!(restored.dump().expect("dump"), before);
    assert_eq!(restored.counters().expect("counters").resources, 1);
    // A failed replacement puts the copy back.
    drop(restored);
    let err = store.replace(&id, |_| -> Result<(), RemError> { Err(RemError::NotFound("no snapshot".into())) }).expect_err("fails");
    assert!(matches!(err, RemError::NotFound(_)));
    assert_eq!(store.tenant(&id).expect("reopen").dump().expect("dump"), before);
}

#[test]
fn an_entity_read_with_its_edges_leaves_out_edges_to_deleted_entities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TenantStore::open(StoreConfig::new(dir.path())).expect("store");
    let t = store.tenant(&tenant_id("edges")).expect("tenant");
    assert_eq!(t.disk_bytes() > 0, true, "a new tenant has its metadata files");
    let before = t.disk_bytes();
    for key in ["a", "b", "c"] {
        t.write(upsert("thing", key, &[("name", Some("\"x\""))])).expect("upsert");
    }
    let (a, b, c) = (entity_id("thing", "a"), entity_id("thing", "b"), entity_id("thing", "c"));
    t.write(Op::AddEdges(AddEdges { edges: vec![edge(a, "knows", b), edge(a, "knows", c)] })).expect("edges");
    assert!(t.disk_bytes() > before, "writes still in memtables count through the write-ahead log");
    t.write(Op::DeleteEntities(IdList { ids: vec![b.as_bytes().to_vec()] })).expect("delete b");
    let read = t.get_entity(a, true).expect("read").expect("a exists");
    assert_eq!(read.edges.iter().map(|e| e.dst).collect::<Vec<_>>(), vec![c], "the edge to the deleted entity is left out");
}
