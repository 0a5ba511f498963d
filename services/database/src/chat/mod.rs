//! `Database.Chat`: answers a conversation's last question from the
//! tenant's REM context. [`prepare`] retrieves and assembles the context
//! (on the blocking pool); [`deliver`] streams the citations, then the
//! answer (a language model's, or [`extractive`]), then `done`, and records
//! the exchange as a moment when asked.

mod context;
mod extractive;
mod prompt;
mod render;
mod request;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use percolate_embedder::Embedder;
use percolate_openai::{ChatCompleter, ChatMessage, ChatOptions, ChatStream, OpenAiError};
use percolate_proto::v1 as pb;
use percolate_rem::Tenant;
use percolate_rem::model::MomentData;
use percolate_rem::stamp::now_micros;
use tokio::sync::mpsc;
use tonic::Status;
use tracing::Instrument;

pub use context::Context;
pub use request::{ChatPlan, EXTRACTIVE, Writer};

use crate::convert;
use crate::error::DbError;
use crate::metrics::ChatMetrics;

type Result<T> = std::result::Result<T, DbError>;

/// Longest question kept as a recorded moment's name, in characters.
const MAX_MOMENT_NAME_CHARS: usize = 200;
/// Longest answer kept in a recorded moment's summary, in characters.
const MAX_MOMENT_SUMMARY_CHARS: usize = 16_000;
/// Moment type of a recorded exchange.
pub const CHAT_MOMENT_TYPE: &str = "chat";

/// A question with its context, ready to be answered.
pub struct Prepared {
    /// The checked request.
    pub plan: ChatPlan,
    /// What was retrieved.
    pub context: Context,
    /// How the answer is written.
    pub answer: Answer,
    /// When the request arrived (microseconds).
    pub started: i64,
}

/// How the answer is written.
pub enum Answer {
    /// Quoted from the retrieved passages, once their citations are sent
    /// (ranking the sentences takes the model's time); with the node's
    /// embedding model, if it has one.
    Extractive(Option<Arc<Embedder>>),
    /// To be written by a language model from these messages.
    Model {
        /// Instructions, context and conversation.
        messages: Vec<ChatMessage>,
        /// Model and sampling settings.
        options: ChatOptions,
        /// Older turns left out.
        dropped: u32,
    },
}

/// Retrieves the context of `plan`'s question and prepares the answer.
pub fn prepare(tenant: &Tenant, embedder: Option<Arc<Embedder>>, plan: ChatPlan) -> Result<Prepared> {
    let started = now_micros();
    let context = context::retrieve(tenant, embedder.as_deref(), &plan)?;
    let answer = match &plan.writer {
        Writer::Extractive => Answer::Extractive(embedder),
        Writer::Model(model) => {
            let now = convert::micros_timestamp(started).to_string();
            let (messages, dropped) = prompt::messages(&plan, &context, &now);
            let options = ChatOptions { model: model.clone(), temperature: plan.temperature, max_tokens: plan.max_tokens };
            Answer::Model { messages, options, dropped }
        }
    };
    Ok(Prepared { plan, context, answer, started })
}

/// The citations of a context, in number order.
pub fn citations(context: &Context) -> Vec<pb::Citation> {
    context
        .items
        .iter()
        .map(|item| {
            let (source, score) = match &item.source {
                context::Source::Resource(r, score) => (pb::citation::Source::Resource(convert::resource_out(r.clone())), *score),
                context::Source::Entity(e) => (pb::citation::Source::Entity(convert::entity_out(e.clone())), 0.0),
                context::Source::Moment(m) => (pb::citation::Source::Moment(convert::moment_out(m.clone())), 0.0),
            };
            pb::Citation { number: item.number, source: Some(source), score, reason: render::reason(&item.why, context) }
        })
        .collect()
}

/// Events of a chat answer, as the gRPC stream sends them.
pub type Events = futures::stream::BoxStream<'static, std::result::Result<pb::ChatEvent, Status>>;

/// The node's chat settings: its language model, if any, and metrics.
#[derive(Clone)]
pub struct Chat {
    completer: Option<Arc<ChatCompleter>>,
    metrics: ChatMetrics,
}

impl Chat {
    /// Chat with answers written by `completer` (extractive without one).
    pub fn new(completer: Option<Arc<ChatCompleter>>, metrics: ChatMetrics) -> Self {
        Self { completer, metrics }
    }

    /// Whether a language model is configured.
    pub fn has_model(&self) -> bool {
        self.completer.is_some()
    }

    /// Notes how long retrieval took.
    pub fn retrieved(&self, elapsed: Duration) {
        self.metrics.retrieved(elapsed);
    }

    /// Opens the model's answer stream for a prepared question (before any
    /// event is sent, so an unreachable or failing model is a plain error).
    pub async fn open(&self, prepared: &Prepared) -> Result<Option<ChatStream>> {
        let opened = match (&prepared.answer, &self.completer) {
            (Answer::Extractive(_), _) => return Ok(None),
            (Answer::Model { messages, options, .. }, Some(completer)) => completer.stream(messages, options).await.map_err(|error| match error {
                OpenAiError::Rejected { .. } if options.model.is_none() => DbError::ChatSettings(error),
                error => DbError::from(error),
            }),
            (Answer::Model { .. }, None) => Err(DbError::FailedPrecondition("this node has no language model configured (chat_url)".into())),
        };
        if let Err(error) = &opened {
            self.metrics.answered(WRITER_MODEL, format!("{:?}", error.code()));
        }
        opened.map(Some)
    }

    /// Streams `prepared`'s answer: citations, the answer's pieces (read
    /// from `writing` when a model writes it), then `done`. With
    /// `record_moment`, `record` stores the exchange first and its id goes
    /// in `done`. A failure ends the stream with its status and no `done`; a
    /// client that goes away stops the work. `arrived` is when the request
    /// did.
    pub fn answer<R, F>(&self, prepared: Prepared, writing: Option<ChatStream>, arrived: Instant, record: R) -> Events
    where
        R: FnOnce(MomentData) -> F + Send + 'static,
        F: Future<Output = Result<String>> + Send + 'static,
    {
        let (events, received) = mpsc::channel(32);
        let metrics = self.metrics.clone();
        let writer = if writing.is_some() { WRITER_MODEL } else { EXTRACTIVE };
        let delivery = Delivery { events: events.clone(), metrics, writer, arrived, first: true, deadline: arrived + MAX_ANSWER_TIME };
        let task = tokio::spawn(delivery.run(prepared, writing, record).in_current_span());
        // Should the delivery ever panic, the stream still ends with an
        // error rather than looking complete.
        tokio::spawn(async move {
            if let Err(error) = task.await {
                let _ = events.send(Err(DbError::Internal(format!("the chat answer failed: {error}")).into())).await;
            }
        });
        Box::pin(futures::stream::unfold(received, |mut received| async move { received.recv().await.map(|event| (event, received)) }))
    }
}

/// Label of answers written by a language model.
const WRITER_MODEL: &str = "model";
/// Longest a model may take over one answer, however steadily it writes.
const MAX_ANSWER_TIME: Duration = Duration::from_secs(600);

/// Sends one answer's events.
struct Delivery {
    events: mpsc::Sender<std::result::Result<pb::ChatEvent, Status>>,
    metrics: ChatMetrics,
    writer: &'static str,
    arrived: Instant,
    first: bool,
    deadline: Instant,
}

/// Why delivery stopped early: the client left, or the answer failed.
enum Stop {
    Gone,
    Failed(Status),
}

impl Delivery {
    /// Delivers everything, counting the outcome before the last event.
    async fn run<R, F>(mut self, prepared: Prepared, writing: Option<ChatStream>, record: R)
    where
        R: FnOnce(MomentData) -> F,
        F: Future<Output = Result<String>>,
    {
        match self.deliver(prepared, writing, record).await {
            Ok(()) => {}
            Err(Stop::Gone) => self.metrics.answered(self.writer, "cancelled".into()),
            Err(Stop::Failed(status)) => {
                self.metrics.answered(self.writer, format!("{:?}", status.code()));
                let _ = self.events.send(Err(status)).await;
            }
        }
    }

    async fn send(&mut self, event: pb::chat_event::Event) -> std::result::Result<(), Stop> {
        if self.first && matches!(event, pb::chat_event::Event::Delta(_)) {
            self.first = false;
            self.metrics.first_piece(self.arrived.elapsed());
        }
        self.events.send(Ok(pb::ChatEvent { event: Some(event) })).await.map_err(|_| Stop::Gone)
    }

    /// The model's next piece; stops early when the client has gone or the
    /// answer has taken [`MAX_ANSWER_TIME`].
    async fn next_piece(&mut self, stream: &mut ChatStream) -> std::result::Result<Option<String>, Stop> {
        tokio::select! {
            piece = stream.next_delta() => piece.map_err(|error| Stop::Failed(DbError::from(error).into())),
            () = self.events.closed() => Err(Stop::Gone),
            () = tokio::time::sleep_until(self.deadline.into()) => {
                Err(Stop::Failed(Status::deadline_exceeded(format!("the language model took more than {} s over one answer", MAX_ANSWER_TIME.as_secs()))))
            }
        }
    }

    async fn deliver<R, F>(&mut self, mut prepared: Prepared, writing: Option<ChatStream>, record: R) -> std::result::Result<(), Stop>
    where
        R: FnOnce(MomentData) -> F,
        F: Future<Output = Result<String>>,
    {
        for citation in citations(&prepared.context) {
            self.send(pb::chat_event::Event::Citation(citation)).await?;
        }
        let mut answer = String::new();
        let (model, extractive, dropped) = match (prepared.answer, writing) {
            (Answer::Extractive(embedder), _) => {
                let context = prepared.context;
                let (context, pieces) = tokio::task::spawn_blocking(move || {
                    let pieces = extractive::answer(embedder.as_deref(), &context);
                    (context, pieces)
                })
                .await
                .map_err(|e| Stop::Failed(DbError::Internal(format!("the extractive answer failed: {e}")).into()))?;
                prepared.context = context;
                let pieces = pieces.map_err(|e| Stop::Failed(e.into()))?;
                for piece in pieces {
                    answer.push_str(&piece);
                    self.send(pb::chat_event::Event::Delta(piece)).await?;
                }
                (EXTRACTIVE.to_string(), true, 0)
            }
            (Answer::Model { dropped, .. }, Some(mut stream)) => {
                while let Some(piece) = self.next_piece(&mut stream).await? {
                    answer.push_str(&piece);
                    self.send(pb::chat_event::Event::Delta(piece)).await?;
                }
                (stream.model().to_string(), false, dropped)
            }
            (Answer::Model { .. }, None) => return Err(Stop::Failed(DbError::Internal("no answer stream was opened for the model".into()).into())),
        };
        let mut done = pb::ChatDone {
            model: model.clone(),
            extractive,
            moment_id: String::new(),
            context_tokens: prepared.context.tokens as u32,
            omitted_items: prepared.context.omitted,
            dropped_messages: dropped,
        };
        if prepared.plan.record_moment {
            let moment = exchange_moment(&prepared.plan, &prepared.context, &answer, &model, prepared.started).map_err(|e| Stop::Failed(e.into()))?;
            done.moment_id = record(moment).await.map_err(|e| Stop::Failed(e.into()))?;
        }
        // Complete: counted so before `done` goes out (a client that leaves
        // now still got the whole answer).
        self.metrics.answered(self.writer, "ok".into());
        let _ = self.send(pb::chat_event::Event::Done(done)).await;
        Ok(())
    }
}

/// The moment recording an exchange: the question as its name, the answer
/// as its summary, every cited resource and entity as its references.
fn exchange_moment(plan: &ChatPlan, context: &Context, answer: &str, model: &str, started: i64) -> Result<MomentData> {
    let ids = |kind: fn(&context::Source) -> bool| context.items.iter().filter(|i| kind(&i.source)).map(|i| i.source.id().to_string()).collect::<Vec<_>>();
    let metadata = serde_json::json!({
        "model": model,
        "citations": context.items.len(),
        "context_tokens": context.tokens,
        "moment_refs": ids(|s| matches!(s, context::Source::Moment(_))),
    });
    let moment = pb::Moment {
        id: String::new(),
        name: render::cut(plan.question().trim(), MAX_MOMENT_NAME_CHARS),
        summary: render::cut(answer.trim(), MAX_MOMENT_SUMMARY_CHARS),
        start_time: Some(convert::micros_timestamp(started)),
        end_time: Some(convert::micros_timestamp(now_micros().max(started))),
        moment_type: CHAT_MOMENT_TYPE.into(),
        tags: Vec::new(),
        entity_refs: ids(|s| matches!(s, context::Source::Entity(_))),
        resource_refs: ids(|s| matches!(s, context::Source::Resource(..))),
        metadata: metadata.as_object().map(percolate_proto::json::json_to_struct),
    };
    convert::moment_in(moment)
}
