//! JSON, flattened to readable `path: value` lines (`author.name: Ada`,
//! `tags[0]: math`).
//!
//! The document is streamed through a serde visitor, so no value tree is
//! built: memory is the output text plus the current path. Values nested
//! deeper than [`MAX_DEPTH`] are skipped (serde_json skips values without
//! recursion), so nesting cannot exhaust the stack.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::text::{LineSections, TextBudget, decode};
use crate::{Document, ExtractError, Kind, Limits, Section};

/// Deepest level whose values are flattened.
const MAX_DEPTH: usize = 64;

/// Extracts a JSON file under `limits`. Invalid JSON is
/// [`ExtractError::Corrupt`].
pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let text = decode(bytes, "json")?;
    let mut out = Flattener {
        budget: TextBudget::new(limits),
        lines: LineSections::new(Section::default()),
        title: None,
        error: None,
    };
    let mut path = String::new();
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed = Node {
        path: &mut path,
        out: &mut out,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some(error) = out.error.take() {
        return Err(error);
    }
    parsed.map_err(|e| ExtractError::corrupt("json", e))?;
    Ok(Document {
        kind: Kind::Json,
        title: out.title,
        sections: out.lines.finish(),
        pages: None,
    })
}

/// Collects the lines into sections.
struct Flattener {
    budget: TextBudget,
    lines: LineSections,
    title: Option<String>,
    /// A limit hit inside the visitor, reported instead of serde's error.
    error: Option<ExtractError>,
}

impl Flattener {
    fn line<E: de::Error>(&mut self, path: &str, value: &str) -> Result<(), E> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(());
        }
        if path == "title" && self.title.is_none() {
            self.title = Some(value.chars().take(1000).collect());
        }
        let line = if path.is_empty() {
            value.to_string()
        } else {
            format!("{path}: {value}")
        };
        if let Err(e) = self.budget.spend(&line) {
            self.error = Some(e);
            return Err(E::custom("text limit reached"));
        }
        self.lines.push_line(&line);
        Ok(())
    }
}

/// One value at `path`.
struct Node<'p> {
    path: &'p mut String,
    out: &'p mut Flattener,
    depth: usize,
}

impl Node<'_> {
    fn child(&mut self) -> Node<'_> {
        Node {
            path: self.path,
            out: self.out,
            depth: self.depth + 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return deserializer.deserialize_ignored_any(IgnoredAny).map(|_| ());
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.line(self.path, if v { "true" } else { "false" })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out.line(self.path, &v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out.line(self.path, &v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.out.line(self.path, &v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.out.line(self.path, v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let base = self.path.len();
        let mut index = 0usize;
        loop {
            self.path.truncate(base);
            self.path.push_str(&format!("[{index}]"));
            if seq.next_element_seed(self.child())?.is_none() {
                break;
            }
            index += 1;
        }
        self.path.truncate(base);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let base = self.path.len();
        while let Some(key) = map.next_key::<String>()? {
            self.path.truncate(base);
            if base > 0 {
                self.path.push('.');
            }
            self.path.push_str(&key);
            map.next_value_seed(self.child())?;
        }
        self.path.truncate(base);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deep_values_are_skipped_not_fatal() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let doc = extract(
            format!("{{\"a\": 1, \"b\": {deep}}}").as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].text, "a: 1");
    }

    #[test]
    fn absurd_nesting_is_skipped_without_recursion() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(
            extract(deep.as_bytes(), &Limits::default())
                .unwrap()
                .sections
                .is_empty()
        );
        let unclosed = "[".repeat(100_000);
        assert!(matches!(
            extract(unclosed.as_bytes(), &Limits::default()),
            Err(ExtractError::Corrupt { .. })
        ));
    }
}
