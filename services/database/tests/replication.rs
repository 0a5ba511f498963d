//! Replication through a real `nats-server` with JetStream between
//! separate `percolate-db` processes: writes on any node reach every node
//! serving the tenant, conflicting writes converge, and NATS outages and
//! node crashes delay replication without losing acknowledged writes.

mod common;

use std::time::{Duration, Instant};

use common::DbProcess;
use percolate_sdk::{Client, EntityInput, MomentInput, ResourceInput};
use percolate_testkit::NatsServer;
use tonic::Code;

const TENANT: &str = "shared";

fn start_node(dir: &tempfile::TempDir, nats: &NatsServer, node_id: &str) -> DbProcess {
    DbProcess::start_with(dir.path(), &["--embedding-mode", "off", "--node-id", node_id, "--nats-url", nats.url()])
}

/// What a node knows about the tenant, in a form to compare across nodes.
async fn view(client: &Client, uris: &[String]) -> (u64, u64, u64, Vec<String>, String) {
    let stats = client.tenant_stats().await.expect("stats");
    let mut contents = Vec::new();
    for uri in uris {
        for chunk in client.get_uri(uri).await.expect("get uri") {
            contents.push(format!("{}={}", chunk.uri, chunk.content));
        }
    }
    contents.sort();
    let ada = client.get_entity("person", "ada").await.expect("entity").map(|e| serde_json::to_string(&percolate_sdk::struct_to_json(&e.properties.unwrap_or_default())).expect("json")).unwrap_or_default();
    (stats.resources, stats.entities, stats.moments, contents, ada)
}

async fn converge(clients: &[Client], uris: &[String], expect_resources: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut views = Vec::new();
        for client in clients {
            views.push(view(client, uris).await);
        }
        if views.iter().all(|v| v.0 == expect_resources) && views.windows(2).all(|w| w[0] == w[1]) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "nodes did not converge within {within:?}: {views:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn chunk(uri: &str, text: &str, seed: f32) -> ResourceInput {
    ResourceInput::new(uri, text).embedding(vec![seed, 1.0 - seed, 0.5])
}

#[tokio::test]
async fn writes_on_any_node_reach_every_node_and_conflicts_converge() {
    let nats = NatsServer::start();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes: Vec<DbProcess> = dirs.iter().enumerate().map(|(i, d)| start_node(d, &nats, &format!("n{i}"))).collect();
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(node.client(TENANT).await);
    }
    let mut uris = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let batch: Vec<ResourceInput> = (0..10).map(|k| chunk(&format!("doc://n{i}/{k}"), &format!("note {k} written on node {i}"), k as f32 / 10.0)).collect();
        uris.extend((0..10).map(|k| format!("doc://n{i}/{k}")));
        client.put_resources(batch, false).await.expect("put");
        // The same entity, written on every node: properties merge, the
        // shared one ends with one winner everywhere.
        let props = serde_json::json!({ "city": format!("city-{i}"), format!("seen_by_n{i}"): true });
        client.upsert_entities(vec![EntityInput::new("person", "ada").properties(props)]).await.expect("upsert");
        client.put_moments(vec![MomentInput::new(format!("meeting on n{i}"))]).await.expect("moment");
    }
    // The same chunk rewritten on two nodes: one version wins everywhere.
    clients[0].put_resources(vec![chunk("doc://contested", "version from n0", 0.1)], false).await.expect("put");
    clients[1].put_resources(vec![chunk("doc://contested", "version from n1", 0.9)], false).await.expect("put");
    uris.push("doc://contested".into());
    let took = converge(&clients, &uris, 31, Duration::from_secs(30)).await;
    eprintln!("three nodes converged {took:?} after the last write");
    let (_, entities, moments, _, ada) = view(&clients[2], &uris).await;
    assert_eq!((entities, moments), (1, 3));
    for i in 0..3 {
        assert!(ada.contains(&format!("seen_by_n{i}")), "per-property merge keeps every node's property: {ada}");
    }
    // Deletes replicate too.
    clients[2].delete_resources(Vec::new(), vec!["doc://n0/0".into()]).await.expect("delete");
    converge(&clients, &uris, 30, Duration::from_secs(30)).await;
    let metrics = nodes[0].admin_get("/metrics");
    assert!(metrics.contains("percolate_replication_outbox_depth 0"), "{metrics}");
    assert!(metrics.contains("percolate_replication_published_total"), "{metrics}");
}

#[tokio::test]
async fn a_nats_outage_delays_replication_but_loses_nothing() {
    let mut nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let b = start_node(&b_dir, &nats, "b");
    let (ca, cb) = (a.client(TENANT).await, b.client(TENANT).await);
    ca.put_resources(vec![chunk("doc://before", "written before the outage", 0.3)], false).await.expect("put");
    cb.tenant_stats().await.expect("b serves the tenant");
    converge(&[ca.clone(), cb.clone()], &["doc://before".into()], 1, Duration::from_secs(30)).await;

    nats.stop();
    // Ten seconds of writes with NATS down: every one is acknowledged.
    let mut uris = vec!["doc://before".to_string()];
    let outage = Instant::now();
    let mut k = 0;
    while outage.elapsed() < Duration::from_secs(10) {
        let uri = format!("doc://during/{k}");
        ca.put_resources(vec![chunk(&uri, "written while NATS is down", 0.5)], false).await.expect("writes succeed while NATS is down");
        uris.push(uri);
        k += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = a.admin_get("/metrics");
    let depth_line = metrics.lines().find(|l| l.starts_with("percolate_replication_outbox_depth ")).unwrap_or_default().to_string();
    assert_eq!(depth_line, format!("percolate_replication_outbox_depth {k}"), "the writes wait in the outbox");
    assert_eq!(cb.tenant_stats().await.expect("stats").resources, 1, "nothing can reach b yet");
    nats.restart();
    let took = converge(&[ca.clone(), cb.clone()], &uris, k as u64 + 1, Duration::from_secs(60)).await;
    eprintln!("caught up {took:?} after NATS came back (outbox during the outage: {depth_line})");
    let metrics = a.admin_get("/metrics");
    assert!(metrics.contains("percolate_replication_outbox_depth 0"), "{metrics}");
}

#[tokio::test]
async fn a_crashed_node_catches_up_on_restart() {
    let nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let b = start_node(&b_dir, &nats, "b");
    let ca = a.client(TENANT).await;
    b.client(TENANT).await.tenant_stats().await.expect("b serves the tenant");
    let mut uris = Vec::new();
    for k in 0..20 {
        let uri = format!("doc://first/{k}");
        ca.put_resources(vec![chunk(&uri, "first half", 0.2)], false).await.expect("put");
        uris.push(uri);
    }
    b.kill_hard();
    for k in 0..20 {
        let uri = format!("doc://second/{k}");
        ca.put_resources(vec![chunk(&uri, "second half, b is down", 0.7)], false).await.expect("put");
        uris.push(uri);
    }
    let b = start_node(&b_dir, &nats, "b");
    let cb = b.client(TENANT).await;
    converge(&[ca, cb], &uris, 40, Duration::from_secs(60)).await;
}

/// Three nodes take writes at once; one of them is killed with `kill -9`
/// in the middle and restarted: every write any node acknowledged ends up
/// on every node.
#[tokio::test]
async fn a_node_killed_during_a_write_load_loses_no_acknowledged_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let nats = NatsServer::start();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut nodes: Vec<Option<DbProcess>> = dirs.iter().enumerate().map(|(i, d)| Some(start_node(d, &nats, &format!("n{i}")))).collect();
    let mut clients = Vec::new();
    for node in nodes.iter().flatten() {
        let client = node.client(TENANT).await;
        client.tenant_stats().await.expect("serves the tenant");
        clients.push(client);
    }
    let acked_by_victim = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = clients
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, client)| {
            let counter = acked_by_victim.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for k in 0..120 {
                    let uri = format!("doc://w{i}/{k}");
                    match client.put_resources(vec![chunk(&uri, "under load", 0.6)], false).await {
                        Ok(_) => acked.push(uri),
                        Err(_) if i == 0 => break,
                        Err(error) => panic!("node {i} failed a write: {error}"),
                    }
                    if i == 0 {
                        counter.store(acked.len(), Ordering::SeqCst);
                    }
                }
                acked
            })
        })
        .collect();
    while acked_by_victim.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[0].take().expect("n0").kill_hard();
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.expect("writer"));
    }
    let victim_acked = acked.iter().filter(|u| u.starts_with("doc://w0/")).count();
    assert!(victim_acked < 120, "the kill landed during the load ({victim_acked} writes acknowledged by n0)");
    nodes[0] = Some(start_node(&dirs[0], &nats, "n0"));
    clients[0] = nodes[0].as_ref().expect("n0").client(TENANT).await;
    let started = Instant::now();
    for client in &clients {
        loop {
            let mut missing = 0;
            for uri in &acked {
                if client.get_uri(uri).await.expect("get").is_empty() {
                    missing += 1;
                }
            }
            if missing == 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{missing} acknowledged writes missing on a node");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!("all {} acknowledged writes ({victim_acked} by the killed node) on every node {:?} after its restart", acked.len(), started.elapsed());
}

#[tokio::test]
async fn a_full_outbox_refuses_writes_with_unavailable() {
    let dir = tempfile::tempdir().expect("dir");
    // Nothing listens on this port: the log stays unreachable.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr");
    let url = format!("nats://{dead}");
    let node = DbProcess::start_with_env(dir.path(), &["--embedding-mode", "off", "--nats-url", &url], &[("PERCOLATE_MAX_OUTBOX", "5")]);
    let client = node.client(TENANT).await;
    for k in 0..5 {
        client.put_resources(vec![chunk(&format!("doc://{k}"), "queued", 0.1)], false).await.expect("fits in the outbox");
    }
    let err = client.put_resources(vec![chunk("doc://6", "one too many", 0.1)], false).await.expect_err("outbox full");
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    assert!(err.to_string().contains("outbox full"), "{err}");
    assert_eq!(client.tenant_stats().await.expect("stats").resources, 5, "reads still work; nothing half-written");
}

/// Writes acknowledged by a node that then crashed reach the log after it
/// restarts, even if nobody asks that node for the tenant again.
#[tokio::test]
async fn writes_left_in_the_outbox_by_a_crash_are_published_after_restart() {
    let mut nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let b = start_node(&b_dir, &nats, "b");
    let cb = b.client(TENANT).await;
    cb.tenant_stats().await.expect("b serves the tenant");
    nats.stop();
    let ca = a.client(TENANT).await;
    let mut uris = Vec::new();
    for k in 0..10 {
        let uri = format!("doc://stranded/{k}");
        ca.put_resources(vec![chunk(&uri, "acknowledged, then the node crashed", 0.4)], false).await.expect("put");
        uris.push(uri);
    }
    a.kill_hard();
    nats.restart();
    let _a = start_node(&a_dir, &nats, "a");
    // Only b is asked.
    let started = Instant::now();
    loop {
        if cb.tenant_stats().await.expect("stats").resources == 10 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the stranded writes never reached b");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("stranded writes reached b {:?} after a restarted", started.elapsed());
}

/// `DURABILITY_REPLICATED` answers once the log has the write: the node can
/// lose its disk right after and the write still exists elsewhere. With the
/// log down it answers `UNAVAILABLE` (the write stays committed locally).
#[tokio::test]
async fn replicated_durability_waits_for_the_log() {
    let mut nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let ca = a.client(TENANT).await;
    let replicated = |uri: &str| percolate_sdk::pb::PutResourcesRequest {
        resources: vec![chunk(uri, "must survive the loss of node a", 0.6).0],
        durability: percolate_sdk::pb::Durability::Replicated as i32,
        ..Default::default()
    };
    ca.raw().put_resources(ca.request(replicated("doc://safe"))).await.expect("replicated write");
    a.kill_hard();
    drop(a_dir);
    let b = start_node(&b_dir, &nats, "b");
    let cb = b.client(TENANT).await;
    let started = Instant::now();
    while cb.get_uri("doc://safe").await.expect("read").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "the replicated write is not in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    nats.stop();
    let started = Instant::now();
    let err = cb.raw().put_resources(cb.request(replicated("doc://later"))).await.expect_err("the log is down");
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert!(err.message().contains("committed on this node"), "{}", err.message());
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(cb.get_uri("doc://later").await.expect("read").len(), 1, "committed locally");
}

/// `Sync`: a node's replication status for a tenant, and the tenant's
/// change feed (from a sequence, then following new changes).
#[tokio::test]
async fn sync_reports_status_and_streams_the_change_feed() {
    use percolate_sdk::pb::{self, sync_client::SyncClient};
    let nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let b = start_node(&b_dir, &nats, "b");
    let ca = a.client(TENANT).await;
    ca.put_resources(vec![chunk("doc://feed", "first change", 0.2)], false).await.expect("put");
    ca.upsert_entities(vec![EntityInput::new("person", "grace").properties(serde_json::json!({"role": "admiral"}))]).await.expect("upsert");
    ca.put_moments(vec![MomentInput::new("launch")]).await.expect("moment");
    let cb = b.client(TENANT).await;
    let mut sync_b = SyncClient::new(b.channel().await);
    let started = Instant::now();
    let status = loop {
        let status = sync_b.get_replication_status(cb.request(pb::GetReplicationStatusRequest {})).await.expect("status").into_inner();
        if status.applied_sequence == 3 {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "b never applied the 3 changes: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((status.log_sequence, status.lag_messages, status.outbox_depth, status.node_id.as_str()), (3, 0, 0, "b"), "{status:?}");

    let mut feed = sync_b.stream_changes(cb.request(pb::StreamChangesRequest { from_sequence: 1, follow: false })).await.expect("feed").into_inner();
    let mut kinds = Vec::new();
    while let Some(event) = feed.message().await.expect("event") {
        let mutation = event.mutation.expect("mutation");
        assert_eq!(mutation.origin_node, "a");
        kinds.push((event.sequence, match mutation.op.expect("op") {
            pb::mutation::Op::PutResources(p) => format!("put {}", p.resources[0].uri),
            pb::mutation::Op::UpsertEntities(u) => format!("upsert {}", u.entities[0].key),
            pb::mutation::Op::PutMoments(m) => format!("moment {}", m.moments[0].name),
            other => format!("{other:?}"),
        }));
    }
    assert_eq!(kinds, vec![(1, "put doc://feed".to_string()), (2, "upsert grace".to_string()), (3, "moment launch".to_string())]);

    let mut live = sync_b.stream_changes(cb.request(pb::StreamChangesRequest { from_sequence: 3, follow: true })).await.expect("feed").into_inner();
    assert_eq!(live.message().await.expect("event").expect("the third change").sequence, 3);
    ca.delete_resources(Vec::new(), vec!["doc://feed".into()]).await.expect("delete");
    let next = tokio::time::timeout(Duration::from_secs(10), live.message()).await.expect("a live event").expect("event").expect("some");
    assert_eq!(next.sequence, 4);
    assert!(matches!(next.mutation.and_then(|m| m.op), Some(pb::mutation::Op::DeleteResources(d)) if d.uris == ["doc://feed"]));

    let plain_dir = tempfile::tempdir().expect("dir");
    let plain = DbProcess::start_with(plain_dir.path(), &["--embedding-mode", "off"]);
    let err = SyncClient::new(plain.channel().await).get_replication_status(cb.request(pb::GetReplicationStatusRequest {})).await.expect_err("no replication");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

/// A three-server JetStream cluster with the stream on 3 replicas: one NATS
/// server dies during a write load, and no acknowledged write is lost.
#[tokio::test]
async fn a_nats_server_lost_from_a_cluster_loses_no_write() {
    let mut cluster = percolate_testkit::NatsCluster::start();
    let urls = cluster.urls();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes: Vec<DbProcess> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| DbProcess::start_with_env(d.path(), &["--embedding-mode", "off", "--node-id", &format!("n{i}"), "--nats-url", &urls], &[("PERCOLATE_SYNC_REPLICAS", "3")]))
        .collect();
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(node.client(TENANT).await);
    }
    for client in &clients {
        client.tenant_stats().await.expect("every node serves the tenant");
    }
    // The stream (3 replicas) exists before the outage, as in production:
    // creating an R3 stream needs all three servers.
    clients[0].put_resources(vec![chunk("doc://warm-up", "before the outage", 0.5)], false).await.expect("put");
    let mut uris = vec!["doc://warm-up".to_string()];
    converge(&clients, &uris, 1, Duration::from_secs(60)).await;
    for k in 0..60 {
        if k == 20 {
            cluster.stop(0);
        }
        let uri = format!("doc://load/{k}");
        // Written round-robin on the three database nodes.
        clients[k % 3].put_resources(vec![chunk(&uri, "written during a NATS server outage", 0.5)], false).await.expect("acknowledged");
        uris.push(uri);
    }
    let took = converge(&clients, &uris, 61, Duration::from_secs(90)).await;
    eprintln!("60 writes with one of three NATS servers killed after 20: every node has all of them {took:?} after the last");
}

/// A node stops following a tenant it closed for being idle (no consumer,
/// no reopening for every change elsewhere), and catches up when the
/// tenant is served again.
#[tokio::test]
async fn idle_tenants_are_unfollowed_and_catch_up_when_served_again() {
    let nats = NatsServer::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = start_node(&a_dir, &nats, "a");
    let b = DbProcess::start_with_env(b_dir.path(), &["--embedding-mode", "off", "--node-id", "b", "--nats-url", nats.url()], &[("PERCOLATE_TENANT_IDLE_SECS", "1")]);
    let (ca, cb) = (a.client(TENANT).await, b.client(TENANT).await);
    ca.put_resources(vec![chunk("doc://0", "before b goes idle", 0.1)], false).await.expect("put");
    converge(&[ca.clone(), cb.clone()], &["doc://0".into()], 1, Duration::from_secs(30)).await;
    let open = |node: &DbProcess| node.admin_get("/metrics").lines().find(|l| l.starts_with("percolate_open_tenants ")).unwrap_or_default().to_string();
    let started = Instant::now();
    while open(&b) != "percolate_open_tenants 0" {
        assert!(started.elapsed() < Duration::from_secs(15), "b never closed the idle tenant: {}", open(&b));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the follower its check, then change the tenant on a.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut uris = vec!["doc://0".to_string()];
    for k in 1..6 {
        let uri = format!("doc://{k}");
        ca.put_resources(vec![chunk(&uri, "while b is idle", 0.2)], false).await.expect("put");
        uris.push(uri);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(open(&b), "percolate_open_tenants 0", "b does not reopen the tenant for changes it does not serve");
    converge(&[ca, cb], &uris, 6, Duration::from_secs(30)).await;
}
