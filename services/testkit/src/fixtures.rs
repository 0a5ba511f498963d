//! Real documents built in code for tests and benchmarks: PDFs with a text
//! layer (`lopdf`), ZIP archives and DOCX files.

use std::io::{Cursor, Write};

use lopdf::content::{Content, Operation};
use lopdf::{Document as Pdf, Object, Stream, dictionary};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Where lines go on a PDF page, in points.
#[derive(Clone, Copy, Debug)]
pub struct PdfStyle {
    /// Helvetica size.
    pub font_size: i64,
    /// Distance between lines.
    pub leading: i64,
    /// Baseline of the first line.
    pub top: i64,
}

impl Default for PdfStyle {
    fn default() -> Self {
        Self { font_size: 12, leading: 24, top: 720 }
    }
}

/// A PDF with one page per entry of `pages`, each line drawn in Helvetica
/// in its own `BT`/`ET` block (an empty line leaves a gap), with an optional
/// document title.
pub fn pdf<S: AsRef<str>>(pages: &[Vec<S>], title: Option<&str>, style: PdfStyle) -> Vec<u8> {
    let mut doc = Pdf::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::with_capacity(pages.len());
    for lines in pages {
        let mut operations = Vec::new();
        for (i, line) in lines.iter().enumerate().filter(|(_, line)| !line.as_ref().is_empty()) {
            let y = style.top - style.leading * i as i64;
            operations.extend([
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), style.font_size.into()]),
                Operation::new("Td", vec![72.into(), y.into()]),
                Operation::new("Tj", vec![Object::string_literal(line.as_ref())]),
                Operation::new("ET", vec![]),
            ]);
        }
        let content = Content { operations }.encode().expect("PDF content encodes");
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
    if let Some(title) = title {
        let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(title) });
        doc.trailer.set("Info", info_id);
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("PDF saves");
    out
}

/// A ZIP of `entries`, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(data).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// The WordprocessingML namespace.
pub const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

/// One WordprocessingML paragraph, with a style (`Heading1`, `Title`, ...).
pub fn paragraph(style: Option<&str>, text: &str) -> String {
    let style = style.map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>")).unwrap_or_default();
    format!("<w:p>{style}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
}

/// A DOCX whose body is `body` (paragraphs from [`paragraph`]), with an
/// optional styles part and core-properties title.
pub fn docx(body: &str, styles: Option<&str>, core_title: Option<&str>) -> Vec<u8> {
    let document = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document xmlns:w=\"{W_NS}\"><w:body>{body}</w:body></w:document>");
    let core = core_title.map(|t| {
        format!(
            "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{t}</dc:title></cp:coreProperties>"
        )
    });
    let mut entries: Vec<(&str, &[u8])> = vec![("[Content_Types].xml", b"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>"), ("word/document.xml", document.as_bytes())];
    if let Some(styles) = styles {
        entries.push(("word/styles.xml", styles.as_bytes()));
    }
    if let Some(core) = &core {
        entries.push(("docProps/core.xml", core.as_bytes()));
    }
    zip(&entries)
}
