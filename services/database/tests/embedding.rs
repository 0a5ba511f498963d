//! Text in, meaning out: the node embeds resources written without a vector
//! and query text with the real all-MiniLM-L6-v2 model (installed by
//! scripts/bootstrap), and refuses to mix models.

mod common;

use common::DbProcess;
use percolate_sdk::{ResourceInput, pb};
use tonic::Code;

const MODEL: &str = "all-minilm-l6-v2-int8";

#[tokio::test]
async fn text_written_without_vectors_is_searchable_by_meaning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "required"]);
    let client = db.client("semantic").await;
    let written = client
        .put_resources(
            vec![
                ResourceInput::new("faq://account", "To reset your password, open Settings and choose 'Forgot password'."),
                ResourceInput::new("faq://billing", "Invoices are emailed on the first day of every month."),
                ResourceInput::new("faq://shipping", "Orders ship within two business days from our warehouse."),
            ],
            false,
        )
        .await
        .expect("put");
    assert_eq!(written.embedded_by_node, 3);

    let hits = client.search_text("I forgot my login credentials", 3).await.expect("search");
    assert_eq!(hits[0].resource.as_ref().expect("hit").uri, "faq://account");
    assert!(hits[0].score > hits[1].score + 0.1, "clear winner: {:?}", hits.iter().map(|h| h.score).collect::<Vec<_>>());
    let billing = client.search_text("when do I get my bill?", 1).await.expect("search");
    assert_eq!(billing[0].resource.as_ref().expect("hit").uri, "faq://billing");

    let stats = client.tenant_stats().await.expect("stats");
    assert_eq!((stats.embedded_resources, stats.vector_dimension, stats.embedding_model.as_str()), (3, 384, MODEL));
    let pending = client.search(pb::SearchResourcesRequest { query: Some(pb::search_resources_request::Query::Text("x".into())), ..Default::default() }).await.expect("search");
    assert_eq!(pending.pending_embeddings, 0);
}

#[tokio::test]
async fn text_search_refuses_vectors_of_unknown_or_other_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "required"]);

    let unnamed = db.client("unnamed").await;
    unnamed.put_resources(vec![ResourceInput::new("doc://v", "supplied").embedding(vec![0.5; 384])], false).await.expect("put");
    let err = unnamed.search_text("anything", 3).await.expect_err("unknown model");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));

    let other = db.client("other").await;
    let request = pb::PutResourcesRequest { resources: vec![ResourceInput::new("doc://o", "other").embedding(vec![0.5; 384]).0], embedding_model: "some-other-model".into(), ..Default::default() };
    other.raw().put_resources(other.request(request)).await.expect("put");
    assert_eq!(other.search_text("anything", 3).await.expect_err("other model").code(), Some(Code::FailedPrecondition));
    // Text-only chunks would be embedded with the node's model: refused too.
    let err = other.put_resources(vec![ResourceInput::new("doc://t", "text only")], false).await.expect_err("model mismatch");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));

    let mixed = db.client("mixed").await;
    let batch = vec![ResourceInput::new("doc://a", "has a vector").embedding(vec![0.5; 384]), ResourceInput::new("doc://b", "needs one")];
    assert_eq!(mixed.put_resources(batch, false).await.expect_err("mixed").code(), Some(Code::InvalidArgument));
    assert_eq!(mixed.tenant_stats().await.expect("stats").resources, 0);
}

#[tokio::test]
async fn without_a_model_text_search_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "off"]);
    let client = db.client("plain").await;
    let written = client.put_resources(vec![ResourceInput::new("doc://p", "no vector")], false).await.expect("put");
    assert_eq!(written.embedded_by_node, 0);
    let err = client.search_text("hello", 3).await.expect_err("no model");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    let search = client.search(pb::SearchResourcesRequest { query: Some(pb::search_resources_request::Query::Vector(pb::Vector { values: vec![1.0, 0.0] })), ..Default::default() }).await.expect("search");
    assert_eq!(search.pending_embeddings, 1, "the chunk without a vector is reported as pending");
    // Chat still answers (nothing can be found by meaning, and it says so)...
    let mut events = client.chat(pb::ChatRequest { question: "what is pending?".into(), ..Default::default() }).await.expect("chat");
    let mut text = String::new();
    while let Some(event) = events.message().await.expect("event") {
        if let Some(pb::chat_event::Event::Delta(piece)) = event.event {
            text.push_str(&piece);
        }
    }
    assert!(text.contains("Nothing in this tenant's memory matches the question."), "{text}");
    // ... but a tenant with vectors cannot be searched by meaning here.
    let vectors = db.client("vectors").await;
    vectors.put_resources(vec![ResourceInput::new("doc://v", "with a vector").embedding(vec![1.0, 0.0])], false).await.expect("put");
    let err = vectors.chat(pb::ChatRequest { question: "anything?".into(), ..Default::default() }).await.expect_err("no model to search with");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    assert!(err.to_string().contains("chat cannot search this tenant's resources by meaning"), "{err}");
}

/// Chunks written while the node had no model become searchable by meaning
/// once a node with a model serves the tenant: nobody has to ask.
#[tokio::test]
async fn chunks_stored_without_a_vector_are_back_filled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = DbProcess::start_with(dir.path(), &["--embedding-mode", "off"]);
    let client = plain.client("later").await;
    let mut batch: Vec<ResourceInput> = (0..40).map(|i| ResourceInput::new(format!("note://{i}"), format!("Routine maintenance note number {i} about the office printer."))).collect();
    batch.push(ResourceInput::new("faq://account", "To reset your password, open Settings and choose 'Forgot password'."));
    batch.push(ResourceInput::new("empty://blank", "   "));
    client.put_resources(batch, false).await.expect("put");
    drop(client);
    assert!(plain.terminate().success());

    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "required"]);
    let client = db.client("later").await;
    let text = |q: &str| pb::SearchResourcesRequest { query: Some(pb::search_resources_request::Query::Text(q.into())), top_k: 3, ..Default::default() };
    let first = client.search(text("I forgot my login credentials")).await.expect("search");
    assert!(first.pending_embeddings > 1, "the back-fill has only just started: {}", first.pending_embeddings);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let answer = client.search(text("I forgot my login credentials")).await.expect("search");
        // The blank chunk has no text to embed and stays pending.
        if answer.pending_embeddings == 1 {
            break answer;
        }
        assert!(std::time::Instant::now() < deadline, "back-fill did not finish: {} pending", answer.pending_embeddings);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let top = done.hits[0].resource.as_ref().expect("hit");
    assert_eq!(top.uri, "faq://account");
    assert!(!top.embedding_pending);
    let stats = client.tenant_stats().await.expect("stats");
    assert_eq!((stats.resources, stats.embedded_resources, stats.embedding_model.as_str()), (42, 41, MODEL));
    let blank = client.raw().get_resources(client.request(pb::GetResourcesRequest { uri: "empty://blank".into(), ..Default::default() })).await.expect("get").into_inner();
    assert!(blank.resources[0].embedding_pending);
    let metrics = db.admin_get("/metrics");
    assert!(metrics.contains("percolate_backfilled_embeddings_total 41"), "{metrics}");
}
