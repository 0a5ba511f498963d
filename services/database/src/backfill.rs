//! Back-fill: chunks stored without an embedding (by a node that had no
//! model, or written before the node had one) are embedded in the background
//! by a node that has a model, the first time it serves the tenant after they
//! appear. Nobody has to ask: once the back-fill has run they are found by
//! meaning, and until then reads report them as `embedding_pending`.
//!
//! A node with a model embeds chunks written to it without a vector inline,
//! in the write itself, so the back-fill only meets older chunks.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use percolate_embedder::Embedder;
use percolate_rem::mutation::{ChunkEmbedding, SetEmbeddings};
use percolate_rem::{Op, Tenant, TenantId, TenantStore};
use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

use crate::error::DbError;

/// Chunks embedded (and written) per step.
const BATCH: usize = 32;

/// Where a tenant's back-fill stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A task is embedding the tenant's chunks.
    Running,
    /// The last run ended with this many chunks still without a vector (no
    /// text, or a model the node cannot serve); a new run starts only when
    /// the count changes.
    Finished { left: u64 },
}

/// Runs back-fills, at most one per tenant at a time.
pub struct Backfill {
    store: Arc<TenantStore>,
    embedder: Arc<Embedder>,
    states: Mutex<HashMap<TenantId, State>>,
    embedded: Counter,
}

impl Backfill {
    /// A back-fill over `store` with the node's model; `embedded` counts the
    /// chunks it embeds.
    pub fn new(store: Arc<TenantStore>, embedder: Arc<Embedder>, embedded: Counter) -> Arc<Self> {
        Arc::new(Self { store, embedder, states: Mutex::new(HashMap::new()), embedded })
    }

    /// Starts a back-fill of `tenant` when it has chunks without a vector
    /// that no run has looked at yet. Cheap otherwise (one counter read).
    /// Called on a blocking thread inside the runtime.
    pub fn check(self: &Arc<Self>, tenant: &Tenant) {
        let Ok(counters) = tenant.counters() else { return };
        let pending = counters.resources.saturating_sub(counters.embedded);
        if pending == 0 {
            return;
        }
        let mut states = self.states.lock();
        match states.get(tenant.id()) {
            Some(State::Running) => return,
            Some(State::Finished { left }) if *left == pending => return,
            _ => {}
        }
        if let Err(reason) = self.model_matches(tenant) {
            tracing::warn!(tenant_id = %tenant.id(), pending, %reason, "chunks without a vector are not back-filled");
            states.insert(tenant.id().clone(), State::Finished { left: pending });
            return;
        }
        states.insert(tenant.id().clone(), State::Running);
        drop(states);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(self.clone().run(tenant.id().clone(), pending));
    }

    /// Whether this node's vectors may be mixed with the tenant's.
    fn model_matches(&self, tenant: &Tenant) -> Result<(), String> {
        let ours = self.embedder.model_id();
        match tenant.embedding_model() {
            Ok(Some(model)) if model == ours => Ok(()),
            Ok(Some(model)) => Err(format!("the tenant's vectors come from model '{model}', this node embeds with '{ours}'")),
            Ok(None) if tenant.dimension() == 0 => Ok(()),
            Ok(None) => Err("the tenant's vectors were written without a model name".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Embeds the tenant's chunks without a vector, a batch at a time, and
    /// records what is left. Each batch reopens the tenant through the
    /// store, so the task never keeps a closed tenant alive.
    async fn run(self: Arc<Self>, id: TenantId, pending: u64) {
        tracing::info!(tenant_id = %id, pending, "back-filling embeddings");
        let mut after = None;
        let mut embedded = 0u64;
        let outcome = loop {
            let (this, tenant_id) = (self.clone(), id.clone());
            match tokio::task::spawn_blocking(move || this.step(&tenant_id, after)).await {
                Ok(Ok(Some((last, count)))) => {
                    after = Some(last);
                    embedded += count;
                }
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(e)) => break Err(e.to_string()),
                Err(e) => break Err(format!("back-fill task failed: {e}")),
            }
        };
        let left = self.store.tenant(&id).and_then(|t| t.counters()).map(|c| c.resources.saturating_sub(c.embedded)).unwrap_or(pending);
        match outcome {
            Ok(()) => tracing::info!(tenant_id = %id, embedded, left, "back-fill finished"),
            Err(reason) => tracing::warn!(tenant_id = %id, embedded, left, %reason, "back-fill stopped"),
        }
        self.states.lock().insert(id, State::Finished { left });
    }

    /// Embeds and writes the next batch after `after`; returns the last id
    /// scanned and how many chunks gained a vector, or `None` when done.
    fn step(&self, id: &TenantId, after: Option<Uuid>) -> Result<Option<(Uuid, u64)>, DbError> {
        let tenant = self.store.tenant(id)?;
        let chunks = tenant.unembedded_chunks(after, BATCH)?;
        let Some(last) = chunks.last().map(|c| c.id) else { return Ok(None) };
        let texts: Vec<&str> = chunks.iter().map(|c| c.content.as_str()).collect();
        let vectors = self.embedder.embed(&texts)?;
        let items = chunks
            .into_iter()
            .zip(vectors)
            .map(|(c, embedding)| ChunkEmbedding { chunk: Some(c.chunk), version: c.version, embedding })
            .collect();
        let outcome = tenant.write(Op::SetEmbeddings(SetEmbeddings { items, embedding_model: self.embedder.model_id().to_string() }))?;
        let count = u64::from(outcome.report.resources_embedded);
        self.embedded.inc_by(count);
        Ok(Some((last, count)))
    }
}
