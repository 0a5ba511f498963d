//! `Database.Chat` against a real node with the real embedding model and a
//! real OpenAI-compatible chat server (`testkit/servers/chat_server.py`,
//! which records the prompts it receives): retrieval from all three kinds of
//! memory, citations before the answer, token-by-token streaming, upstream
//! failures as clear statuses, the extractive mode, recording the exchange
//! as a moment, and tenant isolation.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::DbProcess;
use percolate_sdk::{Client, EntityInput, ResourceInput, pb};
use percolate_testkit::{CHAT_API_KEY, ChatServer};
use serde_json::{Value, json};
use tonic::Code;

const HANDBOOK: &str = "Alice Martin leads the platform team at Acme Corp. She owns the billing service and its move to Postgres.";
const RECIPE: &str = "To bake sourdough bread, feed the starter the night before. Bake the loaf at 250 degrees for forty minutes.";
const TRAVEL: &str = "The Lisbon offsite is planned for March. Flights are booked through the travel desk by the end of January.";

/// What a chat call produced, up to its end or its error.
#[derive(Debug, Default)]
struct Answer {
    citations: Vec<pb::Citation>,
    deltas: Vec<String>,
    done: Option<pb::ChatDone>,
    error: Option<tonic::Status>,
    /// `c`, `d` and `D` for each event in arrival order.
    order: String,
}

impl Answer {
    fn text(&self) -> String {
        self.deltas.concat()
    }

    fn resources(&self) -> Vec<&pb::Resource> {
        self.citations.iter().filter_map(|c| match &c.source {
            Some(pb::citation::Source::Resource(r)) => Some(r),
            _ => None,
        }).collect()
    }

    fn entities(&self) -> Vec<(&pb::Entity, &str)> {
        self.citations.iter().filter_map(|c| match &c.source {
            Some(pb::citation::Source::Entity(e)) => Some((e, c.reason.as_str())),
            _ => None,
        }).collect()
    }

    fn moments(&self) -> Vec<&pb::Moment> {
        self.citations.iter().filter_map(|c| match &c.source {
            Some(pb::citation::Source::Moment(m)) => Some(m),
            _ => None,
        }).collect()
    }
}

async fn ask(client: &Client, request: pb::ChatRequest) -> Answer {
    let mut answer = Answer::default();
    let mut events = match client.raw().chat(client.request(request)).await {
        Ok(events) => events.into_inner(),
        Err(status) => {
            answer.error = Some(status);
            return answer;
        }
    };
    loop {
        match events.message().await {
            Ok(Some(event)) => match event.event.expect("an event") {
                pb::chat_event::Event::Citation(c) => {
                    answer.order.push('c');
                    answer.citations.push(c);
                }
                pb::chat_event::Event::Delta(d) => {
                    answer.order.push('d');
                    answer.deltas.push(d);
                }
                pb::chat_event::Event::Done(done) => {
                    answer.order.push('D');
                    answer.done = Some(done);
                }
            },
            Ok(None) => return answer,
            Err(status) => {
                answer.error = Some(status);
                return answer;
            }
        }
    }
}

fn question(text: &str) -> pb::ChatRequest {
    pb::ChatRequest { question: text.into(), ..Default::default() }
}

fn turn(role: pb::ChatRole, content: &str) -> pb::ChatMessage {
    pb::ChatMessage { role: role as i32, content: content.into() }
}

fn days_ago(days: u64) -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now() - Duration::from_secs(days * 86_400))
}

/// The person entity key the extractor gives "Alice Martin" (what the
/// worker stores), so the node finds her when a text names her.
fn person_key(name: &str) -> String {
    let found = percolate_extract::find_entities(&format!("{name} said so."));
    let person = found.iter().find(|f| f.kind == percolate_extract::EntityKind::Person).unwrap_or_else(|| panic!("the extractor finds {name}: {found:?}"));
    person.key.clone()
}

/// Writes the memory the tests ask about: three documents (one stored
/// twice under another uri), Alice with an edge to the billing service, a
/// recent moment about her and an old one.
async fn seed(client: &Client, secret: &str) -> (String, String) {
    let resources = vec![
        ResourceInput::new("doc://handbook", HANDBOOK),
        ResourceInput::new("doc://handbook-copy", HANDBOOK),
        ResourceInput::new("doc://recipes", RECIPE),
        ResourceInput::new("doc://travel", TRAVEL),
        ResourceInput::new("doc://vault", format!("The vault code of this tenant is {secret}.")),
    ];
    client.put_resources(resources, false).await.expect("put resources");
    let alice = EntityInput::new("person", person_key("Alice Martin")).properties(json!({"name": "Alice Martin", "role": "platform lead", "secret": secret}));
    let billing = EntityInput::new("project", "billing-service").properties(json!({"name": "Billing service", "status": "moving to Postgres"}));
    let stored = client.upsert_entities(vec![alice, billing]).await.expect("upsert");
    let (alice, billing) = (stored[0].id.clone(), stored[1].id.clone());
    client.add_edge(&alice, "owns", &billing).await.expect("edge");
    let recent = pb::Moment {
        name: "Platform team standup".into(),
        summary: format!("Alice reported the billing migration is on track ({secret})."),
        start_time: Some(days_ago(1)),
        moment_type: "meeting".into(),
        entity_refs: vec![alice.clone()],
        ..Default::default()
    };
    let old = pb::Moment { name: "Dentist appointment".into(), start_time: Some(days_ago(40)), moment_type: "personal".into(), ..Default::default() };
    client.raw().put_moments(client.request(pb::PutMomentsRequest { moments: vec![recent, old], ..Default::default() })).await.expect("moments");
    (alice, billing)
}

fn start_node(dir: &std::path::Path, server: &ChatServer, key: &str) -> DbProcess {
    DbProcess::start_with_env(
        dir,
        &["--embedding-mode", "required", "--chat-url", server.base_url(), "--chat-model", "test-model"],
        &[("PERCOLATE_CHAT_API_KEY", key), ("PERCOLATE_CHAT_TIMEOUT_SECS", "2")],
    )
}

#[tokio::test]
async fn the_answer_streams_from_the_model_with_its_context_cited_first() {
    let server = ChatServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = start_node(dir.path(), &server, CHAT_API_KEY);
    let client = db.client("acme").await;
    let (alice, billing) = seed(&client, "1111-alpha").await;

    let request = pb::ChatRequest {
        messages: vec![
            turn(pb::ChatRole::System, "Answer in one sentence."),
            turn(pb::ChatRole::User, "Who leads the platform team?"),
            turn(pb::ChatRole::Assistant, "Alice Martin does [1]."),
        ],
        question: "What does Alice Martin own?".into(),
        moments_after: Some(days_ago(7)),
        temperature: Some(0.25),
        max_tokens: 200,
        record_moment: true,
        ..Default::default()
    };
    let answer = ask(&client, request).await;
    assert!(answer.error.is_none(), "{:?}", answer.error);
    let first_delta = answer.order.find('d').expect("some text");
    assert!(answer.order[..first_delta].chars().all(|c| c == 'c') && first_delta > 0, "citations come first: {}", answer.order);
    assert!(answer.order.ends_with('D') && answer.order.matches('D').count() == 1, "{}", answer.order);

    // What was retrieved: the handbook once (its copy repeats it), Alice
    // named in the question, the billing service one edge away, the
    // recent moment but not the one outside the window.
    let uris: Vec<&str> = answer.resources().iter().map(|r| r.uri.as_str()).collect();
    assert!(uris[0].starts_with("doc://handbook"), "{uris:?}");
    assert_eq!(answer.resources().iter().filter(|r| r.content == HANDBOOK).count(), 1, "{uris:?}");
    let entities = answer.entities();
    let named = entities.iter().find(|(e, _)| e.id == alice).expect("Alice is cited");
    assert_eq!(named.1, "named in the question");
    let neighbour = entities.iter().find(|(e, _)| e.id == billing).expect("the billing service is cited");
    assert!(neighbour.1.contains("owns"), "{}", neighbour.1);
    let moments: Vec<&str> = answer.moments().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(moments, vec!["Platform team standup"]);
    let numbers: Vec<u32> = answer.citations.iter().map(|c| c.number).collect();
    assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());

    // What the model was sent: the settings, the context, the conversation.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent["authorization"], format!("Bearer {CHAT_API_KEY}"));
    let body = &sent["body"];
    assert_eq!((body["model"].as_str(), body["stream"].as_bool(), body["max_tokens"].as_u64()), (Some("test-model"), Some(true), Some(200)));
    assert!((body["temperature"].as_f64().expect("temperature") - 0.25).abs() < 1e-6);
    let messages = body["messages"].as_array().expect("messages");
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().expect("role")).collect();
    assert_eq!(roles, vec!["system", "system", "user", "assistant", "user"]);
    let context = messages[0]["content"].as_str().expect("context");
    for (n, citation) in answer.citations.iter().enumerate() {
        assert!(context.contains(&format!("[{}] ", n + 1)), "item {} is in the prompt", citation.number);
    }
    assert!(context.contains(HANDBOOK) && context.contains("Billing service") && context.contains("owns ->") && context.contains("Platform team standup"), "{context}");
    assert!(!context.contains("Dentist"), "{context}");
    assert_eq!(messages[1]["content"], "Answer in one sentence.");
    assert_eq!(messages[4]["content"], "What does Alice Martin own?");

    // Token by token, in order, exactly what the model wrote.
    let pieces: Vec<String> = sent["answer"].as_array().expect("answer").iter().map(|p| p.as_str().expect("piece").to_string()).collect();
    assert_eq!(answer.deltas, pieces);
    assert!(answer.text().starts_with("From your memory [1]:"), "{}", answer.text());

    // The exchange is on the feed.
    let done = answer.done.as_ref().expect("done");
    assert_eq!((done.model.as_str(), done.extractive, done.omitted_items, done.dropped_messages), ("test-model", false, 0, 0));
    assert!(done.context_tokens > 0 && done.context_tokens <= 3000, "{}", done.context_tokens);
    let recorded = client.get_moments(vec![done.moment_id.clone()]).await.expect("get").moments;
    assert_eq!(recorded.len(), 1);
    let moment = &recorded[0];
    assert_eq!((moment.moment_type.as_str(), moment.name.as_str(), moment.summary.as_str()), ("chat", "What does Alice Martin own?", answer.text().trim()));
    let handbook_id = answer.resources()[0].id.clone();
    assert!(moment.resource_refs.contains(&handbook_id) && moment.entity_refs.contains(&alice) && moment.entity_refs.contains(&billing), "{moment:?}");

    // `extractive` on a node with a model: quoted, the model not called.
    let quoted = ask(&client, pb::ChatRequest { model: "extractive".into(), ..question("Who owns the billing service?") }).await;
    assert_eq!(quoted.done.as_ref().map(|d| (d.model.as_str(), d.extractive)), Some(("extractive", true)), "{quoted:?}");
    assert_eq!(server.requests().len(), 1);
    // The recorded exchange is not context for later answers.
    assert!(quoted.moments().iter().all(|m| m.moment_type != "chat"), "{:?}", quoted.moments());
    let names: Vec<&str> = quoted.moments().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["Platform team standup", "Dentist appointment"], "the one referring to a cited entity first");

    let metrics = db.admin_get("/metrics");
    for line in ["percolate_chat_answers_total{writer=\"model\",outcome=\"ok\"} 1", "percolate_chat_answers_total{writer=\"extractive\",outcome=\"ok\"} 1", "percolate_chat_first_piece_seconds_count 2", "percolate_chat_retrieval_seconds_count 2"] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn upstream_failures_are_clear_statuses_and_never_hang() {
    let server = ChatServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = start_node(dir.path(), &server, CHAT_API_KEY);
    let client = db.client("failures").await;
    seed(&client, "2222").await;
    let with_model = |model: &str| pb::ChatRequest { model: model.into(), ..question("What does Alice Martin own?") };

    // Failures before the answer starts: a plain error, no events.
    for (model, code) in [("fail-500", Code::Unavailable), ("unknown-model", Code::InvalidArgument), ("slow-start", Code::DeadlineExceeded)] {
        let started = Instant::now();
        let answer = ask(&client, with_model(model)).await;
        let status = answer.error.as_ref().unwrap_or_else(|| panic!("{model} fails: {answer:?}"));
        assert_eq!(status.code(), code, "{model}: {status:?}");
        assert!(answer.order.is_empty(), "{model}: no event before the error: {}", answer.order);
        assert!(started.elapsed() < Duration::from_secs(8), "{model} took {:?}", started.elapsed());
    }
    // Failures once the answer streams: citations and the good pieces,
    // then the error, never `done` and never the garbage.
    for (model, code, pieces) in [("stall", Code::DeadlineExceeded, 1), ("garbage", Code::Internal, 1), ("cut", Code::Internal, 2)] {
        let started = Instant::now();
        let answer = ask(&client, with_model(model)).await;
        let status = answer.error.as_ref().unwrap_or_else(|| panic!("{model} fails: {answer:?}"));
        assert_eq!(status.code(), code, "{model}: {status:?}");
        assert!(answer.done.is_none(), "{model}");
        assert_eq!(answer.deltas.len(), pieces, "{model}: {:?}", answer.deltas);
        assert!(!answer.text().contains("not json"), "{model}: {}", answer.text());
        assert!(answer.order.starts_with('c'), "{model}: {}", answer.order);
        assert!(started.elapsed() < Duration::from_secs(8), "{model} took {:?}", started.elapsed());
    }
    assert!(server.requests().iter().all(|r| !r["body"]["messages"].to_string().contains("sk-")), "the key is never in a prompt");
    let metrics = db.admin_get("/metrics");
    for outcome in ["Unavailable\"} 1", "InvalidArgument\"} 1", "DeadlineExceeded\"} 2", "Internal\"} 2"] {
        assert!(metrics.contains(&format!("percolate_chat_answers_total{{writer=\"model\",outcome=\"{outcome}")), "{outcome} in\n{metrics}");
    }

    // A key the model server refuses is the node's configuration.
    let other = tempfile::tempdir().expect("tempdir");
    let misconfigured = start_node(other.path(), &server, "sk-wrong");
    let answer = ask(&misconfigured.client("failures").await, question("anything?")).await;
    let status = answer.error.expect("refused");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(!status.message().contains("sk-wrong"), "{}", status.message());

    // The node is fine afterwards.
    let fine = ask(&client, question("What does Alice Martin own?")).await;
    assert!(fine.done.is_some(), "{fine:?}");
}

#[tokio::test]
async fn without_a_model_the_answer_quotes_the_right_passages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "required"]);
    let client = db.client("quotes").await;
    seed(&client, "3333").await;

    let answer = ask(&client, question("How long do I bake sourdough bread?")).await;
    assert!(answer.error.is_none(), "{:?}", answer.error);
    assert_eq!(answer.resources()[0].uri, "doc://recipes");
    let text = answer.text();
    assert!(text.starts_with("Extractive answer"), "{text}");
    assert!(text.contains("Bake the loaf at 250 degrees for forty minutes. [1]"), "{text}");
    assert!(!text.contains("Lisbon"), "{text}");
    let done = answer.done.expect("done");
    assert_eq!((done.model.as_str(), done.extractive), ("extractive", true));

    let travel = ask(&client, question("When is the Lisbon offsite?")).await;
    assert_eq!(travel.resources()[0].uri, "doc://travel");
    assert!(travel.text().contains("The Lisbon offsite is planned for March. [1]"), "{}", travel.text());

    // Nothing related: said plainly, nothing quoted.
    let none = ask(&client, pb::ChatRequest { include_entities: Some(false), include_moments: Some(false), ..question("What is the airspeed of a swallow?") }).await;
    assert!(none.resources().is_empty(), "{:?}", none.resources());
    assert!(none.text().contains("Nothing in this tenant's memory matches the question."), "{}", none.text());

    // A name written in lower case is still found in the question.
    let lower = ask(&client, pb::ChatRequest { include_moments: Some(false), ..question("what does alice martin own?") }).await;
    let entities = lower.entities();
    let alice = entities.iter().find(|(e, _)| e.r#type == "person").expect("Alice is cited");
    assert_eq!(alice.1, "named in the question", "{entities:?}");

    // A named model on a node without one is refused, not silently quoted.
    let refused = ask(&client, pb::ChatRequest { model: "gpt-4o".into(), ..question("anything?") }).await;
    assert_eq!(refused.error.map(|s| s.code()), Some(Code::FailedPrecondition));

    // A small budget: fewer items, counted, within it.
    let small = ask(&client, pb::ChatRequest { context_tokens: 60, top_k: 5, min_score: Some(-1.0), ..question("What does Alice Martin own?") }).await;
    let done = small.done.expect("done");
    assert!(done.context_tokens <= 60 && done.omitted_items > 0, "{done:?}");
}

#[tokio::test]
async fn context_never_includes_another_tenants_memory() {
    let server = ChatServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = start_node(dir.path(), &server, CHAT_API_KEY);
    let a = db.client("tenant-a").await;
    let b = db.client("tenant-b").await;
    let (alice_a, _) = seed(&a, "1111-alpha").await;
    let (alice_b, _) = seed(&b, "9999-bravo").await;
    // Same keys, same ids in both tenants: the data differs.
    assert_eq!(alice_a, alice_b);

    let answer = ask(&a, pb::ChatRequest { moments_after: Some(days_ago(7)), ..question("What is the vault code, and what does Alice Martin own?") }).await;
    assert!(answer.done.is_some(), "{answer:?}");
    let prompt = server.requests()[0]["body"]["messages"].to_string();
    assert!(prompt.contains("1111-alpha"), "{prompt}");
    assert!(!prompt.contains("9999") && !prompt.contains("bravo"), "{prompt}");
    for resource in answer.resources() {
        let in_a = a.get_resources(vec![resource.id.clone()]).await.expect("get").resources;
        assert_eq!(in_a.first().map(|r| &r.content), Some(&resource.content));
    }
    let cited: Value = json!(answer.citations.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>());
    assert!(!cited.to_string().contains("bravo"), "{cited}");

    let extractive = ask(&b, pb::ChatRequest { model: "extractive".into(), ..question("What is the vault code?") }).await;
    assert!(extractive.text().contains("9999-bravo") && !extractive.text().contains("1111"), "{}", extractive.text());
}

#[tokio::test]
async fn bad_chat_requests_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbProcess::start_with(dir.path(), &["--embedding-mode", "required"]);
    let client = db.client("bad").await;
    let cases: Vec<(&str, pb::ChatRequest)> = vec![
        ("no question", pb::ChatRequest::default()),
        ("blank question", question("   ")),
        ("ends with the assistant", pb::ChatRequest { messages: vec![turn(pb::ChatRole::User, "hi"), turn(pb::ChatRole::Assistant, "hello")], ..Default::default() }),
        ("no role", pb::ChatRequest { messages: vec![turn(pb::ChatRole::Unspecified, "hi")], ..question("q?") }),
        ("unknown role", pb::ChatRequest { messages: vec![pb::ChatMessage { role: 42, content: "hi".into() }], ..question("q?") }),
        ("too many turns", pb::ChatRequest { messages: (0..101).map(|_| turn(pb::ChatRole::User, "again")).collect(), ..Default::default() }),
        ("huge turn", question(&"x".repeat(40_000))),
        ("hot", pb::ChatRequest { temperature: Some(3.0), ..question("q?") }),
        ("NaN temperature", pb::ChatRequest { temperature: Some(f32::NAN), ..question("q?") }),
        ("NaN min_score", pb::ChatRequest { min_score: Some(f32::NAN), ..question("q?") }),
        ("top_k", pb::ChatRequest { top_k: 51, ..question("q?") }),
        ("budget", pb::ChatRequest { context_tokens: 100_001, ..question("q?") }),
        ("window", pb::ChatRequest { moments_after: Some(days_ago(1)), moments_before: Some(days_ago(2)), ..question("q?") }),
        ("max_tokens", pb::ChatRequest { max_tokens: 1_000_000, ..question("q?") }),
    ];
    for (what, request) in cases {
        let answer = ask(&client, request).await;
        let status = answer.error.unwrap_or_else(|| panic!("{what} is refused"));
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(answer.order.is_empty(), "{what}");
    }
    let bad_tenant = db.client("../etc").await;
    assert_eq!(ask(&bad_tenant, question("q?")).await.error.map(|s| s.code()), Some(Code::InvalidArgument));
    // Nothing was written by the refusals.
    assert_eq!(client.tenant_stats().await.expect("stats").moments, 0);
}
