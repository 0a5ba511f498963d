//! HTML: the rendered text (html2text drops `<script>`, `<style>` and the
//! document head), one section per heading, title from `<title>`.
//!
//! Headings are found by rendering them with a private-use marker character
//! as their prefix, then splitting the text on lines that carry it (the
//! marker is removed from the input first, so a page cannot fake one).
//! Nothing is ever fetched: images and links are only text here.

use html2text::render::{TaggedLine, TextDecorator};

use crate::text::{
    MAX_TITLE_CHARS, TextBudget, decode, find_ignore_case, no_panic, push_section, title_text,
};
use crate::{Document, ExtractError, Kind, Limits};

/// Marks heading lines in the rendered text.
const MARK: char = '\u{E000}';

/// Rendering width: long enough that few lines wrap.
const WIDTH: usize = 400;

/// Extracts an HTML file under `limits`.
pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let decoded = decode(bytes, "html")?.replace(MARK, "\u{FFFD}");
    // html5ever and html2text are quadratic in nesting depth.
    let html = limit_nesting(&decoded);
    let title = no_panic("html", || Ok(title(&html))).unwrap_or(None);
    let rendered = no_panic("html", || {
        html2text::config::with_decorator(Marker)
            .raw_mode(true)
            .allow_width_overflow()
            .string_from_read(html.as_bytes(), WIDTH)
            .map_err(|e| ExtractError::corrupt("html", e))
    })?;
    let mut budget = TextBudget::new(limits);
    let mut sections = Vec::new();
    let mut heading: Option<String> = None;
    let mut body = String::new();
    let mut in_heading = false;
    for line in rendered.lines() {
        budget.spend(line)?;
        match line.rfind(MARK) {
            Some(at) => {
                let text = line[at + MARK.len_utf8()..].trim();
                if in_heading {
                    // A long heading wraps: every line carries the marker.
                    if let Some(h) = heading.as_mut().filter(|_| !text.is_empty()) {
                        h.push(' ');
                        h.push_str(text);
                    }
                } else {
                    push_section(&mut sections, &mut heading, &body);
                    body.clear();
                    heading = (!text.is_empty()).then(|| text.to_string());
                }
                in_heading = true;
            }
            None => {
                in_heading = false;
                body.push_str(line.trim_end());
                body.push('\n');
            }
        }
    }
    push_section(&mut sections, &mut heading, &body);
    Ok(Document {
        kind: Kind::Html,
        title,
        sections,
        pages: None,
    })
}

/// The text of the first `<title>` element. Its content cannot hold tags
/// (it is raw text up to `</title`), so it is cut out directly and only its
/// character references are decoded, by html5ever.
fn title(html: &str) -> Option<String> {
    let start = find_tag(html, "<title")?;
    let after_open = start + html[start..].find('>')? + 1;
    let end =
        after_open + find_tag(&html[after_open..], "</title").unwrap_or(html.len() - after_open);
    let raw: String = html[after_open..end]
        .chars()
        .take(MAX_TITLE_CHARS * 8)
        .collect();
    let escaped = format!("<p>{}</p>", raw.replace('<', "&lt;"));
    let text = html2text::config::plain_no_decorate()
        .allow_width_overflow()
        .string_from_read(escaped.as_bytes(), 100_000)
        .ok()?;
    title_text(&text)
}

/// Byte offset of a tag name (`<title`, `</title`) ignoring ASCII case,
/// followed by `>` or whitespace.
fn find_tag(html: &str, tag: &str) -> Option<usize> {
    let mut from = 0;
    // `from` follows a matched `<`, so it is a character boundary.
    while let Some(at) = find_ignore_case(&html[from..], tag) {
        let at = from + at;
        match html.as_bytes().get(at + tag.len()) {
            Some(b) if *b == b'>' || b.is_ascii_whitespace() || *b == b'/' => return Some(at),
            None => return None,
            _ => from = at + 1,
        }
    }
    None
}

/// Deepest element nesting handed to the parser; deeper tags are dropped
/// (their text is kept).
const MAX_NESTING: usize = 128;

/// Most formatting elements (`<b>`, `<a>`...) left unclosed: the parser
/// re-opens every one of them in each new block, even after the block they
/// were opened in has ended.
const MAX_FORMATTING: usize = 6;

const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag (`noscript` is not:
/// the parser runs with scripting disabled).
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rb",
    "rt", "rp", "rtc", "colgroup", "caption",
];
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Elements that stop the parser from closing through them: an end tag
/// that is not theirs (and not a block end tag) is ignored at them.
const SPECIAL: &[&str] = &[
    "address",
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "iframe",
    "img",
    "input",
    "keygen",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "p",
    "param",
    "plaintext",
    "pre",
    "script",
    "search",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
    "svg",
    "math",
];
/// Elements that bound the scope a block end tag closes within.
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "svg",
    "math",
];
/// HTML elements that end SVG/MathML content even when self-closed.
const BREAKOUT: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strong",
    "strike",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
    "font",
];

/// Drops the start (and matching end) tags that would nest elements deeper
/// than [`MAX_NESTING`] or leave more than [`MAX_FORMATTING`] formatting
/// elements open. It follows the parser's open elements with a cheap scan
/// that errs on the deep side (it never closes an element the parser would
/// keep open), which bounds the parser's quadratic costs. Ordinary pages
/// come back unchanged.
fn limit_nesting(html: &str) -> std::borrow::Cow<'_, str> {
    let mut scan = NestingScan::default();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            at = start + rest.find("-->").map_or(rest.len(), |end| end + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            at = start + rest.find('>').map_or(rest.len(), |end| end + 1);
            continue;
        }
        let closing = rest.starts_with("</");
        let name_at = if closing { 2 } else { 1 };
        if !rest[name_at..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            at = start + 1;
            continue;
        }
        let name_len = rest[name_at..]
            .bytes()
            .take_while(u8::is_ascii_alphanumeric)
            .count();
        let name = rest[name_at..name_at + name_len].to_ascii_lowercase();
        let end = start + tag_end(rest);
        at = end;
        if closing {
            scan.end_tag(name, (start, end));
        } else if RAW_TEXT.contains(&name.as_str()) {
            // Tags inside raw text are text: skip to the closing tag.
            let close = format!("</{name}");
            at = find_ignore_case(&html[end..], &close).map_or(html.len(), |p| end + p);
        } else {
            scan.start_tag(name, html[start..end].ends_with("/>"), (start, end));
        }
    }
    if scan.cuts.is_empty() {
        return std::borrow::Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut from = 0;
    for (start, end) in scan.cuts {
        out.push_str(&html[from..start]);
        out.push(' ');
        from = end;
    }
    out.push_str(&html[from..]);
    std::borrow::Cow::Owned(out)
}

/// The parser state [`limit_nesting`] follows.
#[derive(Default)]
struct NestingScan {
    /// Open elements, innermost last.
    open: Vec<String>,
    /// Formatting elements not yet closed by their end tag.
    formatting: Vec<String>,
    /// Start tags dropped, by name, so their end tags go too.
    dropped: std::collections::HashMap<String, usize>,
    /// Byte ranges of the tags to remove.
    cuts: Vec<(usize, usize)>,
}

impl NestingScan {
    fn start_tag(&mut self, name: String, self_closed: bool, span: (usize, usize)) {
        let name_ref = name.as_str();
        if VOID.contains(&name_ref) {
            return;
        }
        let foreign = self.open.iter().any(|n| n == "svg" || n == "math");
        if self_closed && foreign && !BREAKOUT.contains(&name_ref) {
            return;
        }
        self.auto_close(name_ref);
        let is_formatting = FORMATTING.contains(&name_ref);
        if self.open.len() >= MAX_NESTING
            || (is_formatting && self.formatting.len() >= MAX_FORMATTING)
        {
            *self.dropped.entry(name).or_default() += 1;
            self.cuts.push(span);
            return;
        }
        if is_formatting {
            self.formatting.push(name.clone());
        }
        self.open.push(name);
    }

    /// The elements a start tag closes implicitly (`<li>` ends an open
    /// list item...), only where the parser surely closes them.
    fn auto_close(&mut self, name: &str) {
        let top = self.open.last().map(String::as_str);
        let (targets, stops): (&[&str], fn(&str) -> bool) = match name {
            "li" => (&["li"], |n| {
                SPECIAL.contains(&n) && !matches!(n, "address" | "div" | "p")
            }),
            "dd" | "dt" => (&["dd", "dt"], |n| {
                SPECIAL.contains(&n) && !matches!(n, "address" | "div" | "p")
            }),
            "p" => (&["p"], |n| SCOPE.contains(&n) || n == "button"),
            "td" | "th" => (&["td", "th"], |n| n == "table"),
            "tr" => (&["tr"], |n| n == "table"),
            "thead" | "tbody" | "tfoot" => (&["thead", "tbody", "tfoot"], |n| n == "table"),
            "caption" | "colgroup" => (&["caption", "colgroup"], |n| n == "table"),
            "option" | "optgroup" | "rb" | "rt" | "rp" | "rtc" => {
                if top.is_some_and(|t| OPTIONAL_END.contains(&t) && (t == name || t == "option")) {
                    self.open.pop();
                }
                return;
            }
            _ => return,
        };
        for pos in (0..self.open.len()).rev() {
            let node = self.open[pos].as_str();
            if targets.contains(&node) {
                self.open.truncate(pos);
                return;
            }
            if stops(node) {
                return;
            }
        }
    }

    fn end_tag(&mut self, name: String, span: (usize, usize)) {
        if let Some(count) = self.dropped.get_mut(&name).filter(|c| **c > 0) {
            *count -= 1;
            self.cuts.push(span);
            return;
        }
        if let Some(pos) = self.formatting.iter().rposition(|n| *n == name) {
            self.formatting.remove(pos);
        }
        match name.as_str() {
            // These end tags do not pop anything in the parser.
            "html" | "body" | "head" | "br" => {}
            // `</form>` removes the form element only, not its children.
            "form" => {
                if let Some(pos) = self.open.iter().rposition(|n| n == "form") {
                    self.open.remove(pos);
                }
            }
            _ => {
                let block = SPECIAL.contains(&name.as_str());
                for pos in (0..self.open.len()).rev() {
                    let node = self.open[pos].as_str();
                    if node == name {
                        self.open.truncate(pos);
                        break;
                    }
                    let stop = if block {
                        SCOPE.contains(&node)
                    } else {
                        SPECIAL.contains(&node)
                    };
                    if stop {
                        break;
                    }
                }
            }
        }
    }
}

/// The length of the tag at the start of `rest`, through its `>`, or all of
/// `rest` when it never ends. Follows the tokenizer: a quote only opens an
/// attribute value right after `=`.
fn tag_end(rest: &str) -> usize {
    #[derive(Clone, Copy)]
    enum State {
        Name,
        Before,
        Attribute,
        After,
        BeforeValue,
        Quoted(u8),
        Unquoted,
    }
    let mut state = State::Name;
    for (i, &c) in rest.as_bytes().iter().enumerate().skip(1) {
        let space = c.is_ascii_whitespace();
        state = match (state, c) {
            (State::Quoted(q), _) => {
                if c == q {
                    State::Before
                } else {
                    State::Quoted(q)
                }
            }
            (_, b'>') => return i + 1,
            (State::Name | State::Unquoted, _) if space => State::Before,
            (State::Name, b'/') => State::Before,
            (State::Name, _) => State::Name,
            (State::Unquoted, _) => State::Unquoted,
            (State::Before, _) if space || c == b'/' => State::Before,
            (State::Before, _) => State::Attribute,
            (State::Attribute | State::After, b'=') => State::BeforeValue,
            (State::Attribute | State::After, _) if space => State::After,
            (State::Attribute | State::After, b'/') => State::Before,
            (State::Attribute | State::After, _) => State::Attribute,
            (State::BeforeValue, _) if space => State::BeforeValue,
            (State::BeforeValue, b'"' | b'\'') => State::Quoted(c),
            (State::BeforeValue, _) => State::Unquoted,
        };
    }
    rest.len()
}

/// Renders plain text, with [`MARK`] before every heading line and without
/// link footnotes or emphasis markers.
#[derive(Debug, Clone, Copy)]
struct Marker;

impl TextDecorator for Marker {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        String::new()
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_string(), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        format!("{MARK} ")
    }
    fn quote_prefix(&self) -> String {
        "  ".to_string()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        Marker
    }
    fn decorate_superscript_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_superscript_end(&self) -> String {
        String::new()
    }
    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<()>> {
        Vec::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_limited_and_normal_pages_untouched() {
        let page = "<html><body><ul><li>a<li>b</ul><p>x<p>y<script>if (a<b) {}</script><svg><path/></svg></body></html>";
        assert!(matches!(limit_nesting(page), std::borrow::Cow::Borrowed(_)));
        let deep = format!("{}text{}", "<div>".repeat(200), "</div>".repeat(200));
        let limited = limit_nesting(&deep);
        assert_eq!(limited.matches("<div>").count(), MAX_NESTING);
        assert_eq!(limited.matches("</div>").count(), MAX_NESTING);
        assert!(limited.contains("text"));
        let bold = "<b id=x>".repeat(50);
        assert_eq!(limit_nesting(&bold).matches("<b").count(), MAX_FORMATTING);
        // Formatting elements stay active after their block ends.
        let reopened: String = (0..50).map(|k| format!("<div><b id={k}></div>")).collect();
        assert_eq!(
            limit_nesting(&reopened).matches("<b").count(),
            MAX_FORMATTING
        );
        // `</body>` and `</span>` across a block do not close anything.
        let tricks = format!(
            "{}{}",
            "<div></body>".repeat(200),
            "<span><div></span>".repeat(200)
        );
        assert_eq!(limit_nesting(&tricks).matches("<div>").count(), MAX_NESTING);
        // A quote inside an attribute name does not hide the tags after it.
        let quoted = format!("<p x'>{}", "<div>".repeat(200));
        assert_eq!(
            limit_nesting(&quoted).matches("<div>").count(),
            MAX_NESTING - 1
        );
    }

    #[test]
    fn adjacent_and_long_headings() {
        let long = "word ".repeat(150);
        let html = format!("<h1>First</h1><h2>Second</h2><p>body</p><h3>{long}</h3><p>more</p>");
        let doc = extract(html.as_bytes(), &Limits::default()).unwrap();
        let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.clone().unwrap_or_default()).collect();
        assert_eq!(headings[..2], ["First", "Second"]);
        assert_eq!(doc.sections[0].text, "First");
        assert_eq!(doc.sections[1].text, "body");
        assert_eq!(headings[2], long.trim());
        assert_eq!(doc.sections[2].text, "more");
    }

    #[test]
    fn title_is_decoded_and_collapsed() {
        let html =
            "<html><head><TITLE>\n Fish &amp; Chips &lt;3 </title></head><body>x</body></html>";
        assert_eq!(title(html).as_deref(), Some("Fish & Chips <3"));
        assert_eq!(title("<p>no title</p>"), None);
        assert_eq!(
            title("<titles>x</titles><title>Real</title>").as_deref(),
            Some("Real")
        );
    }
}
