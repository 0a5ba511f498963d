//! The object store's contract on every real backend: a local directory,
//! `s3s-fs` and `moto_server` (two independent S3-compatible servers,
//! started on free loopback ports).

use futures::TryStreamExt;
use percolate_objects::{ObjectError, ObjectStore, S3Config};
use percolate_testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server};
use sha2::{Digest, Sha256};

const PART: usize = 5 << 20;

struct Backend {
    name: &'static str,
    store: ObjectStore,
    server: Option<S3Server>,
    _dir: tempfile::TempDir,
}

fn s3_config(server: &S3Server) -> S3Config {
    S3Config {
        endpoint: Some(server.endpoint().to_string()),
        bucket: "percolate-test".into(),
        access_key: Some(S3_ACCESS_KEY.into()),
        secret_key: Some(S3_SECRET_KEY.into()),
        part_size: PART,
        request_timeout: std::time::Duration::from_secs(10),
        ..S3Config::default()
    }
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("dir");
    let mut out = vec![Backend { name: "local", store: ObjectStore::local(dir.path()), server: None, _dir: dir }];
    for (name, kind) in [("s3s-fs", S3Kind::S3sFs), ("moto", S3Kind::Moto)] {
        let server = S3Server::start(kind);
        let store = ObjectStore::s3(s3_config(&server)).await.expect("S3 store");
        out.push(Backend { name, store, server: Some(server), _dir: tempfile::tempdir().expect("dir") });
    }
    out
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn read_all(store: &ObjectStore, tenant: &str, key: &str) -> Vec<u8> {
    let reader = store.reader(tenant, key).await.expect("reader");
    let pieces: Vec<bytes::Bytes> = reader.body.try_collect().await.expect("read");
    pieces.concat()
}

/// Multipart uploads still open in the bucket (moto implements the listing;
/// s3s-fs keeps them as files under its root, which `leftover_files` sees).
async fn open_uploads(backend: &Backend) -> usize {
    let (ObjectStore::S3(s3), Some(server)) = (&backend.store, &backend.server) else { return 0 };
    if server.kind() != S3Kind::Moto {
        return 0;
    }
    let listed = s3.client().list_multipart_uploads().bucket("percolate-test").send().await.expect("list uploads");
    listed.uploads().len()
}

/// Unfinished-upload files: the local store's `.<name>.upload-<id>`
/// temporaries, s3s-fs's `.upload-<id>.json` and `.upload_id-<id>.part-<n>`.
fn leftover_files(backend: &Backend) -> Vec<String> {
    let root = match (&backend.store, &backend.server) {
        (ObjectStore::Local(local), _) => local.root().to_path_buf(),
        (_, Some(server)) if server.kind() == S3Kind::S3sFs => server.root().to_path_buf(),
        _ => return Vec::new(),
    };
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with('.') && entry.file_name().to_string_lossy().contains("upload") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn whole_objects_round_trip_with_limits() {
    for b in backends().await {
        let stored = b.store.put("acme", "uploads/u1/notes.txt", b"hello objects").await.expect("put");
        assert_eq!(stored.size, 13, "{}", b.name);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"hello objects")), "{}", b.name);
        assert_eq!(b.store.get("acme", "uploads/u1/notes.txt", 100).await.expect("get"), b"hello objects", "{}", b.name);
        assert_eq!(b.store.size("acme", "uploads/u1/notes.txt").await.expect("size"), Some(13), "{}", b.name);
        let too_large = b.store.get("acme", "uploads/u1/notes.txt", 5).await.expect_err("limit");
        assert!(matches!(too_large, ObjectError::TooLarge { size: 13, limit: 5, .. }), "{}: {too_large}", b.name);
        // Tenants do not see each other's objects.
        assert!(matches!(b.store.get("other", "uploads/u1/notes.txt", 100).await, Err(ObjectError::NotFound(_))), "{}", b.name);
        assert_eq!(b.store.size("other", "uploads/u1/notes.txt").await.expect("size"), None, "{}", b.name);
        b.store.delete("acme", "uploads/u1/notes.txt").await.expect("delete");
        b.store.delete("acme", "uploads/u1/notes.txt").await.expect("delete twice");
        assert!(matches!(b.store.get("acme", "uploads/u1/notes.txt", 100).await, Err(ObjectError::NotFound(_))), "{}", b.name);
        for (tenant, key) in [("acme", "../secrets"), ("acme", "/etc/passwd"), ("../acme", "x"), ("Acme", "x"), ("", "x"), ("acme", "a//b")] {
            let err = b.store.put(tenant, key, b"x").await.expect_err("bad name");
            assert!(matches!(err, ObjectError::InvalidKey { .. }), "{}: {tenant:?}/{key:?}: {err}", b.name);
        }
        assert!(leftover_files(&b).is_empty(), "{}: {:?}", b.name, leftover_files(&b));
    }
}

#[tokio::test]
async fn large_objects_stream_in_parts_and_read_back_in_pieces() {
    let data = pattern(2 * PART + PART / 2 + 7);
    for b in backends().await {
        let mut writer = b.store.writer("acme", "uploads/big/file.bin").await.expect("writer");
        for piece in data.chunks(1 << 20) {
            writer.write(piece).await.expect("write");
        }
        assert_eq!(writer.size(), data.len() as u64);
        assert_eq!(b.store.size("acme", "uploads/big/file.bin").await.expect("size"), None, "{}: invisible before finish", b.name);
        let stored = writer.finish().await.expect("finish");
        assert_eq!((stored.size, stored.sha256.clone()), (data.len() as u64, hex::encode(Sha256::digest(&data))), "{}", b.name);
        let reader = b.store.reader("acme", "uploads/big/file.bin").await.expect("reader");
        assert_eq!(reader.size, data.len() as u64, "{}", b.name);
        assert!(read_all(&b.store, "acme", "uploads/big/file.bin").await == data, "{}: bytes differ", b.name);
        assert_eq!(open_uploads(&b).await, 0, "{}", b.name);
        assert!(leftover_files(&b).is_empty(), "{}: {:?}", b.name, leftover_files(&b));
    }
}

#[tokio::test]
async fn aborted_or_dropped_writes_leave_nothing() {
    let data = pattern(PART + 100);
    for b in backends().await {
        let mut writer = b.store.writer("acme", "uploads/a/aborted.bin").await.expect("writer");
        writer.write(&data).await.expect("write");
        writer.abort().await;
        let mut writer = b.store.writer("acme", "uploads/d/dropped.bin").await.expect("writer");
        writer.write(&data).await.expect("write");
        drop(writer);
        // The drop aborts in the background.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for key in ["uploads/a/aborted.bin", "uploads/d/dropped.bin"] {
            assert_eq!(b.store.size("acme", key).await.expect("size"), None, "{}: {key}", b.name);
        }
        assert_eq!(open_uploads(&b).await, 0, "{}: multipart uploads left open", b.name);
        assert!(leftover_files(&b).is_empty(), "{}: {:?}", b.name, leftover_files(&b));
    }
}

#[tokio::test]
async fn listing_a_folder_shows_finished_objects_of_that_tenant_only() {
    for b in backends().await {
        for key in ["snapshots/s2/manifest.json", "snapshots/s1/000001.sst", "snapshots/s1/manifest.json", "snapshotsx/other", "uploads/a"] {
            b.store.put("acme", key, key.as_bytes()).await.expect("put");
        }
        b.store.put("globex", "snapshots/g/manifest.json", b"g").await.expect("put other tenant");
        // A write in progress is not listed.
        let mut pending = b.store.writer("acme", "snapshots/s3/manifest.json").await.expect("writer");
        pending.write(b"partial").await.expect("write");
        let listed = b.store.list("acme", "snapshots").await.expect("list");
        let keys: Vec<(&str, u64)> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
        assert_eq!(keys, [("snapshots/s1/000001.sst", 23), ("snapshots/s1/manifest.json", 26), ("snapshots/s2/manifest.json", 26)], "{}", b.name);
        pending.abort().await;
        assert!(b.store.list("acme", "nothing-here").await.expect("list empty").is_empty(), "{}", b.name);
        assert!(b.store.list("newcomer", "snapshots").await.expect("list of a tenant without objects").is_empty(), "{}", b.name);
        assert!(matches!(b.store.list("acme", "../globex").await, Err(ObjectError::InvalidKey { .. })), "{}", b.name);
    }
}

#[tokio::test]
async fn a_bucket_per_tenant_keeps_tenants_apart() {
    let server = S3Server::start(S3Kind::Moto);
    let store = ObjectStore::s3(S3Config { bucket: "pc-".into(), bucket_per_tenant: true, ..s3_config(&server) }).await.expect("store");
    store.put("acme", "uploads/x.txt", b"acme's").await.expect("put acme");
    store.put("globex", "uploads/x.txt", b"globex's").await.expect("put globex");
    assert_eq!(store.get("acme", "uploads/x.txt", 100).await.expect("get"), b"acme's");
    assert_eq!(store.get("globex", "uploads/x.txt", 100).await.expect("get"), b"globex's");
    let ObjectStore::S3(s3) = &store else { unreachable!("an S3 store") };
    let buckets = s3.client().list_buckets().send().await.expect("list buckets");
    let mut names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["pc-acme", "pc-globex"]);
    let listed = store.list("acme", "uploads").await.expect("list");
    assert_eq!(listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["uploads/x.txt"]);
    assert!(store.list("initech", "uploads").await.expect("list of a missing bucket").is_empty());
    let err = store.put("under_score", "x", b"x").await.expect_err("not a bucket name");
    assert!(matches!(err, ObjectError::Config(_)), "{err}");
}

#[tokio::test]
async fn a_dead_server_is_a_clear_error_and_nothing_is_half_written() {
    let mut server = S3Server::start(S3Kind::S3sFs);
    let store = ObjectStore::s3(s3_config(&server)).await.expect("store");
    store.put("acme", "uploads/before.txt", b"first").await.expect("put while up");
    let mut writer = store.writer("acme", "uploads/during.bin").await.expect("writer");
    writer.write(&pattern(PART + 1)).await.expect("first part while up");
    server.stop();
    let started = std::time::Instant::now();
    let err = match writer.write(&pattern(PART)).await {
        Err(e) => e,
        Ok(()) => writer.finish().await.expect_err("the server is down"),
    };
    assert!(err.is_transient(), "{err}");
    assert!(matches!(err, ObjectError::Remote { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "failed after {:?}", started.elapsed());
    server.restart();
    assert_eq!(store.size("acme", "uploads/during.bin").await.expect("size"), None, "no partial object");
    assert_eq!(store.get("acme", "uploads/before.txt", 100).await.expect("get"), b"first");
}
