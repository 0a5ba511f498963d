//! A `ChatRequest` checked and with its defaults filled in.

use percolate_proto::v1 as pb;
use percolate_rem::SearchFilter;

use crate::convert;
use crate::error::DbError;
use crate::service::or_default;

type Result<T> = std::result::Result<T, DbError>;

/// The model name that asks for an extractive answer.
pub const EXTRACTIVE: &str = "extractive";
/// Most turns of a conversation.
const MAX_TURNS: usize = 100;
/// Longest turn, in bytes.
const MAX_TURN_BYTES: usize = 32 << 10;
/// Largest conversation, in bytes.
const MAX_CONVERSATION_BYTES: usize = 256 << 10;
/// Longest model name.
const MAX_MODEL_NAME: usize = 200;
/// Most tokens a request may ask the model to write.
const MAX_ANSWER_TOKENS: u32 = 32_768;
/// Most resources in the context.
const MAX_RESOURCES: u32 = 50;
/// Most entities or moments in the context.
const MAX_ITEMS_OF_A_KIND: u32 = 50;
/// Largest context budget, in estimated tokens.
const MAX_CONTEXT_TOKENS: u32 = 100_000;
/// Default context budget.
const DEFAULT_CONTEXT_TOKENS: u32 = 3000;
/// Default least similarity of a retrieved resource.
const DEFAULT_MIN_SCORE: f32 = 0.2;

/// Who wrote a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Instructions of the application.
    System,
    /// The person asking.
    User,
    /// An earlier answer.
    Assistant,
}

impl Role {
    /// The role's name in the chat-completions protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation.
#[derive(Clone, Debug)]
pub struct Turn {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

/// How an answer is written.
#[derive(Clone, Debug, PartialEq)]
pub enum Writer {
    /// By the configured language model, or the named one.
    Model(Option<String>),
    /// By quoting the retrieved passages.
    Extractive,
}

/// What to retrieve and how to answer.
#[derive(Clone, Debug)]
pub struct ChatPlan {
    /// The conversation, ending with the user turn to answer.
    pub turns: Vec<Turn>,
    /// Resources to retrieve.
    pub top_k: usize,
    /// Conditions on them.
    pub filter: SearchFilter,
    /// Least similarity of a retrieved resource.
    pub min_score: f32,
    /// Most entities (0: none).
    pub max_entities: usize,
    /// Most moments (0: none).
    pub max_moments: usize,
    /// Moments starting after this time (microseconds).
    pub moments_after: Option<i64>,
    /// Moments starting before this time (microseconds).
    pub moments_before: Option<i64>,
    /// Context budget in estimated tokens.
    pub context_tokens: usize,
    /// Who writes the answer.
    pub writer: Writer,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most answer tokens.
    pub max_tokens: Option<u32>,
    /// Record the exchange as a moment.
    pub record_moment: bool,
}

impl ChatPlan {
    /// Checks `request`; `has_model` says whether the node has a language
    /// model configured (without one, answers are extractive).
    pub fn from_request(request: pb::ChatRequest, has_model: bool) -> Result<Self> {
        let mut turns = request.messages.into_iter().map(turn_in).collect::<Result<Vec<_>>>()?;
        if !request.question.trim().is_empty() {
            turns.push(Turn { role: Role::User, content: request.question });
        }
        if turns.len() > MAX_TURNS {
            return Err(DbError::invalid(format!("{} conversation turns; the limit is {MAX_TURNS}", turns.len())));
        }
        for turn in &turns {
            if turn.content.len() > MAX_TURN_BYTES {
                return Err(DbError::invalid(format!("a {} turn of {} bytes; the limit is {MAX_TURN_BYTES}", turn.role.as_str(), turn.content.len())));
            }
        }
        let total: usize = turns.iter().map(|t| t.content.len()).sum();
        if total > MAX_CONVERSATION_BYTES {
            return Err(DbError::invalid(format!("a conversation of {total} bytes; the limit is {MAX_CONVERSATION_BYTES}")));
        }
        match turns.last() {
            None => return Err(DbError::invalid("chat needs a question: set `question` or end `messages` with a user turn")),
            Some(last) if last.role != Role::User => {
                return Err(DbError::invalid(format!("the conversation must end with a user turn (the question to answer), not a {} turn", last.role.as_str())));
            }
            Some(last) if last.content.trim().is_empty() => return Err(DbError::invalid("the question (the last user turn) is empty")),
            Some(_) => {}
        }
        let writer = writer_in(request.model, has_model)?;
        if let Some(t) = request.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(DbError::invalid(format!("temperature {t} is outside 0 to 2")));
        }
        if request.max_tokens > MAX_ANSWER_TOKENS {
            return Err(DbError::invalid(format!("max_tokens {} is over the limit of {MAX_ANSWER_TOKENS}", request.max_tokens)));
        }
        let min_score = match request.min_score {
            Some(score) if score.is_nan() => return Err(DbError::invalid("min_score is NaN")),
            Some(score) => score,
            None => DEFAULT_MIN_SCORE,
        };
        let moments_after = request.moments_after.as_ref().map(convert::timestamp_micros).transpose()?;
        let moments_before = request.moments_before.as_ref().map(convert::timestamp_micros).transpose()?;
        if let (Some(after), Some(before)) = (moments_after, moments_before)
            && after >= before
        {
            return Err(DbError::invalid("moments_after must be earlier than moments_before"));
        }
        let max_entities = match request.include_entities {
            Some(false) => 0,
            _ => or_default(request.max_entities, 10, MAX_ITEMS_OF_A_KIND, "max_entities")? as usize,
        };
        let max_moments = match request.include_moments {
            Some(false) => 0,
            _ => or_default(request.max_moments, 5, MAX_ITEMS_OF_A_KIND, "max_moments")? as usize,
        };
        Ok(Self {
            turns,
            top_k: or_default(request.top_k, 5, MAX_RESOURCES, "top_k")? as usize,
            filter: convert::filter_in(request.filter)?,
            min_score,
            max_entities,
            max_moments,
            moments_after,
            moments_before,
            context_tokens: or_default(request.context_tokens, DEFAULT_CONTEXT_TOKENS, MAX_CONTEXT_TOKENS, "context_tokens")? as usize,
            writer,
            temperature: request.temperature,
            max_tokens: (request.max_tokens > 0).then_some(request.max_tokens),
            record_moment: request.record_moment,
        })
    }

    /// The question: the last user turn.
    pub fn question(&self) -> &str {
        self.turns.last().map_or("", |t| t.content.as_str())
    }

    /// The user turn before the question, which gives a follow-up question
    /// ("and when was that?") its subject.
    pub fn previous_question(&self) -> Option<&str> {
        self.turns[..self.turns.len().saturating_sub(1)].iter().rev().find(|t| t.role == Role::User).map(|t| t.content.as_str())
    }
}

fn turn_in(message: pb::ChatMessage) -> Result<Turn> {
    let role = match pb::ChatRole::try_from(message.role) {
        Ok(pb::ChatRole::System) => Role::System,
        Ok(pb::ChatRole::User) => Role::User,
        Ok(pb::ChatRole::Assistant) => Role::Assistant,
        Ok(pb::ChatRole::Unspecified) => return Err(DbError::invalid("a conversation turn has no role: use system, user or assistant")),
        Err(_) => return Err(DbError::invalid(format!("unknown chat role {}", message.role))),
    };
    Ok(Turn { role, content: message.content })
}

fn writer_in(model: String, has_model: bool) -> Result<Writer> {
    let model = model.trim().to_string();
    if model.len() > MAX_MODEL_NAME {
        return Err(DbError::invalid(format!("a model name of {} bytes; the limit is {MAX_MODEL_NAME}", model.len())));
    }
    match (model.as_str(), has_model) {
        (EXTRACTIVE, _) | ("", false) => Ok(Writer::Extractive),
        ("", true) => Ok(Writer::Model(None)),
        (_, true) => Ok(Writer::Model(Some(model))),
        (name, false) => Err(DbError::FailedPrecondition(format!(
            "model '{name}' was asked for but this node has no language model configured (chat_url): leave model empty or ask for '{EXTRACTIVE}'"
        ))),
    }
}
