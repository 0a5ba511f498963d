//! A multi-page PDF of prose for the ingestion benchmark, written with
//! the test kit's PDF builder (`lopdf`), as the extraction tests do:
//! a text layer in Helvetica, one `BT`/`ET` block per line.

use percolate_testkit::fixtures::{self, PdfStyle};
use rand::Rng;
use rand::rngs::StdRng;

use crate::prose;

/// Characters per line: 11 pt Helvetica on a 468 pt wide text block.
const LINE_CHARS: usize = 88;
/// Lines that fit between the top and bottom margins.
const PAGE_LINES: usize = 46;
/// Font size and line spacing, in points.
const FONT_SIZE: i64 = 11;
const LEADING: i64 = 14;

/// Lines of one page: paragraphs of three or four sentences separated by
/// an empty line, as many as fit.
pub fn page_lines(rng: &mut StdRng) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    loop {
        let sentences = rng.random_range(3..=4);
        let paragraph = prose::wrap(&prose::paragraph(rng, sentences), LINE_CHARS);
        if lines.len() + paragraph.len() + 1 > PAGE_LINES {
            return lines;
        }
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(paragraph);
    }
}

/// A PDF with one page per entry of `pages`, titled `title`.
pub fn build(pages: &[Vec<String>], title: &str) -> Vec<u8> {
    fixtures::pdf(pages, Some(title), PdfStyle { font_size: FONT_SIZE, leading: LEADING, top: 740 })
}
