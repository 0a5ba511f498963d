//! The messages a language model is sent: the node's instructions with the
//! numbered context, the application's system turns, then as much of the
//! conversation as fits, newest turns first.

use percolate_openai::ChatMessage;

use super::context::{Context, estimate_tokens};
use super::request::{ChatPlan, Role};

/// Budget of the conversation turns shown to the model, in estimated
/// tokens; the question itself is always shown.
const HISTORY_TOKENS: usize = 6000;

/// What the model is told before the context.
const INSTRUCTIONS: &str = "You answer questions from the user's own memory, kept in Percolate. \
The numbered context below was retrieved for this question from their documents (resources), \
the people, organisations and other things in them (entities) and their timeline (moments). \
Base the answer on the context. Cite the numbers of the items you use in square brackets, for example [1] or [2][3]. \
If the context does not hold the answer, say that you could not find it in their memory rather than guessing.";

/// The messages for `plan`'s question, and how many older turns were left out.
pub fn messages(plan: &ChatPlan, context: &Context, now: &str) -> (Vec<ChatMessage>, u32) {
    let mut system = format!("{INSTRUCTIONS}\n\nCurrent time: {now}\n\nContext:\n");
    if context.items.is_empty() {
        system.push_str("(nothing in the user's memory matched this question)\n");
    }
    for item in &context.items {
        system.push_str(&format!("\n[{}] {}\n", item.number, item.text));
    }
    let mut out = vec![ChatMessage::new("system", system)];
    out.extend(plan.turns.iter().filter(|t| t.role == Role::System).map(|t| ChatMessage::new("system", t.content.clone())));
    let dialogue: Vec<_> = plan.turns.iter().filter(|t| t.role != Role::System).collect();
    let mut kept = Vec::new();
    let mut spent = 0;
    for (i, turn) in dialogue.iter().rev().enumerate() {
        let tokens = estimate_tokens(&turn.content);
        if i > 0 && spent + tokens > HISTORY_TOKENS {
            break;
        }
        spent += tokens;
        kept.push(ChatMessage::new(turn.role.as_str(), turn.content.clone()));
    }
    let dropped = (dialogue.len() - kept.len()) as u32;
    out.extend(kept.into_iter().rev());
    (out, dropped)
}
