//! The entities found by regular expressions: URLs, emails, dates and
//! phone numbers. Each pass records what it finds and masks it out of the
//! text for the passes after it.

use std::sync::LazyLock;

use regex::Regex;

use super::{EntityKind, Found, Masked, compile};

pub(super) static URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r#"(?i)\b(?:https?://|www\.)[^\s<>"`\x1F]+"#));

pub(super) static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"(?i)[a-z0-9._%+\-]+@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b")
});

const MONTH: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

pub(super) static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
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

pub(super) static PHONE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"(?x)
        (?P<intl>\+\d{1,3}(?:[\ .\-]?\(?\d{1,4}\)?){2,6})
        | (?P<nanp>(?:\(\d{3}\)\ ?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\b)
        ",
    )
});

pub(super) fn find_urls(masked: &mut Masked, found: &mut Found) {
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

pub(super) fn find_emails(masked: &mut Masked, found: &mut Found) {
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

pub(super) fn find_dates(masked: &mut Masked, found: &mut Found) {
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

pub(super) fn find_phones(masked: &mut Masked, found: &mut Found) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_trailing_punctuation() {
        assert_eq!(strip_trailing("https://a.org/x)."), "https://a.org/x");
        assert_eq!(strip_trailing("https://a.org/w/F_(b))"), "https://a.org/w/F_(b)");
        assert_eq!(normalise_url("HTTP://Example.ORG:80/"), Some("http://example.org".to_string()));
        assert_eq!(normalise_url("https://"), None);
    }
}
