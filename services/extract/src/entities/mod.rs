//! Finding people, organisations, emails, URLs, dates and phone numbers in
//! plain text, deterministically and without a model: see [`find_entities`].
//!
//! [`patterns`] finds what regular expressions can (URLs, emails, dates,
//! phone numbers); [`names`] finds people and organisations in what is left,
//! with the word lists of [`lexicon`].

use std::collections::HashMap;
use std::ops::Range;

use regex::Regex;

use crate::text::collapse;

mod lexicon;
mod names;
mod patterns;

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
    patterns::find_urls(&mut masked, &mut found);
    patterns::find_emails(&mut masked, &mut found);
    patterns::find_dates(&mut masked, &mut found);
    patterns::find_phones(&mut masked, &mut found);
    names::find_names(text, &masked.text, &mut found);
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

#[cfg(test)]
mod tests {
    use super::names::{ACRONYM_AFTER, WORD};
    use super::patterns::{DATE, EMAIL, PHONE, URL};

    #[test]
    fn patterns_compile() {
        for re in [&URL, &EMAIL, &DATE, &PHONE, &WORD, &ACRONYM_AFTER] {
            assert!(re.is_some());
        }
    }
}
