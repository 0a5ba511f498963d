//! `percolate chat`: asks the tenant's memory, streaming the answer. With
//! `-m` one question is asked; without it, questions are read line by line
//! and the conversation is kept.

use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use percolate_sdk::{Client, pb};
use serde_json::json;

/// Most conversation turns sent with a question.
const MAX_TURNS_KEPT: usize = 40;

/// Options of `percolate chat`.
#[derive(clap::Args)]
pub struct ChatArgs {
    /// Ask this question and exit (without it: one question per line until
    /// an empty line or end of input).
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// Language model to answer with (`extractive` quotes the passages
    /// instead; default: the server's).
    #[arg(long)]
    pub model: Option<String>,
    /// Resources retrieved as context.
    #[arg(long, default_value_t = 5)]
    pub top_k: u32,
    /// Leave entities out of the context.
    #[arg(long)]
    pub no_entities: bool,
    /// Leave moments out of the context.
    #[arg(long)]
    pub no_moments: bool,
    /// Only moments of this last period: `30m`, `12h`, `7d`.
    #[arg(long)]
    pub since: Option<String>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Most answer tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Instructions for the model, before the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Record each exchange as a moment.
    #[arg(long)]
    pub record: bool,
}

/// Runs `percolate chat`.
pub async fn run(client: &Client, args: ChatArgs, as_json: bool) -> Result<()> {
    let mut conversation: Vec<pb::ChatMessage> = Vec::new();
    if let Some(system) = &args.system {
        conversation.push(message(pb::ChatRole::System, system));
    }
    if let Some(question) = &args.message {
        conversation.push(message(pb::ChatRole::User, question));
        ask(client, &args, conversation, as_json).await?;
        return Ok(());
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        eprint!("> ");
        let Some(line) = lines.next() else { return Ok(()) };
        let line = line.context("cannot read the question")?;
        if line.trim().is_empty() {
            return Ok(());
        }
        conversation.push(message(pb::ChatRole::User, &line));
        match ask(client, &args, conversation.clone(), as_json).await {
            Ok(answer) => conversation.push(message(pb::ChatRole::Assistant, &answer)),
            Err(error) => {
                // The session goes on; the failed question is forgotten.
                eprintln!("error: {error:#}");
                conversation.pop();
            }
        }
        // The server takes 100 turns at most: forget the oldest exchanges
        // (the system instructions stay).
        let keep_from = usize::from(args.system.is_some());
        while conversation.len() > MAX_TURNS_KEPT {
            conversation.drain(keep_from..keep_from + 2);
        }
    }
}

fn message(role: pb::ChatRole, content: &str) -> pb::ChatMessage {
    pb::ChatMessage { role: role as i32, content: content.to_string() }
}

/// Asks the conversation's last question; prints the sources, then the
/// answer as it arrives. Returns the answer's text.
async fn ask(client: &Client, args: &ChatArgs, messages: Vec<pb::ChatMessage>, as_json: bool) -> Result<String> {
    let moments_after = args.since.as_deref().map(since).transpose()?;
    let request = pb::ChatRequest {
        messages,
        top_k: args.top_k,
        include_entities: Some(!args.no_entities),
        include_moments: Some(!args.no_moments),
        moments_after,
        model: args.model.clone().unwrap_or_default(),
        temperature: args.temperature,
        max_tokens: args.max_tokens.unwrap_or_default(),
        record_moment: args.record,
        ..Default::default()
    };
    let mut events = client.chat(request).await?;
    let mut answer = String::new();
    let mut stdout = std::io::stdout();
    let mut started = false;
    while let Some(event) = events.message().await? {
        match event.event {
            Some(pb::chat_event::Event::Citation(citation)) if as_json => println!("{}", json!({"citation": citation_json(&citation)})),
            Some(pb::chat_event::Event::Citation(citation)) => println!("[{}] {}  ({})", citation.number, citation_label(&citation), citation.reason),
            Some(pb::chat_event::Event::Delta(piece)) => {
                if !as_json {
                    if !started {
                        println!();
                        started = true;
                    }
                    print!("{piece}");
                    stdout.flush()?;
                }
                answer.push_str(&piece);
            }
            Some(pb::chat_event::Event::Done(done)) => {
                if as_json {
                    println!("{}", json!({"answer": answer, "model": done.model, "extractive": done.extractive, "moment_id": done.moment_id, "context_tokens": done.context_tokens}));
                } else {
                    let recorded = if done.moment_id.is_empty() { String::new() } else { format!(", recorded as moment {}", done.moment_id) };
                    let end = if answer.ends_with('\n') { "" } else { "\n" };
                    println!("{end}\n({}{recorded})", done.model);
                }
                return Ok(answer);
            }
            None => {}
        }
    }
    anyhow::bail!("the answer ended before it was complete")
}

fn citation_label(citation: &pb::Citation) -> String {
    match &citation.source {
        Some(pb::citation::Source::Resource(r)) => format!("{}#{} score {:.2}", r.uri, r.chunk_ordinal, citation.score),
        Some(pb::citation::Source::Entity(e)) => format!("{} {}", e.r#type, e.key),
        Some(pb::citation::Source::Moment(m)) => format!("moment {} ({})", m.name, m.moment_type),
        None => String::new(),
    }
}

fn citation_json(citation: &pb::Citation) -> serde_json::Value {
    let (kind, id) = match &citation.source {
        Some(pb::citation::Source::Resource(r)) => ("resource", r.id.clone()),
        Some(pb::citation::Source::Entity(e)) => ("entity", e.id.clone()),
        Some(pb::citation::Source::Moment(m)) => ("moment", m.id.clone()),
        None => ("", String::new()),
    };
    json!({"number": citation.number, "kind": kind, "id": id, "label": citation_label(citation), "score": citation.score, "reason": citation.reason})
}

/// The start of a period ending now: `30m`, `12h`, `7d`.
fn since(period: &str) -> Result<prost_types::Timestamp> {
    let units = [('m', 60), ('h', 3600), ('d', 86_400)];
    let (number, seconds) = units
        .iter()
        .find_map(|(unit, seconds)| period.strip_suffix(*unit).map(|number| (number, *seconds)))
        .with_context(|| format!("--since '{period}' must be a number followed by m, h or d"))?;
    let number: u64 = number.parse().with_context(|| format!("--since '{period}' must be a number followed by m, h or d"))?;
    let start = SystemTime::now().checked_sub(Duration::from_secs(number.saturating_mul(seconds))).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(prost_types::Timestamp::from(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_bad_ones_are_errors() {
        let day = since("1d").expect("1d").seconds;
        let now = prost_types::Timestamp::from(SystemTime::now()).seconds;
        assert!((now - day - 86_400).abs() <= 2, "{now} {day}");
        for bad in ["", "d", "5µ", "µ", "5x", "-1h", "1.5h"] {
            assert!(since(bad).is_err(), "{bad}");
        }
    }
}
