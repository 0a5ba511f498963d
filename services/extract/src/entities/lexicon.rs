//! The word lists names are classified by: titles, legal suffixes,
//! institution and place words, common capitalised words, name particles
//! and given names.

use std::collections::HashSet;
use std::sync::LazyLock;

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

/// Lowercase particles that may sit inside a name (exact case).
pub(super) const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "da", "di", "du", "le", "la", "ter", "ten", "bin", "ibn",
    "al", "zu", "dos", "das", "des", "y", "für",
];

/// The lists as sets, for lookups.
fn set(words: &'static [&'static str]) -> HashSet<&'static str> {
    words.iter().copied().collect()
}

pub(super) static GIVEN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(GIVEN_NAMES));
pub(super) static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(COMMON_WORDS));
pub(super) static TITLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(TITLE_WORDS));
pub(super) static SUFFIXES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(LEGAL_SUFFIXES));
pub(super) static INSTITUTIONS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(INSTITUTION_WORDS));
pub(super) static PLACES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(PLACE_WORDS));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_lowercase_where_looked_up_lowercase() {
        for list in [GIVEN_NAMES, COMMON_WORDS, TITLE_WORDS] {
            assert!(list.iter().all(|w| w.to_lowercase() == *w), "{list:?}");
        }
        assert!(GIVEN_NAMES.len() >= 300);
        assert!(GIVEN_NAMES.iter().all(|g| !COMMON.contains(g)));
    }
}
