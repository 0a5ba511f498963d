//! A multi-page PDF of prose for the ingestion benchmark, written with
//! `lopdf` the way `services/extract/tests/parsers.rs` builds its fixtures:
//! a text layer in Helvetica, one `BT`/`ET` block per line.

use anyhow::Result;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
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
pub fn build(pages: &[Vec<String>], title: &str) -> Result<Vec<u8>> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::with_capacity(pages.len());
    for lines in pages {
        let mut operations = Vec::new();
        for (i, line) in lines.iter().enumerate().filter(|(_, line)| !line.is_empty()) {
            let y = 740 - LEADING * i as i64;
            operations.extend([
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), FONT_SIZE.into()]),
                Operation::new("Td", vec![72.into(), y.into()]),
                Operation::new("Tj", vec![Object::string_literal(line.as_str())]),
                Operation::new("ET", vec![]),
            ]);
        }
        let content = Content { operations }.encode()?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id });
        kids.push(Object::Reference(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(title) });
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}
