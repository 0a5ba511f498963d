//! The streamed chat-completions client against a real HTTP server on a
//! loopback port that speaks the protocol (server-sent events) and records
//! what it was sent. Each scenario is chosen by the base URL's first segment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use percolate_openai::{ChatCompleter, ChatConfig, ChatMessage, ChatOptions, OpenAiError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Requests received: (path, authorization header, JSON body).
type Seen = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

async fn serve() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            tokio::spawn(answer(socket, recorded.clone()));
        }
    });
    (format!("http://{address}"), seen)
}

fn chunk(text: &str) -> String {
    format!("data: {}\n\n", serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "model": "served-model", "choices": [{"index": 0, "delta": {"content": text}}]}))
}

async fn answer(mut socket: TcpStream, seen: Seen) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, body) = loop {
        let n = socket.read(&mut buf).await.expect("read");
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..at]).into_owned();
            let length: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
            while request.len() < at + 4 + length {
                let n = socket.read(&mut buf).await.expect("read body");
                request.extend_from_slice(&buf[..n]);
            }
            break (head, request[at + 4..at + 4 + length].to_vec());
        }
    };
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let auth = head.lines().find_map(|l| l.strip_prefix("authorization: ").or_else(|| l.strip_prefix("Authorization: "))).unwrap_or_default().to_string();
    seen.lock().expect("lock").push((path.clone(), auth, serde_json::from_slice(&body).unwrap_or_default()));
    let scenario = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let stream_head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    let mut events: Vec<String> = Vec::new();
    let mut stall_after = None;
    match scenario.as_str() {
        "ok" => events.extend([
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n".to_string(),
            ": keep-alive\n\n".to_string(),
            chunk("Hel"),
            chunk("lo"),
            chunk(" world [1]"),
            "data: [DONE]\n\n".to_string(),
        ]),
        "early" => events.push(chunk("cut")),
        "garbage" => events.extend([chunk("fine"), "data: {oops\n\n".to_string()]),
        "stall" => {
            events.push(chunk("first"));
            stall_after = Some(Duration::from_secs(5));
        }
        // Keep-alive comments and empty chunks for 6 s, never more text.
        "pings" => {
            events.push(chunk("first"));
            for i in 0..200 {
                events.push(if i % 2 == 0 { ": ping\n\n".to_string() } else { chunk("") });
            }
        }
        "broken" => {
            let body = r#"{"error":{"message":"the model crashed","type":"server_error"}}"#;
            let reply = format!("HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(reply.as_bytes()).await;
            return;
        }
        "denied" => {
            let body = r#"{"error":{"message":"Incorrect API key provided"}}"#;
            let reply = format!("HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(reply.as_bytes()).await;
            return;
        }
        _ => {}
    }
    let _ = socket.write_all(stream_head.as_bytes()).await;
    for event in events {
        // Pieces arrive one by one, as tokens do.
        let _ = socket.write_all(event.as_bytes()).await;
        let _ = socket.flush().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    if let Some(stall) = stall_after {
        tokio::time::sleep(stall).await;
    }
}

fn completer(base: &str, scenario: &str, timeout: Duration) -> ChatCompleter {
    ChatCompleter::new(ChatConfig { base_url: format!("{base}/{scenario}/v1"), api_key: Some("sk-test".into()), model: "default-model".into(), timeout }).expect("client")
}

async fn collect(completer: &ChatCompleter) -> (Vec<String>, Option<OpenAiError>) {
    let messages = [ChatMessage::new("system", "Answer from the context."), ChatMessage::new("user", "Say hello")];
    let mut stream = match completer.stream(&messages, &ChatOptions::default()).await {
        Ok(stream) => stream,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut deltas = Vec::new();
    loop {
        match stream.next_delta().await {
            Ok(Some(delta)) => deltas.push(delta),
            Ok(None) => return (deltas, None),
            Err(error) => return (deltas, Some(error)),
        }
    }
}

#[tokio::test]
async fn tokens_stream_in_order_and_the_request_follows_the_protocol() {
    let (base, seen) = serve().await;
    let client = completer(&base, "ok", Duration::from_secs(5));
    let messages = [ChatMessage::new("system", "Answer from the context."), ChatMessage::new("user", "Say hello")];
    let options = ChatOptions { model: Some("picked-model".into()), temperature: Some(0.2), max_tokens: Some(64) };
    let mut stream = client.stream(&messages, &options).await.expect("stream");
    let mut deltas = Vec::new();
    while let Some(delta) = stream.next_delta().await.expect("delta") {
        deltas.push(delta);
    }
    assert_eq!(deltas, ["Hel", "lo", " world [1]"]);
    assert_eq!(stream.model(), "served-model", "the model the server names");
    assert_eq!(stream.next_delta().await.expect("after done"), None);
    let seen = seen.lock().expect("lock");
    let (path, auth, body) = &seen[0];
    assert_eq!(path, "/ok/v1/chat/completions");
    assert_eq!(auth, "Bearer sk-test");
    assert_eq!(body["model"], "picked-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 64);
    assert!((body["temperature"].as_f64().unwrap_or_default() - 0.2).abs() < 1e-6);
    assert_eq!(body["messages"], serde_json::json!([{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": "Say hello"}]));
}

#[tokio::test]
async fn upstream_failures_are_clear_errors_and_never_a_short_answer() {
    let (base, _) = serve().await;
    let (deltas, error) = collect(&completer(&base, "broken", Duration::from_secs(5))).await;
    assert!(deltas.is_empty());
    let error = error.expect("500 is an error");
    assert!(matches!(error, OpenAiError::Unavailable { .. }) && error.is_retryable() && error.to_string().contains("the model crashed"), "{error}");

    let (_, error) = collect(&completer(&base, "denied", Duration::from_secs(5))).await;
    let error = error.expect("401 is an error");
    assert!(matches!(error, OpenAiError::Rejected { status: 401, .. }) && !error.is_retryable() && !error.to_string().contains("sk-test"), "{error}");

    let (deltas, error) = collect(&completer(&base, "early", Duration::from_secs(5))).await;
    assert_eq!(deltas, ["cut"]);
    assert!(matches!(error, Some(OpenAiError::Malformed { ref detail, .. }) if detail.contains("before [DONE]")), "{error:?}");

    let (deltas, error) = collect(&completer(&base, "garbage", Duration::from_secs(5))).await;
    assert_eq!(deltas, ["fine"]);
    assert!(matches!(error, Some(OpenAiError::Malformed { ref detail, .. }) if detail.contains("not JSON")), "{error:?}");

    let started = Instant::now();
    let (deltas, error) = collect(&completer(&base, "stall", Duration::from_secs(1))).await;
    assert_eq!(deltas, ["first"]);
    assert!(matches!(error, Some(OpenAiError::Timeout { .. })), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "the stall is cut at the 1 s timeout, not waited out");

    // Pings do not keep an answer that writes nothing alive.
    let started = Instant::now();
    let (deltas, error) = collect(&completer(&base, "pings", Duration::from_secs(1))).await;
    assert_eq!(deltas, ["first"]);
    assert!(matches!(error, Some(OpenAiError::Timeout { .. })), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "pings are not pieces of text: {:?}", started.elapsed());

    let dead = TcpListener::bind("127.0.0.1:0").await.expect("port").local_addr().expect("address");
    let (_, error) = collect(&completer(&format!("http://{dead}"), "ok", Duration::from_secs(2))).await;
    assert!(matches!(error, Some(OpenAiError::Unavailable { .. })), "{error:?}");
}
