//! People and organisations: runs of capitalised words, classified with
//! the word lists of [`super::lexicon`] as described on
//! [`find_entities`](super::find_entities).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use super::lexicon::{COMMON, GIVEN, INSTITUTIONS, PARTICLES, PLACES, SUFFIXES, TITLES};
use super::{EntityKind, Found, compile};

pub(super) static WORD: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"[\p{L}\p{M}\p{N}]+(?:['’&\-][\p{L}\p{M}\p{N}]+)*|&"));

pub(super) static ACRONYM_AFTER: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"^[ \t]*\((\p{Lu}{2,6})\)"));

/// The shape of a word, as far as names care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Capitalised with lowercase letters: `Ada`, `McDonald`, `O'Brien`.
    Title,
    /// Two or more letters, all capitals: `IBM`, `LLC`.
    Caps,
    /// One capital letter followed by a dot: `J.`.
    Initial,
    /// Starts lowercase.
    Lower,
    /// An ampersand.
    Amp,
    /// Anything else (digits, `I`, `A`).
    Other,
}

/// A word of the text.
#[derive(Debug, Clone)]
struct Token<'t> {
    /// The word, without a possessive `'s`.
    text: &'t str,
    /// The lowercased word.
    lower: Cow<'t, str>,
    start: usize,
    end: usize,
    shape: Shape,
    /// Had a possessive `'s`: a name ends here.
    possessive: bool,
}

/// The words of `line`, which starts at byte `offset` of the text.
fn tokens(line: &str, offset: usize) -> Vec<Token<'_>> {
    let Some(re) = WORD.as_ref() else { return Vec::new() };
    re.find_iter(line)
        .map(|m| {
            let mut word = m.as_str();
            let mut possessive = false;
            for suffix in ["'s", "’s", "'S", "’S"] {
                if let Some(stem) = word.strip_suffix(suffix)
                    && !stem.is_empty()
                {
                    word = stem;
                    possessive = true;
                    break;
                }
            }
            let end = m.start() + word.len();
            let shape = shape(word, line[end..].starts_with('.'));
            let lower = if word.chars().any(char::is_uppercase) {
                Cow::Owned(word.to_lowercase())
            } else {
                Cow::Borrowed(word)
            };
            Token { text: word, lower, start: offset + m.start(), end: offset + end, shape, possessive }
        })
        .collect()
}

fn shape(word: &str, dot_follows: bool) -> Shape {
    if word == "&" {
        return Shape::Amp;
    }
    let Some(first) = word.chars().next() else { return Shape::Other };
    if first.is_lowercase() {
        return Shape::Lower;
    }
    if !first.is_uppercase() {
        return Shape::Other;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 1 && word.chars().count() == 1 {
        return if dot_follows { Shape::Initial } else { Shape::Other };
    }
    if word.chars().any(char::is_lowercase) {
        Shape::Title
    } else if letters >= 2 {
        Shape::Caps
    } else {
        Shape::Other
    }
}

impl Token<'_> {
    /// Can start or continue a name.
    fn is_part(&self) -> bool {
        match self.shape {
            Shape::Title => !COMMON.contains(&*self.lower) && !TITLES.contains(&*self.lower),
            Shape::Caps => !COMMON.contains(&*self.lower) || SUFFIXES.contains(self.text),
            Shape::Initial => true,
            _ => false,
        }
    }

    fn is_title(&self) -> bool {
        self.shape == Shape::Title && TITLES.contains(&*self.lower)
    }

    fn is_given_name(&self) -> bool {
        self.shape == Shape::Title && GIVEN.contains(&*self.lower)
    }

    fn is_suffix(&self) -> bool {
        SUFFIXES.contains(self.text)
    }

    fn is_institution(&self) -> bool {
        self.shape == Shape::Title && INSTITUTIONS.contains(self.text)
    }

    fn is_place(&self) -> bool {
        self.shape == Shape::Title && PLACES.contains(self.text)
    }

    /// `and` or `&`.
    fn is_and(&self) -> bool {
        self.shape == Shape::Amp || (self.shape == Shape::Lower && self.text == "and")
    }

    /// `of`, `for`, or `the` after one of them.
    fn is_of(&self) -> bool {
        self.shape == Shape::Lower && matches!(self.text, "of" | "for" | "the")
    }

    /// A lowercase name particle.
    fn is_particle(&self) -> bool {
        self.shape == Shape::Lower && PARTICLES.contains(&self.text)
    }

    /// Counts toward the length of a name.
    fn is_significant(&self) -> bool {
        matches!(self.shape, Shape::Title | Shape::Caps | Shape::Initial)
    }
}

/// Whether `token` may sit between two name words, after `previous`.
fn is_connector(previous: &Token<'_>, token: &Token<'_>) -> bool {
    if token.shape == Shape::Lower && token.text == "the" {
        return previous.shape == Shape::Lower && matches!(previous.text, "of" | "for");
    }
    token.is_and() || token.is_of() || token.is_particle()
}

/// Whether a name can go on from `previous` to `next` across `gap`.
fn joins(previous: &Token<'_>, next: &Token<'_>, gap: &str) -> bool {
    if spaces_only(gap) {
        return true;
    }
    if previous.shape == Shape::Initial
        && let Some(rest) = gap.strip_prefix('.')
    {
        // `J.Smith` as well as `J. Smith`.
        return rest.chars().all(is_space);
    }
    if next.is_suffix()
        && let Some(rest) = gap.strip_prefix(',')
    {
        return spaces_only(rest);
    }
    false
}

/// Finds people and organisations in `masked` (the text with other entities
/// masked); names are taken from `text`.
pub(super) fn find_names(text: &str, masked: &str, found: &mut Found) {
    let mut names = Names { text, masked, found, aliases: HashMap::new(), defined: HashSet::new() };
    // Names never span lines: one line's words at a time.
    let mut offset = 0;
    for line in masked.split_inclusive('\n') {
        names.line(&tokens(line, offset));
        offset += line.len();
    }
}

/// A blank that may sit between the words of a name.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{A0}')
}

/// One or more blanks, nothing else.
fn spaces_only(gap: &str) -> bool {
    !gap.is_empty() && gap.chars().all(is_space)
}

fn dot_then_spaces(gap: &str) -> bool {
    gap.strip_prefix('.').is_some_and(spaces_only)
}

struct Names<'a> {
    text: &'a str,
    masked: &'a str,
    found: &'a mut Found,
    /// Acronyms defined for organisations: acronym to key.
    aliases: HashMap<String, String>,
    /// Where acronyms were defined (not counted again there).
    defined: HashSet<usize>,
}

impl Names<'_> {
    /// Finds the names in the words of one line.
    fn line(&mut self, tokens: &[Token<'_>]) {
        let masked = self.masked;
        let gap = |a: &Token<'_>, b: &Token<'_>| &masked[a.end..b.start];
        let mut i = 0;
        while i < tokens.len() {
            let token = &tokens[i];
            if token.shape == Shape::Caps
                && !self.defined.contains(&token.start)
                && let Some(key) = self.aliases.get(token.text).cloned()
            {
                self.found.add(EntityKind::Organization, key, token.text, token.start);
                i += 1;
                continue;
            }
            let mut titled = false;
            if token.is_title()
                && let Some(next) = tokens.get(i + 1)
                && next.is_part()
                && (spaces_only(gap(token, next)) || dot_then_spaces(gap(token, next)))
            {
                titled = true;
                i += 1;
            }
            if !tokens[i].is_part() {
                i += 1;
                continue;
            }
            // Extend the run over parts, and connectors followed by a part.
            let start = i;
            let mut end = i;
            while !tokens[end].possessive && end - start < 12 {
                let mut k = end + 1;
                let mut connectors = 0;
                let mut next_part = None;
                while k < tokens.len() && joins(&tokens[k - 1], &tokens[k], gap(&tokens[k - 1], &tokens[k])) {
                    if tokens[k].is_part() {
                        next_part = Some(k);
                        break;
                    }
                    if connectors < 2 && is_connector(&tokens[k - 1], &tokens[k]) {
                        connectors += 1;
                        k += 1;
                        continue;
                    }
                    break;
                }
                match next_part {
                    Some(k) => end = k,
                    None => break,
                }
            }
            self.run(&tokens[start..=end], titled);
            i = end + 1;
        }
    }

    /// Classifies one run of name words.
    fn run(&mut self, run: &[Token<'_>], titled: bool) {
        // Split at `and` / `&`, unless the right side is an organisation and
        // the left side does not start like a person.
        let mut groups: Vec<&[Token<'_>]> = Vec::new();
        let mut from = 0;
        for (k, token) in run.iter().enumerate() {
            if !token.is_and() {
                continue;
            }
            let left = &run[from..k];
            let right_end = run[k + 1..].iter().position(Token::is_and).map_or(run.len(), |p| k + 1 + p);
            let right = &run[k + 1..right_end];
            let left_is_person = left.first().is_some_and(Token::is_given_name) || (from == 0 && titled);
            let right_is_org = right.iter().any(|t| t.is_suffix() || t.is_institution());
            if !right_is_org || left_is_person {
                groups.push(left);
                from = k + 1;
            }
        }
        groups.push(&run[from..]);
        for (n, group) in groups.into_iter().enumerate() {
            // Split at `of` / `for` unless they follow an institution word.
            let mut begin = 0;
            let mut k = 0;
            while k < group.len() {
                if group[k].is_of() && !group[k].is_particle() {
                    let keep = k > 0 && group[k - 1].is_institution();
                    let mut after = k;
                    while after < group.len() && group[after].is_of() {
                        after += 1;
                    }
                    if !keep {
                        self.segment(&group[begin..k], titled && n == 0 && begin == 0);
                        begin = after;
                    }
                    k = after;
                    continue;
                }
                k += 1;
            }
            self.segment(&group[begin..], titled && n == 0 && begin == 0);
        }
    }

    /// Classifies a run without `and` splits and with `of` only after an
    /// institution word.
    fn segment(&mut self, segment: &[Token<'_>], titled: bool) {
        // Trim connectors at the edges.
        let first = segment.iter().position(Token::is_significant);
        let last = segment.iter().rposition(Token::is_significant);
        let (Some(first), Some(last)) = (first, last) else { return };
        let segment = &segment[first..=last];
        let titled = titled && first == 0;
        if self.organisation(segment) {
            return;
        }
        self.people(segment, titled);
    }

    /// Finds an organisation in `segment`; false when there is none (the
    /// segment is then left to people).
    fn organisation(&mut self, segment: &[Token<'_>]) -> bool {
        let suffix = segment.iter().skip(1).position(Token::is_suffix).map(|p| p + 1);
        let end = match suffix {
            Some(end) => end,
            None => {
                let Some(k) = segment.iter().rposition(Token::is_institution) else { return false };
                if segment.get(k + 1).is_some_and(Token::is_of) { segment.len() - 1 } else { k }
            }
        };
        // At most six words before the keyword.
        let mut start = 0;
        while segment[start..=end].iter().filter(|t| t.is_significant()).count() > 7 {
            start += 1;
        }
        while start < end && !segment[start].is_significant() {
            start += 1;
        }
        let org = &segment[start..=end];
        let significant = org.iter().filter(|t| t.is_significant()).count();
        if significant < 2 || org.iter().any(|t| t.shape == Shape::Initial) {
            return false;
        }
        let key = org
            .iter()
            .map(|t| if t.is_and() { "and".to_string() } else { t.lower.to_string() })
            .collect::<Vec<_>>()
            .join(" ");
        let Some(head) = org.first() else { return false };
        let Some(tail) = org.last() else { return false };
        let mut name_end = tail.end;
        if tail.is_suffix() && tail.shape == Shape::Title && self.masked[name_end..].starts_with('.') {
            name_end += 1;
        }
        self.found.add(EntityKind::Organization, key.clone(), &self.text[head.start..name_end], head.start);
        self.define_acronym(org, &key, tail.end);
        if let Some(rest) = segment.get(end + 1..)
            && !rest.is_empty()
        {
            self.segment(rest, false);
        }
        true
    }

    /// Records `(ABC)` right after an organisation whose initials are ABC.
    fn define_acronym(&mut self, org: &[Token<'_>], key: &str, at: usize) {
        let Some(re) = ACRONYM_AFTER.as_ref() else { return };
        let rest = &self.masked[at..];
        let Some(acronym) = re.captures(rest).and_then(|c| c.get(1)) else { return };
        let initials: String = org
            .iter()
            .filter(|t| matches!(t.shape, Shape::Title | Shape::Caps))
            .filter_map(|t| t.text.chars().next())
            .collect();
        if initials == acronym.as_str() {
            self.aliases.insert(initials, key.to_string());
            self.defined.insert(at + acronym.start());
        }
    }

    /// Finds people in `segment`.
    fn people(&mut self, segment: &[Token<'_>], titled: bool) {
        let mut p = 0;
        while p < segment.len() {
            let starts = segment[p].is_given_name()
                || (p == 0 && titled && matches!(segment[p].shape, Shape::Title | Shape::Initial));
            if !starts || segment[p].is_place() {
                p += 1;
                continue;
            }
            let mut words = 0;
            let mut parts = 0;
            let mut last_word = None;
            let mut q = p;
            while q < segment.len() && parts < 6 {
                let token = &segment[q];
                match token.shape {
                    Shape::Title if !token.is_place() => {
                        let next_is_word = segment.get(q + 1).is_some_and(|t| t.shape == Shape::Title);
                        if words == 3 || (words >= 2 && token.is_given_name() && next_is_word) {
                            break;
                        }
                        words += 1;
                        last_word = Some(q);
                    }
                    Shape::Initial => {}
                    Shape::Lower if token.is_particle() => {}
                    _ => break,
                }
                parts += 1;
                q += 1;
            }
            let Some(last) = last_word else {
                p += 1;
                continue;
            };
            let enough = words >= 2 || (titled && p == 0 && words >= 1);
            let place_follows = segment.get(last + 1).is_some_and(Token::is_place);
            if enough && !place_follows {
                let person = &segment[p..=last];
                let key = person
                    .iter()
                    .map(|t| if t.shape == Shape::Initial { format!("{}.", t.lower) } else { t.lower.to_string() })
                    .collect::<Vec<_>>()
                    .join(" ");
                let (start, end) = (segment[p].start, segment[last].end);
                self.found.add(EntityKind::Person, key, &self.text[start..end], start);
            }
            p = last + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape("McDonald", false), Shape::Title);
        assert_eq!(shape("IBM", false), Shape::Caps);
        assert_eq!(shape("J", true), Shape::Initial);
        assert_eq!(shape("I", false), Shape::Other);
        assert_eq!(shape("van", false), Shape::Lower);
        assert_eq!(shape("1843", false), Shape::Other);
    }
}
