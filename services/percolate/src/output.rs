//! Printing results as aligned tables or JSON.

use percolate_sdk::{pb, struct_to_json};
use serde_json::{Value, json};

fn print_json(value: Value) {
    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
}

fn time(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| format!("{}", t.seconds)).unwrap_or_default()
}

fn truncate(text: &str, width: usize) -> String {
    let flat = text.replace('\n', " ");
    if flat.chars().count() <= width { flat } else { format!("{}…", flat.chars().take(width - 1).collect::<String>()) }
}

/// Prints written ids.
pub fn ids(ids: &[String], as_json: bool) {
    if as_json {
        print_json(json!({ "ids": ids }));
    } else {
        ids.iter().for_each(|id| println!("{id}"));
    }
}

/// Prints search hits.
pub fn hits(hits: &[pb::SearchHit], as_json: bool) {
    let rows: Vec<(f32, &pb::Resource)> = hits.iter().filter_map(|h| h.resource.as_ref().map(|r| (h.score, r))).collect();
    if as_json {
        print_json(Value::Array(rows.iter().map(|(score, r)| json!({"score": score, "id": r.id, "uri": r.uri, "chunk": r.chunk_ordinal, "content": r.content, "tags": r.tags})).collect()));
        return;
    }
    println!("{:>7}  {:<36}  {:<30}  CONTENT", "SCORE", "ID", "URI");
    for (score, r) in rows {
        println!("{score:>7.4}  {:<36}  {:<30}  {}", r.id, truncate(&format!("{}#{}", r.uri, r.chunk_ordinal), 30), truncate(&r.content, 60));
    }
}

/// Prints entities with their properties and edges.
pub fn entities(entities: &[pb::Entity], as_json: bool) {
    let to_json = |e: &pb::Entity| {
        json!({
            "id": e.id, "type": e.r#type, "key": e.key,
            "properties": e.properties.as_ref().map(struct_to_json).unwrap_or(Value::Null),
            "edges": e.edges.iter().map(|x| json!({"rel_type": x.rel_type, "dst": x.dst, "weight": x.weight})).collect::<Vec<_>>(),
        })
    };
    if as_json {
        print_json(Value::Array(entities.iter().map(to_json).collect()));
        return;
    }
    for e in entities {
        println!("{}/{}  {}", e.r#type, e.key, e.id);
        if let Some(props) = &e.properties {
            println!("  properties: {}", struct_to_json(props));
        }
        for edge in &e.edges {
            println!("  -[{}]-> {}", edge.rel_type, edge.dst);
        }
    }
}

/// Prints a traversal.
pub fn traversal(walk: &pb::TraverseResponse, as_json: bool) {
    if as_json {
        let nodes: Vec<Value> = walk.nodes.iter().filter_map(|n| n.entity.as_ref().map(|e| json!({"depth": n.depth, "id": e.id, "type": e.r#type, "key": e.key}))).collect();
        let edges: Vec<Value> = walk.edges.iter().map(|e| json!({"src": e.src, "rel_type": e.rel_type, "dst": e.dst})).collect();
        print_json(json!({"nodes": nodes, "edges": edges, "truncated": walk.truncated}));
        return;
    }
    println!("{:>5}  {:<36}  ENTITY", "DEPTH", "ID");
    for node in &walk.nodes {
        if let Some(e) = &node.entity {
            println!("{:>5}  {:<36}  {}/{}", node.depth, e.id, e.r#type, e.key);
        }
    }
    if walk.truncated {
        println!("(truncated: raise the limit to see more)");
    }
}

/// Prints moments.
pub fn moments(moments: &[pb::Moment], as_json: bool) {
    if as_json {
        print_json(Value::Array(moments.iter().map(|m| json!({"id": m.id, "name": m.name, "type": m.moment_type, "start_unix": m.start_time.as_ref().map(|t| t.seconds), "summary": m.summary, "tags": m.tags})).collect()));
        return;
    }
    println!("{:<12}  {:<16}  {:<30}  SUMMARY", "START", "TYPE", "NAME");
    for m in moments {
        println!("{:<12}  {:<16}  {:<30}  {}", time(&m.start_time), truncate(&m.moment_type, 16), truncate(&m.name, 30), truncate(&m.summary, 50));
    }
}

/// Prints jobs, one line each.
pub fn jobs(jobs: &[pb::Job], as_json: bool) {
    let state = |j: &pb::Job| j.state().as_str_name().trim_start_matches("JOB_STATE_").to_lowercase();
    if as_json {
        print_json(Value::Array(
            jobs.iter()
                .map(|j| {
                    let request = j.request.clone().unwrap_or_default();
                    let result = j.result.unwrap_or_default();
                    json!({"id": j.id, "state": state(j), "stage": j.stage, "progress": j.progress, "attempts": j.attempts, "error": j.error,
                           "uri": request.uri, "object_key": request.object_key, "created_unix": j.created_at.as_ref().map(|t| t.seconds),
                           "result": {"resources": result.resources, "entities": result.entities, "moments": result.moments}})
                })
                .collect(),
        ));
        return;
    }
    println!("{:<36}  {:<10}  {:>5}  {:<24}  {:<30}  ERROR", "ID", "STATE", "DONE", "STAGE", "URI");
    for j in jobs {
        let uri = j.request.as_ref().map(|r| r.uri.as_str()).unwrap_or_default();
        println!("{:<36}  {:<10}  {:>4.0}%  {:<24}  {:<30}  {}", j.id, state(j), j.progress * 100.0, truncate(&j.stage, 24), truncate(uri, 30), truncate(&j.error, 60));
    }
}

/// Prints tenant statistics.
pub fn stats(stats: &pb::TenantStats, as_json: bool) {
    if as_json {
        print_json(json!({"tenant": stats.tenant_id, "resources": stats.resources, "embedded_resources": stats.embedded_resources, "entities": stats.entities, "moments": stats.moments, "vector_dimension": stats.vector_dimension, "disk_bytes": stats.disk_bytes}));
        return;
    }
    println!("tenant             {}", stats.tenant_id);
    println!("resources          {} ({} embedded)", stats.resources, stats.embedded_resources);
    println!("entities           {}", stats.entities);
    println!("moments            {}", stats.moments);
    println!("vector dimension   {}", stats.vector_dimension);
    println!("disk bytes         {}", stats.disk_bytes);
}
