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
    let chat = client.raw().chat(client.request(pb::ChatRequest { question: "hi".into(), ..Default::default() })).await.expect_err("not yet");
    assert_eq!(chat.code(), Code::Unimplemented);
}
