//! How context items are shown to the model and to the reader: one short
//! header line, then the text.

use std::collections::HashMap;

use percolate_rem::model::{Edge, Entity, MomentData, Resource};
use uuid::Uuid;

use super::context::{Context, Source, Why};
use crate::convert::micros_timestamp;

/// Longest property list shown for an entity, in characters.
const MAX_PROPERTIES_CHARS: usize = 600;
/// Most relations listed for an entity.
const MAX_RELATIONS: usize = 12;
/// Longest moment summary shown, in characters.
const MAX_SUMMARY_CHARS: usize = 1500;

/// A resource chunk: where it is from, then its text.
pub fn resource(resource: &Resource, score: f32) -> String {
    let data = &resource.data;
    format!("resource {} (chunk {}, similarity {score:.2})\n{}", data.uri, data.chunk_ordinal, data.content.trim())
}

/// The name an entity goes by: its `name` or `title` property, else its key.
pub fn entity_name(entity: &Entity) -> String {
    ["name", "title"].iter().find_map(|p| entity.properties.get(*p).and_then(|v| v.as_str()).map(str::to_string)).unwrap_or_else(|| entity.key.clone())
}

/// An entity: type, name and key, its properties, and its relations to the
/// other entities of the context.
pub fn entity(entity: &Entity, edges: &[Edge], known: &HashMap<Uuid, &Entity>) -> String {
    let mut text = format!("entity {} \"{}\" (key {})", entity.entity_type, entity_name(entity), entity.key);
    let mut properties = entity.properties.clone();
    properties.remove("name");
    if !properties.is_empty() {
        let json = serde_json::Value::Object(properties).to_string();
        text.push_str("\nproperties: ");
        text.push_str(&cut(&json, MAX_PROPERTIES_CHARS));
    }
    let mut relations = Vec::new();
    for edge in edges {
        let (other, arrow) = match (edge.src == entity.id, edge.dst == entity.id) {
            (true, _) => (edge.dst, "->"),
            (_, true) => (edge.src, "<-"),
            _ => continue,
        };
        if let Some(other) = known.get(&other) {
            relations.push(format!("{} {arrow} {} \"{}\"", edge.rel_type, other.entity_type, entity_name(other)));
        }
    }
    if !relations.is_empty() {
        let more = relations.len().saturating_sub(MAX_RELATIONS);
        relations.truncate(MAX_RELATIONS);
        text.push_str("\nrelations: ");
        text.push_str(&relations.join("; "));
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
    }
    text
}

/// A moment: name, type and time, then its summary.
pub fn moment(moment: &MomentData) -> String {
    let mut text = format!("moment \"{}\"", moment.name);
    if !moment.moment_type.is_empty() {
        text.push_str(&format!(" ({})", moment.moment_type));
    }
    text.push_str(&format!(" at {}", micros_timestamp(moment.start_time)));
    if let Some(end) = moment.end_time {
        text.push_str(&format!(" until {}", micros_timestamp(end)));
    }
    if !moment.tags.is_empty() {
        text.push_str(&format!(" tags: {}", moment.tags.join(", ")));
    }
    if !moment.summary.trim().is_empty() {
        text.push('\n');
        text.push_str(&cut(moment.summary.trim(), MAX_SUMMARY_CHARS));
    }
    text
}

/// A one-line label of an item, for lists.
pub fn label(source: &Source) -> String {
    match source {
        Source::Resource(r, _) => format!("{} (chunk {})", r.data.uri, r.data.chunk_ordinal),
        Source::Entity(e) => format!("{} \"{}\"", e.entity_type, entity_name(e)),
        Source::Moment(m) => format!("moment \"{}\" at {}", m.name, micros_timestamp(m.start_time)),
    }
}

/// Why an item is in the context, naming other items by their numbers.
pub fn reason(why: &Why, context: &Context) -> String {
    let refer = |id: &Uuid| match context.item_of(*id) {
        Some(item) => format!("[{}]", item.number),
        None => "a retrieved item".to_string(),
    };
    match why {
        Why::Similar => "similar to the question".into(),
        Why::Question => "named in the question".into(),
        Why::Passage(id) => format!("named in {}", refer(id)),
        Why::Neighbour { of, rel, outgoing: true } => format!("{} {rel} it", refer(of)),
        Why::Neighbour { of, rel, outgoing: false } => format!("it {rel} {}", refer(of)),
        Why::RefersTo(ids) => format!("refers to {}", ids.iter().map(refer).collect::<Vec<_>>().join(", ")),
        Why::Window => "in the time window".into(),
    }
}

/// `text` cut to at most `chars` characters at a word boundary, marked `…`.
pub fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut end = text.char_indices().nth(chars.saturating_sub(1)).map_or(text.len(), |(i, _)| i);
    if let Some(space) = text[..end].rfind(char::is_whitespace).filter(|&s| s > end / 2) {
        end = space;
    }
    format!("{}…", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_short_texts_and_cuts_long_ones_at_a_word() {
        assert_eq!(cut("short", 10), "short");
        let long = cut("the quick brown fox jumps over the lazy dog", 20);
        assert!(long.chars().count() <= 20, "{long}");
        assert!(long.ends_with('…') && long.starts_with("the quick"), "{long}");
        // Multi-byte characters are never split.
        assert_eq!(cut("ééééé", 3).chars().count(), 3);
    }
}
