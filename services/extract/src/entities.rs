//! Finding people, organisations, emails, URLs, dates and phone numbers in
//! plain text, deterministically and without a model: see [`find_entities`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// Most entities [`find_entities`] returns for one text.
const MAX_ENTITIES: usize = 500;

/// What an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// A person.
    Person,
    /// A company, institution or other organisation.
    Organization,
    /// An email address.
    Email,
    /// A web address.
    Url,
    /// A calendar date.
    Date,
    /// A telephone number.
    Phone,
}

impl EntityKind {
    /// The lowercase name of the kind: `person`, `organization`, `email`,
    /// `url`, `date` or `phone`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Email => "email",
            EntityKind::Url => "url",
            EntityKind::Date => "date",
            EntityKind::Phone => "phone",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// An entity found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEntity {
    /// What it is.
    pub kind: EntityKind,
    /// The canonical form that identifies it among entities of its kind (see
    /// [`find_entities`]).
    pub key: String,
    /// How it was first written in the text (whitespace collapsed).
    pub name: String,
    /// How many times it occurs.
    pub count: usize,
    /// Byte offset of its first occurrence.
    pub offset: usize,
}

/// Finds the entities of `text`, one per kind and key, in order of first
/// occurrence; at most 500 of them.
///
/// It runs in passes over the text. URLs, then emails, then
/// dates, then phone numbers are matched with regular expressions; each
/// match is masked out so that later passes do not see it again (the host of
/// a URL is not an email domain, a month in a date is not a name). Names are
/// then found in what is left.
///
/// # Keys
///
/// Every entity has a canonical key, and entities are deduplicated by kind
/// and key:
///
/// * **Email**: the address, lowercased.
/// * **Url**: `http(s)://` or `www.` links. Trailing punctuation is dropped
///   (a closing bracket only when unbalanced), the scheme and host are
///   lowercased, a default port and a lone `/` path are dropped; `www.`
///   links without a scheme get `https://`. Path, query and fragment keep
///   their case.
/// * **Date**: `YYYY-MM-DD` for a full calendar date written as `2026-11-28`,
///   `2026/11/28`, `28 November 2026`, `28th of Nov. 2026`,
///   `November 28, 2026`, `Nov 28 2026`, `28.11.2026` (day first) or with
///   slashes. Slashed dates are read month first (`11/28/2026`) or day
///   first (`28/11/2026`) only when one of the two numbers is over 12; an
///   ambiguous one such as `03/04/2026` is skipped (unless both numbers are
///   equal) rather than guessed. Impossible dates (`31 February`) and years
///   outside 1000..=2999 are skipped; a month and year without a day is not
///   a date.
/// * **Phone**: `+` and the digits for international numbers
///   (`+44 20 7946 0958` gives `+442079460958`, 8 to 15 digits); the ten
///   digits for North American numbers written `(555) 123-4567`,
///   `555-123-4567` or `555.123.4567`. Other digit groups are not phones.
/// * **Person** and **Organization**: the words of the name, lowercased and
///   joined by single spaces, without titles (`Dr.`) or punctuation; `&`
///   becomes `and`; initials keep their dot (`john f. kennedy`).
///
/// # Names: precision over recall
///
/// Names are runs of capitalised words on one line, joined by spaces only
/// (an initial may be followed by its dot; a legal suffix may follow a
/// comma, as in `Acme, Inc.`), with lowercase particles (`van`, `de`, `of`,
/// `for`, `and`, ...) allowed between capitalised words. Common capitalised
/// words (articles, pronouns, sentence openers such as `However`), month and
/// weekday names never take part, and an all-caps word is only ever part of
/// an organisation. Each run is then classified:
///
/// * **Organization** when it contains a keyword: a legal suffix (`Inc`,
///   `Ltd`, `LLC`, `GmbH`, `Corp`, ...) ends the name; otherwise the name
///   ends at the last institutional word (`University`, `Bank`, `Society`,
///   `Institute`, `Group`, `Labs`, ...) or continues past it with `of` /
///   `for` (`Bank of England`). It needs two words. An acronym written in
///   brackets right after an organisation whose initials it spells (`World
///   Health Organization (WHO)`) counts later standalone uses toward it.
/// * **Person** when it has two or three capitalised words (plus initials
///   and particles) and either starts with a given name from a built-in list
///   of a few hundred common (mostly English) names, or follows a title
///   (`Mr`, `Mrs`, `Ms`, `Dr`, `Prof`, `Sir`, ...), in which case one word
///   is enough (`Dr. Smith` gives `smith`). A run with a place word
///   (`Street`, `River`, ...) right after the surname is not a person.
///   Leading words that are not given names are skipped (`Prime Minister
///   Winston Churchill`), and a run is split before a second given name once
///   it has two words (`Ada Lovelace Charles Babbage`).
/// * Anything else is ignored.
///
/// This misses single-word names (`Google`, `Lovelace said`), people whose
/// first name is not in the list and who have no title (many non-English
/// names, names written surname first), organisations without a keyword
/// (`Acme Rockets`), acronyms on their own, and names in all-caps text. It
/// rarely reports a common phrase as a name, which matters more for a
/// database that links memories by entity. Given names that are also place
/// or thing names give the occasional false person (`Charles River` is
/// caught only because `River` is a place word). Surname-only repeat
/// mentions are not linked to the full name and do not add to its count.
///
/// # Bounds
///
/// All regular expressions are compiled once. The passes are linear in the
/// text, and at most 500 entities are returned: the ones that occur
/// first.
pub fn find_entities(text: &str) -> Vec<FoundEntity> {
    let mut found = Found::default();
    let mut masked = Masked::new(text);
    find_urls(&mut masked, &mut found);
    find_emails(&mut masked, &mut found);
    find_dates(&mut masked, &mut found);
    find_phones(&mut masked, &mut found);
    find_names(text, &masked.text, &mut found);
    let mut list = found.list;
    list.sort_by_key(|e| (e.offset, e.kind));
    list.truncate(MAX_ENTITIES);
    list
}

/// Entities collected so far. Each kind keeps its first [`MAX_ENTITIES`]
/// distinct keys, which is enough to know the first [`MAX_ENTITIES`]
/// overall, and later occurrences of those still count.
#[derive(Default)]
struct Found {
    list: Vec<FoundEntity>,
    index: HashMap<(EntityKind, String), usize>,
    per_kind: [usize; 6],
}

impl Found {
    fn add(&mut self, kind: EntityKind, key: String, name: &str, offset: usize) {
        if key.is_empty() {
            return;
        }
        let id = (kind, key);
        if let Some(&at) = self.index.get(&id) {
            self.list[at].count += 1;
            return;
        }
        if self.per_kind[kind.slot()] >= MAX_ENTITIES {
            return;
        }
        self.per_kind[kind.slot()] += 1;
        self.index.insert(id.clone(), self.list.len());
        self.list.push(FoundEntity { kind, key: id.1, name: collapse(name), count: 1, offset });
    }
}

/// Whitespace runs as single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text with matched spans replaced, byte for byte, by a character no
/// pattern matches, so offsets stay valid and later passes skip them.
struct Masked {
    text: String,
}

const MASK: char = '\u{1F}';

impl Masked {
    fn new(text: &str) -> Self {
        // The mask character must not occur naturally.
        Self { text: text.replace(MASK, " ") }
    }

    fn mask(&mut self, spans: &[Range<usize>]) {
        if spans.is_empty() {
            return;
        }
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for span in spans {
            out.push_str(&self.text[at..span.start]);
            out.extend(std::iter::repeat_n(MASK, span.len()));
            at = span.end;
        }
        out.push_str(&self.text[at..]);
        self.text = out;
    }
}

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r#"(?i)\b(?:https?://|www\.)[^\s<>"`\x1F]+"#));

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"(?i)[a-z0-9._%+\-]+@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b")
});

const MONTH: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"(?ix)
        \b(?P<iy>\d{{4}})-(?P<im>\d{{2}})-(?P<id>\d{{2}})
        | \b(?P<sy>\d{{4}})/(?P<sm>\d{{1,2}})/(?P<sd>\d{{1,2}})\b
        | \b(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?[\ \t]+(?:of[\ \t]+)?(?P<dm>{MONTH})\b\.?,?[\ \t]+(?P<dy>\d{{4}})\b
        | \b(?P<mm>{MONTH})\b\.?[\ \t]+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?[\ \t]+(?P<my>\d{{4}})\b
        | \b(?P<na>\d{{1,2}})/(?P<nb>\d{{1,2}})/(?P<ny>\d{{4}})\b
        | \b(?P<ed>\d{{1,2}})\.(?P<em>\d{{1,2}})\.(?P<ey>\d{{4}})\b
        "
    ))
});

static PHONE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"(?x)
        (?P<intl>\+\d{1,3}(?:[\ .\-]?\(?\d{1,4}\)?){2,6})
        | (?P<nanp>(?:\(\d{3}\)\ ?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\b)
        ",
    )
});

static WORD: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"[\p{L}\p{M}\p{N}]+(?:['’&\-][\p{L}\p{M}\p{N}]+)*|&"));

static ACRONYM_AFTER: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"^[ \t]*\((\p{Lu}{2,6})\)"));

fn find_urls(masked: &mut Masked, found: &mut Found) {
    let Some(re) = URL.as_ref() else { return };
    let mut spans = Vec::new();
    for m in re.find_iter(&masked.text) {
        let raw = strip_trailing(m.as_str());
        if let Some(key) = normalise_url(raw) {
            found.add(EntityKind::Url, key, raw, m.start());
            spans.push(m.start()..m.start() + raw.len());
        }
    }
    masked.mask(&spans);
}

/// `url` without trailing punctuation; closing brackets only go when they
/// have no opening partner in the URL.
fn strip_trailing(mut url: &str) -> &str {
    loop {
        let Some(last) = url.chars().last() else { return url };
        let strip = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            ']' => url.matches('[').count() < url.matches(']').count(),
            '}' => url.matches('{').count() < url.matches('}').count(),
            _ => false,
        };
        if !strip {
            return url;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
}

/// The canonical key of a URL; `None` without a host.
fn normalise_url(url: &str) -> Option<String> {
    let (scheme, rest) = match url.find("://") {
        Some(at) => (url[..at].to_ascii_lowercase(), &url[at + 3..]),
        None => ("https".to_string(), url),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut host = rest[..host_end].to_lowercase();
    let path = &rest[host_end..];
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    if let Some(bare) = host.strip_suffix(default_port) {
        host = bare.to_string();
    }
    if host.is_empty() || !host.contains(|c: char| c.is_alphanumeric()) {
        return None;
    }
    let path = if path == "/" { "" } else { path };
    Some(format!("{scheme}://{host}{path}"))
}

fn find_emails(masked: &mut Masked, found: &mut Found) {
    let Some(re) = EMAIL.as_ref() else { return };
    let mut spans = Vec::new();
    for m in re.find_iter(&masked.text) {
        let raw = m.as_str();
        let local_start = raw.len() - raw.trim_start_matches('.').len();
        let start = m.start() + local_start;
        let address = &raw[local_start..];
        if address.starts_with('@') {
            continue;
        }
        found.add(EntityKind::Email, address.to_lowercase(), address, start);
        spans.push(start..m.end());
    }
    masked.mask(&spans);
}

fn find_dates(masked: &mut Masked, found: &mut Found) {
    let Some(re) = DATE.as_ref() else { return };
    let mut spans = Vec::new();
    for caps in re.captures_iter(&masked.text) {
        let Some(whole) = caps.get(0) else { continue };
        let number = |name: &str| caps.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
        let month_name = |name: &str| {
            caps.name(name).and_then(|m| {
                let word = m.as_str();
                // A month must be capitalised (or all caps): `may 5 2026`
                // is more likely a verb than a date.
                word.starts_with(|c: char| c.is_uppercase()).then(|| month_number(word)).flatten()
            })
        };
        let ymd = if caps.name("iy").is_some() {
            // `2026-11-28` but not `2026-11-281`.
            let next = masked.text[whole.end()..].chars().next();
            if next.is_some_and(|c| c.is_ascii_digit()) {
                None
            } else {
                Some((number("iy"), number("im"), number("id")))
            }
        } else if caps.name("sy").is_some() {
            Some((number("sy"), number("sm"), number("sd")))
        } else if caps.name("dd").is_some() {
            Some((number("dy"), month_name("dm"), number("dd")))
        } else if caps.name("mm").is_some() {
            Some((number("my"), month_name("mm"), number("md")))
        } else if caps.name("na").is_some() {
            match (number("na"), number("nb")) {
                (Some(a), Some(b)) if a > 12 => Some((number("ny"), Some(b), Some(a))),
                (Some(a), Some(b)) if b > 12 || a == b => Some((number("ny"), Some(a), Some(b))),
                _ => None,
            }
        } else {
            Some((number("ey"), number("em"), number("ed")))
        };
        let Some((Some(year), Some(month), Some(day))) = ymd else { continue };
        if !valid_date(year, month, day) {
            continue;
        }
        found.add(EntityKind::Date, format!("{year:04}-{month:02}-{day:02}"), whole.as_str(), whole.start());
        spans.push(whole.range());
    }
    masked.mask(&spans);
}

/// The month a name or abbreviation stands for.
fn month_number(word: &str) -> Option<u32> {
    let prefix: String = word.chars().take(3).flat_map(char::to_lowercase).collect();
    let month = match prefix.as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(month)
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=2999).contains(&year) && (1..=days).contains(&day)
}

fn find_phones(masked: &mut Masked, found: &mut Found) {
    let Some(re) = PHONE.as_ref() else { return };
    let mut spans = Vec::new();
    for caps in re.captures_iter(&masked.text) {
        let Some(whole) = caps.get(0) else { continue };
        // Not the tail of a longer number or word.
        let before = masked.text[..whole.start()].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '+') {
            continue;
        }
        let digits: String = whole.as_str().chars().filter(char::is_ascii_digit).collect();
        let key = if caps.name("intl").is_some() {
            if !(8..=15).contains(&digits.len()) {
                continue;
            }
            format!("+{digits}")
        } else {
            digits
        };
        found.add(EntityKind::Phone, key, whole.as_str(), whole.start());
        spans.push(whole.range());
    }
    masked.mask(&spans);
}

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

fn set(words: &'static [&'static str]) -> HashSet<&'static str> {
    words.iter().copied().collect()
}

static GIVEN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(GIVEN_NAMES));
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(COMMON_WORDS));
static TITLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(TITLE_WORDS));
static SUFFIXES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(LEGAL_SUFFIXES));
static INSTITUTIONS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(INSTITUTION_WORDS));
static PLACES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(PLACE_WORDS));

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

const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "da", "di", "du", "le", "la", "ter", "ten", "bin", "ibn",
    "al", "zu", "dos", "das", "des", "y", "für",
];

/// Whether `token` may sit between two name words, after `previous`.
fn is_connector(previous: &Token<'_>, token: &Token<'_>) -> bool {
    if token.shape == Shape::Lower && token.text == "the" {
        return previous.shape == Shape::Lower && matches!(previous.text, "of" | "for");
    }
    token.is_and() || token.is_of() || token.is_particle()
}

/// Whether a name can go on from `previous` to `next` across `gap`.
fn joins(previous: &Token<'_>, next: &Token<'_>, gap: &str) -> bool {
    if gap.is_empty() {
        return false;
    }
    let spaces = |s: &str| s.chars().all(|c| matches!(c, ' ' | '\t' | '\u{A0}'));
    if spaces(gap) {
        return true;
    }
    if previous.shape == Shape::Initial
        && let Some(rest) = gap.strip_prefix('.')
    {
        return spaces(rest);
    }
    if next.is_suffix()
        && let Some(rest) = gap.strip_prefix(',')
    {
        return !rest.is_empty() && spaces(rest);
    }
    false
}

/// Finds people and organisations in `masked` (the text with other entities
/// masked); names are taken from `text`.
fn find_names(text: &str, masked: &str, found: &mut Found) {
    let mut names = Names { text, masked, found, aliases: HashMap::new(), defined: HashSet::new() };
    // Names never span lines: one line's words at a time.
    let mut offset = 0;
    for line in masked.split_inclusive('\n') {
        names.line(&tokens(line, offset));
        offset += line.len();
    }
}

fn spaces_only(gap: &str) -> bool {
    !gap.is_empty() && gap.chars().all(|c| matches!(c, ' ' | '\t' | '\u{A0}'))
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
                p = last + 1;
            } else {
                p = last + 1;
            }
        }
    }
}

/// Titles before a person's name (lowercase).
const TITLE_WORDS: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "rev"];

/// Legal-form suffixes that end an organisation's name (exact case).
const LEGAL_SUFFIXES: &[&str] = &[
    "Inc", "Incorporated", "Ltd", "Limited", "LLC", "LLP", "PLC", "Plc", "GmbH", "AG", "SA", "NV", "BV", "Corp",
    "Co", "Pty", "Oy", "AB", "SpA", "Srl", "SARL", "KG",
];

/// Words that make a capitalised run an institution (exact case).
const INSTITUTION_WORDS: &[&str] = &[
    "Corporation", "Company", "University", "College", "Institute", "Institution", "Foundation", "Bank", "Group",
    "Labs", "Laboratory", "Laboratories", "Agency", "Association", "Society", "Council", "Committee", "Commission",
    "Ministry", "Department", "Authority", "Organization", "Organisation", "Federation", "Union", "Trust", "Fund",
    "Partners", "Holdings", "Ventures", "Capital", "Systems", "Technologies", "Industries", "Enterprises", "Press",
    "Hospital", "School", "Academy", "Museum", "Library", "Club", "Party", "Bureau", "Studios", "Airlines",
    "Airways", "Motors", "Pharmaceuticals", "Consulting", "Center", "Centre", "Court", "Parliament", "Congress",
    "Senate", "Observatory", "Services", "Software", "Solutions", "Networks", "Communications", "Insurance",
    "Administration", "Nations", "Office", "Board", "Alliance", "Consortium", "Cooperative", "Bancorp", "Police", "Army",
    "Navy",
];

/// Words that name places, not people (exact case).
const PLACE_WORDS: &[&str] = &[
    "Street", "Road", "Avenue", "Lane", "Boulevard", "Square", "River", "Lake", "Mountain", "Mount", "Island",
    "Islands", "Bay", "Valley", "City", "County", "State", "Province", "Park", "Bridge", "Station", "Airport",
    "Tower", "Building", "Castle", "Palace", "Cathedral", "Beach", "Coast", "Harbor", "Harbour", "Forest", "Desert",
    "Ocean", "Sea", "Gulf", "Canyon", "Falls", "Gardens", "Heights",
];

/// Capitalised words that are never part of a name (lowercase): function
/// words, sentence openers, greetings, document words, months, weekdays.
const COMMON_WORDS: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "there", "here", "then", "than", "thus", "hence", "it",
    "its", "i", "we", "you", "he", "she", "they", "me", "us", "him", "them", "my", "our", "your", "his", "her",
    "their", "mine", "ours", "yours", "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "if",
    "unless", "whether", "although", "though", "because", "since", "while", "whilst", "as", "so", "and", "or",
    "but", "nor", "yet", "for", "of", "in", "on", "at", "to", "from", "by", "with", "without", "within", "into",
    "onto", "upon", "about", "above", "below", "across", "after", "before", "behind", "between", "beyond",
    "during", "except", "inside", "outside", "over", "under", "until", "till", "via", "per", "through",
    "throughout", "towards", "toward", "against", "along", "among", "amongst", "around", "despite", "like",
    "unlike", "near", "off", "out", "up", "down", "is", "are", "was", "were", "be", "been", "being", "am", "has",
    "have", "had", "do", "does", "did", "done", "can", "could", "shall", "should", "will", "would", "may", "might",
    "must", "not", "no", "yes", "yeah", "ok", "okay", "all", "any", "some", "many", "much", "most", "more", "less",
    "few", "several", "each", "every", "either", "neither", "both", "other", "another", "such", "same", "own",
    "only", "also", "just", "even", "still", "already", "always", "never", "often", "sometimes", "usually",
    "perhaps", "maybe", "however", "therefore", "moreover", "furthermore", "meanwhile", "nevertheless",
    "nonetheless", "otherwise", "instead", "indeed", "finally", "first", "firstly", "second", "secondly", "third",
    "next", "last", "lastly", "later", "earlier", "now", "today", "tomorrow", "yesterday", "tonight", "recently",
    "currently", "please", "thanks", "thank", "dear", "hi", "hello", "hey", "welcome", "regards", "best",
    "sincerely", "cheers", "note", "notes", "see", "contact", "meet", "ask", "call", "email", "visit", "join",
    "read", "use", "let", "get", "make", "take", "go", "according", "overall", "summary", "introduction",
    "conclusion", "chapter", "section", "page", "figure", "table", "appendix", "re", "fwd", "fw", "subject", "sent",
    "cc", "bcc", "date", "time", "agenda", "attendees", "annual", "report", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thur",
    "thurs", "fri", "sat", "sun", "january", "february", "march", "april", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "ad", "bc", "am", "pm", "faq", "api", "url", "pdf", "csv", "html", "json", "xml", "id", "tbd", "asap",
    "fyi", "usd", "eur", "gbp",
];

/// Common given names (lowercase): a person's name starts with one of these
/// unless a title precedes it. Names that are also common words (`May`,
/// `Will`, `Hope`) are left out.
const GIVEN_NAMES: &[&str] = &[
    "aaron", "abigail", "abraham", "ada", "adam", "adrian", "ahmad", "ahmed", "aidan", "alan", "albert", "alex",
    "alexander", "alexandra", "alfred", "ali", "alice", "alicia", "alison", "allison", "amanda", "amber", "amelia",
    "amir", "amy", "ana", "anders", "andre", "andrea", "andreas", "andrew", "andy", "angela", "ann", "anna", "anne",
    "annie", "anthony", "antoine", "anton", "antonio", "arthur", "ashley", "audrey", "austin", "ava", "barack",
    "barbara", "barry", "beatrice", "ben", "benjamin", "bernard", "beth", "betty", "beverly", "bill", "billy",
    "bob", "bobby", "brandon", "brenda", "brian", "bruce", "bryan", "caleb", "calvin", "cameron", "camille", "carl",
    "carlos", "carol", "caroline", "carolyn", "catherine", "charles", "charlie", "charlotte", "chiara", "chloe",
    "chris", "christian", "christina", "christine", "christopher", "claire", "clara", "colin", "connor", "craig",
    "cynthia", "dan", "daniel", "danielle", "dave", "david", "dean", "deborah", "debra", "denise", "dennis",
    "derek", "diana", "diane", "diego", "dmitri", "donald", "donna", "dorothy", "douglas", "dylan", "edward",
    "eleanor", "elena", "elijah", "elisa", "elizabeth", "ella", "ellen", "emil", "emily", "emma", "emmanuel",
    "enrico", "enrique", "eric", "erica", "erwin", "ethan", "eugene", "eva", "evelyn", "fabio", "fatima",
    "felix", "fernando", "fiona", "florence", "frances", "francesco", "francis", "francois", "frank", "fred",
    "frederick", "gabriel", "gareth", "gary", "george", "georgia", "gerald", "giovanni", "giulia", "gloria",
    "gordon", "grace", "graham", "greg", "gregory", "hannah", "hans", "harold", "harriet", "harry", "heather",
    "helen", "henry", "hiroshi", "howard", "hugo", "ian", "ines", "ingrid", "isaac", "isabel", "isabella",
    "isabelle", "ivan", "jack", "jacob", "jacqueline", "jakob", "james", "jane", "janet", "janice", "jason",
    "javier", "jean", "jeff", "jeffrey", "jennifer", "jenny", "jeremy", "jerry", "jesse", "jessica", "jim",
    "joan", "joanna", "joe", "joel", "johann", "john", "jon", "jonas", "jonathan", "jordan", "jorge", "jose",
    "joseph", "joshua", "joyce", "juan", "judith", "judy", "julia", "julian", "julie", "julien", "justin", "karen",
    "karl", "kate", "katherine", "kathleen", "kathryn", "katie", "keith", "kelly", "ken", "kenji", "kenneth",
    "kevin", "kimberly", "klaus", "kyle", "lars", "laura", "lauren", "lawrence", "leah", "lena", "leo",
    "leonard", "leonardo", "liam", "linda", "lisa", "liz", "logan", "lorenzo", "louis", "louise", "luca", "lucas",
    "lucia", "lucy", "ludwig", "luis", "luke", "lydia", "madison", "manuel", "marco", "margaret", "maria", "marie",
    "mario", "marilyn", "mark", "marta", "martha", "martin", "mary", "mateo", "matt", "matteo", "matthew",
    "maureen", "max", "megan", "melissa", "mia", "michael", "michelle", "miguel", "mike", "mikhail", "mohammed",
    "molly", "muhammad", "nancy", "naomi", "natalie", "nathan", "nicholas", "nick", "nicole", "niels", "nikola",
    "nikolai", "nina", "noah", "nora", "norman", "olga", "oliver", "olivia", "omar", "oscar", "owen", "pablo",
    "pamela", "paolo", "patricia", "patrick", "paul", "paula", "pedro", "peter", "philip", "phillip", "pierre",
    "priya", "rachel", "rahul", "raj", "ralph", "raphael", "raymond", "rebecca", "richard", "rita", "robert",
    "roger", "ronald", "rosalind", "rose", "ruth", "ryan", "sam", "samantha", "samuel", "sandra", "sanjay", "sara",
    "sarah", "scott", "sean", "sergei", "sharon", "shirley", "simon", "sofia", "sophia", "sophie", "stefan",
    "stephanie", "stephen", "steve", "steven", "susan", "sven", "teresa", "theodore", "theresa", "thomas", "tim",
    "timothy", "tina", "tom", "tomas", "tony", "tyler", "ursula", "vera", "victor", "victoria", "vincent",
    "virginia", "vladimir", "walter", "wayne", "wendy", "werner", "william", "winston", "wolfgang", "yuki",
    "yusuf", "zachary", "zoe",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for re in [&URL, &EMAIL, &DATE, &PHONE, &WORD, &ACRONYM_AFTER] {
            assert!(re.is_some());
        }
    }

    #[test]
    fn lists_are_lowercase_where_looked_up_lowercase() {
        for list in [GIVEN_NAMES, COMMON_WORDS, TITLE_WORDS] {
            assert!(list.iter().all(|w| w.to_lowercase() == *w), "{list:?}");
        }
        assert!(GIVEN_NAMES.len() >= 300);
        assert!(GIVEN_NAMES.iter().all(|g| !COMMON.contains(g)));
    }

    #[test]
    fn strips_trailing_punctuation() {
        assert_eq!(strip_trailing("https://a.org/x)."), "https://a.org/x");
        assert_eq!(strip_trailing("https://a.org/w/F_(b))"), "https://a.org/w/F_(b)");
        assert_eq!(normalise_url("HTTP://Example.ORG:80/"), Some("http://example.org".to_string()));
        assert_eq!(normalise_url("https://"), None);
    }

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
