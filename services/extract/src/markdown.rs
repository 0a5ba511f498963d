//! Markdown: plain text without markup, one section per heading.
//!
//! Each heading starts a section whose `heading` is the heading's text;
//! code blocks are kept as text; the title is the first level-1 heading
//! (or a `title:` in YAML front matter when there is none).

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::text::{
    TextBudget, collapse, decode, find_ignore_case, no_panic, push_section, tidy_lines,
};
use crate::{Document, ExtractError, Kind, Limits, Section};

/// Extracts a Markdown file under `limits`.
pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let text = decode(bytes, "markdown")?;
    no_panic("markdown", || walk(&text, limits))
}

fn walk(text: &str, limits: &Limits) -> Result<Document, ExtractError> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_MATH
        | Options::ENABLE_DEFINITION_LIST;
    let mut out = Builder::new(limits);
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                out.flush();
                out.target = Target::Heading;
            }
            Event::End(TagEnd::Heading(level)) => out.end_heading(level),
            Event::Start(Tag::MetadataBlock(_)) => out.target = Target::Metadata,
            Event::End(TagEnd::MetadataBlock(_)) => out.target = Target::Body,
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                out.push(&t)?;
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                let text = out.html.strip(&html);
                out.push(&text)?;
            }
            Event::SoftBreak | Event::HardBreak => out.push("\n")?,
            Event::Rule => out.push("\n\n")?,
            Event::End(TagEnd::TableCell) => out.push("\t")?,
            Event::End(
                TagEnd::Item | TagEnd::TableRow | TagEnd::TableHead | TagEnd::DefinitionListTitle,
            ) => {
                out.push("\n")?;
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::CodeBlock
                | TagEnd::HtmlBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::Table
                | TagEnd::FootnoteDefinition
                | TagEnd::DefinitionListDefinition,
            ) => out.push("\n\n")?,
            _ => {}
        }
    }
    Ok(out.finish())
}

/// Where text goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Body,
    Heading,
    Metadata,
}

struct Builder {
    budget: TextBudget,
    target: Target,
    heading: Option<String>,
    heading_text: String,
    body: String,
    metadata: String,
    title: Option<String>,
    sections: Vec<Section>,
    html: HtmlStripper,
}

impl Builder {
    fn new(limits: &Limits) -> Self {
        Self {
            budget: TextBudget::new(limits),
            target: Target::Body,
            heading: None,
            heading_text: String::new(),
            body: String::new(),
            metadata: String::new(),
            title: None,
            sections: Vec::new(),
            html: HtmlStripper::default(),
        }
    }

    fn push(&mut self, text: &str) -> Result<(), ExtractError> {
        self.budget.spend(text)?;
        match self.target {
            Target::Body => self.body.push_str(text),
            Target::Heading => self.heading_text.push_str(text),
            Target::Metadata if self.metadata.len() < 64 * 1024 => self.metadata.push_str(text),
            Target::Metadata => {}
        }
        Ok(())
    }

    fn end_heading(&mut self, level: HeadingLevel) {
        let heading = collapse(&self.heading_text);
        self.heading_text.clear();
        self.target = Target::Body;
        if heading.is_empty() {
            return;
        }
        if level == HeadingLevel::H1 && self.title.is_none() {
            self.title = Some(heading.clone());
        }
        self.heading = Some(heading);
    }

    /// Ends the current section (see [`push_section`]).
    fn flush(&mut self) {
        push_section(
            &mut self.sections,
            &mut self.heading,
            &tidy_lines(&self.body),
        );
        self.body.clear();
    }

    fn finish(mut self) -> Document {
        self.flush();
        let title = self
            .title
            .take()
            .or_else(|| front_matter_title(&self.metadata));
        Document {
            kind: Kind::Markdown,
            title,
            sections: self.sections,
            pages: None,
        }
    }
}

/// `title:` from YAML front matter.
fn front_matter_title(metadata: &str) -> Option<String> {
    metadata.lines().find_map(|line| {
        let value = line
            .strip_prefix("title:")?
            .trim()
            .trim_matches(['"', '\''])
            .trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Drops the tags of raw HTML inside Markdown and keeps its text, except
/// inside `<script>`, `<style>` and comments. Raw HTML arrives in pieces
/// (line by line), so the state carries across calls.
#[derive(Default)]
struct HtmlStripper {
    in_tag: bool,
    in_comment: bool,
    skipping: Option<&'static str>,
}

impl HtmlStripper {
    fn strip(&mut self, html: &str) -> String {
        let mut out = String::new();
        let mut rest = html;
        while !rest.is_empty() {
            if self.in_comment {
                match rest.find("-->") {
                    Some(end) => {
                        self.in_comment = false;
                        rest = &rest[end + 3..];
                    }
                    None => break,
                }
            } else if self.in_tag {
                match rest.find('>') {
                    Some(end) => {
                        self.in_tag = false;
                        rest = &rest[end + 1..];
                    }
                    None => break,
                }
            } else if let Some(close) = self.skipping {
                match find_ignore_case(rest, close) {
                    Some(end) => {
                        self.skipping = None;
                        rest = &rest[end..];
                    }
                    None => break,
                }
            } else if let Some(start) = rest.find('<') {
                out.push_str(&rest[..start]);
                rest = &rest[start..];
                if rest.starts_with("<!--") {
                    self.in_comment = true;
                    rest = &rest[4..];
                    continue;
                }
                if starts_with_ignore_case(rest, "<script") {
                    self.skipping = Some("</script");
                } else if starts_with_ignore_case(rest, "<style") {
                    self.skipping = Some("</style");
                }
                self.in_tag = true;
                rest = &rest[1..];
            } else {
                out.push_str(rest);
                break;
            }
        }
        out
    }
}

fn starts_with_ignore_case(haystack: &str, prefix: &str) -> bool {
    haystack
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strips_inline_html() {
        let mut s = HtmlStripper::default();
        assert_eq!(
            s.strip("<div class=\"x\">Hello <b>there</b></div>"),
            "Hello there"
        );
        assert_eq!(s.strip("<script>var x = 1;"), "");
        assert_eq!(s.strip("x < 2</script>after"), "after");
        assert_eq!(s.strip("<!-- hidden"), "");
        assert_eq!(s.strip("still --> shown"), " shown");
    }

    #[test]
    fn front_matter() {
        assert_eq!(
            front_matter_title("author: x\ntitle: \"My Doc\"\n").as_deref(),
            Some("My Doc")
        );
    }
}
