//! Parsers and sniffing against fixtures built in code: real PDF, DOCX and
//! XLSX files, hostile ones (zip bombs, lying headers, corrupt and cyclic
//! PDFs), and the text formats.

#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};

use lopdf::{Document as Pdf, Object, Stream, dictionary};
use percolate_extract::{Document, ExtractError, Kind, Limits, Tools, extract, sniff};
use percolate_testkit::fixtures::{self, PdfStyle, W_NS, docx, paragraph, zip};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

// ---------------------------------------------------------------- fixtures

/// A PDF with one page per entry, each line of text drawn in Helvetica.
fn pdf(pages: &[&[&str]], title: Option<&str>) -> Vec<u8> {
    let pages: Vec<Vec<&str>> = pages.iter().map(|p| p.to_vec()).collect();
    fixtures::pdf(&pages, title, PdfStyle::default())
}

/// An XLSX with the given sheets; cells are inline strings or numbers.
fn xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut workbook = format!(
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"{rel}\"><sheets>"
    );
    let mut rels = String::from(
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    let mut parts = Vec::new();
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        workbook.push_str(&format!(
            "<sheet name=\"{name}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>"
        ));
        rels.push_str(&format!(
            "<Relationship Id=\"rId{n}\" Type=\"{rel}/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
        ));
        let mut sheet = String::from(
            "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        );
        for (r, row) in rows.iter().enumerate() {
            sheet.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, value) in row.iter().enumerate() {
                let cell = format!("{}{}", (b'A' + c as u8) as char, r + 1);
                if value.parse::<f64>().is_ok() {
                    sheet.push_str(&format!("<c r=\"{cell}\"><v>{value}</v></c>"));
                } else {
                    sheet.push_str(&format!(
                        "<c r=\"{cell}\" t=\"inlineStr\"><is><t>{value}</t></is></c>"
                    ));
                }
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        parts.push((format!("xl/worksheets/sheet{n}.xml"), sheet));
    }
    workbook.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    let root_rels = format!(
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" Type=\"{rel}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
    );
    let mut entries: Vec<(&str, &[u8])> = vec![
        (
            "[Content_Types].xml",
            b"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>",
        ),
        ("_rels/.rels", root_rels.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
    ];
    for (name, data) in &parts {
        entries.push((name.as_str(), data.as_bytes()));
    }
    zip(&entries)
}

/// Deterministic incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn run(bytes: &[u8], kind: Kind) -> Result<Document, ExtractError> {
    extract(bytes, kind, &Limits::default(), &Tools::default())
}

fn run_with(bytes: &[u8], kind: Kind, limits: Limits) -> Result<Document, ExtractError> {
    extract(bytes, kind, &limits, &Tools::default())
}

fn all_text(doc: &Document) -> String {
    doc.sections
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

// ----------------------------------------------------------------- sniffing

#[test]
fn sniff_pdf_wins_over_declared_text() {
    let bytes = pdf(&[&["Hello"]], None);
    assert_eq!(
        sniff(&bytes, Some("text/plain"), Some("notes.txt")).unwrap(),
        Kind::Pdf
    );
    assert_eq!(sniff(&bytes, None, None).unwrap(), Kind::Pdf);
}

#[test]
fn sniff_office_files_by_zip_contents() {
    let word = docx(&paragraph(None, "x"), None, None);
    assert_eq!(
        sniff(&word, Some("application/zip"), Some("a.zip")).unwrap(),
        Kind::Docx
    );
    let book = xlsx(&[("S", &[&["a"]])]);
    assert_eq!(
        sniff(&book, Some("text/csv"), Some("a.csv")).unwrap(),
        Kind::Xlsx
    );
    let other = zip(&[("readme.txt", b"hello")]);
    match sniff(&other, None, Some("x.docx")) {
        Err(ExtractError::Unsupported(mime)) => assert_eq!(mime, "application/zip"),
        other => panic!("expected unsupported zip, got {other:?}"),
    }
}

#[test]
fn sniff_random_bytes_is_unsupported_whatever_is_declared() {
    let bytes = noise(4096);
    for declared in [None, Some("application/pdf"), Some("text/plain")] {
        match sniff(&bytes, declared, Some("file.pdf")) {
            Err(ExtractError::Unsupported(mime)) => assert_eq!(mime, "application/octet-stream"),
            other => panic!("expected unsupported, got {other:?}"),
        }
    }
    // Latin-1 text is named as such, not as octets.
    match sniff(
        b"caf\xE9 cr\xE8me br\xFBl\xE9e, na\xEFve fa\xE7ade",
        None,
        None,
    ) {
        Err(ExtractError::Unsupported(mime)) => assert!(mime.contains("encoding"), "{mime}"),
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[test]
fn sniff_audio_and_images_by_signature() {
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    wav.extend_from_slice(&[0; 32]);
    assert_eq!(sniff(&wav, Some("text/plain"), None).unwrap(), Kind::Audio);
    assert_eq!(
        sniff(b"ID3\x04\x00\x00\x00\x00\x00\x10rest", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"\xFF\xFB\x90\x64\x00\x00", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"fLaC\x00\x00\x00\x22", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"OggS\x00\x02\x00\x00", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"FORM\x00\x00\x10\x00AIFFCOMM", None, None).unwrap(),
        Kind::Audio
    );
    assert_eq!(
        sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, None).unwrap(),
        Kind::Image
    );
    assert_eq!(
        sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF", None, None).unwrap(),
        Kind::Image
    );
    assert_eq!(
        sniff(b"II*\x00\x08\x00\x00\x00", None, None).unwrap(),
        Kind::Image
    );
    assert_eq!(
        sniff(b"GIF89a\x01\x00\x01\x00", None, None).unwrap(),
        Kind::Image
    );
    assert_eq!(
        sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 ", None, None).unwrap(),
        Kind::Image
    );
    let mut bmp = b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00".to_vec();
    bmp.extend_from_slice(&[0; 16]);
    assert_eq!(sniff(&bmp, None, None).unwrap(), Kind::Image);
    // Text that merely starts with "BM" stays text.
    assert_eq!(
        sniff(b"BMW makes cars.", None, None).unwrap(),
        Kind::PlainText
    );
}

#[test]
fn sniff_text_formats_from_content_and_hints() {
    let html = b"<!DOCTYPE html><html><body><p>Hi</p></body></html>";
    assert_eq!(
        sniff(html, Some("text/plain"), Some("page.txt")).unwrap(),
        Kind::Html
    );
    assert_eq!(
        sniff(b"<div><p>Hello</p></div>", None, None).unwrap(),
        Kind::Html
    );
    assert_eq!(
        sniff(b"  {\"a\": [1, 2]}\n", None, None).unwrap(),
        Kind::Json
    );
    assert_eq!(
        sniff(b"[1, 2, 3]", Some("text/plain"), None).unwrap(),
        Kind::Json
    );
    assert_eq!(
        sniff(b"{not json", Some("application/json"), None).unwrap(),
        Kind::Json
    );
    assert_eq!(sniff(b"{not json", None, None).unwrap(), Kind::PlainText);
    assert_eq!(
        sniff(b"# Title\n\nSome *text*.\n\n## Part\n", None, None).unwrap(),
        Kind::Markdown
    );
    assert_eq!(
        sniff(b"plain words", Some("text/markdown; charset=utf-8"), None).unwrap(),
        Kind::Markdown
    );
    assert_eq!(
        sniff(b"plain words", None, Some("dir/README.md")).unwrap(),
        Kind::Markdown
    );
    assert_eq!(
        sniff(b"a,b\n1,2\n", None, Some("data.CSV")).unwrap(),
        Kind::Csv
    );
    assert_eq!(
        sniff(b"a,b\n1,2\n", Some("text/csv"), None).unwrap(),
        Kind::Csv
    );
    assert_eq!(
        sniff(
            b"name,age,city\nAda,36,London\nAlan,41,Wilmslow\n",
            None,
            None
        )
        .unwrap(),
        Kind::Csv
    );
    assert_eq!(
        sniff(b"id\tname\n1\tx\n2\ty\n", None, None).unwrap(),
        Kind::Csv
    );
    assert_eq!(
        sniff(
            b"Dear Ada,\nThanks for the notes, they helped.\nBest, Alan\n",
            None,
            None
        )
        .unwrap(),
        Kind::PlainText
    );
    assert_eq!(
        sniff(b"\xEF\xBB\xBFhello", None, None).unwrap(),
        Kind::PlainText
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "# Heading\n\n## Two\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    assert_eq!(sniff(&utf16, None, None).unwrap(), Kind::Markdown);
    assert_eq!(sniff(b"", None, None).unwrap(), Kind::PlainText);
}

#[test]
fn sniff_password_protected_office_file_is_encrypted() {
    let mut cfb = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    cfb.extend_from_slice(&[0; 504]);
    cfb.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    assert!(matches!(
        sniff(&cfb, None, Some("secret.docx")),
        Err(ExtractError::Encrypted(_))
    ));
}

// ---------------------------------------------------------------------- PDF

#[test]
fn pdf_pages_become_sections_with_page_numbers_and_title() {
    let bytes = pdf(
        &[
            &["Quarterly revenue grew", "in every region"],
            &["Second page mentions Helvetica"],
            &["Third page closes"],
        ],
        Some("Annual Report"),
    );
    let doc = run(&bytes, Kind::Pdf).unwrap();
    assert_eq!(doc.kind, Kind::Pdf);
    assert_eq!(doc.title.as_deref(), Some("Annual Report"));
    assert_eq!(doc.pages, Some(3));
    assert_eq!(doc.sections.len(), 3);
    assert_eq!(
        doc.sections.iter().map(|s| s.page).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    assert!(
        doc.sections[0].text.contains("Quarterly revenue grew"),
        "{:?}",
        doc.sections[0].text
    );
    assert!(doc.sections[0].text.contains("every region"));
    assert!(doc.sections[1].text.contains("Helvetica"));
    assert!(doc.sections[2].text.contains("closes"));
    assert!(doc.sections.iter().all(|s| !s.ocr));
}

#[test]
fn pdf_over_the_page_limit_is_too_large() {
    let bytes = pdf(
        &[&["one page of text here"], &["two pages of text here"]],
        None,
    );
    let limits = Limits {
        max_pages: 1,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(&bytes, Kind::Pdf, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn pdf_with_garbage_after_header_is_corrupt() {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend(noise(2000));
    match run(&bytes, Kind::Pdf) {
        Err(ExtractError::Corrupt { kind, .. }) => assert_eq!(kind, "pdf"),
        other => panic!("expected corrupt pdf, got {other:?}"),
    }
}

#[test]
fn truncated_pdf_fails_cleanly() {
    let bytes = pdf(&[&["Some text that will be cut"], &["More text"]], None);
    for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 40] {
        match run(&bytes[..cut], Kind::Pdf) {
            Err(ExtractError::Corrupt { .. } | ExtractError::NoText(_)) => {}
            Ok(doc) => assert!(!doc.sections.is_empty()),
            Err(other) => panic!("unexpected error for a cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn pdf_with_cyclic_form_xobject_does_not_overflow_the_stack() {
    // Page 2 draws a form that draws itself: pdf-extract would recurse
    // forever. The page is skipped; page 1 still comes through.
    let mut doc = Pdf::load_mem(&pdf(&[&["Readable first page"], &["unused"]], None)).unwrap();
    let form_id = doc.new_object_id();
    let form_resources = dictionary! { "XObject" => dictionary! { "X1" => form_id } };
    let form = Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()], "Resources" => form_resources },
        b"/X1 Do".to_vec(),
    );
    doc.objects.insert(form_id, Object::Stream(form));
    let pages = doc.get_pages();
    let page2 = pages[&2];
    let content_id = doc.add_object(Stream::new(dictionary! {}, b"/X1 Do".to_vec()));
    let page = doc.get_dictionary_mut(page2).unwrap();
    page.set("Contents", content_id);
    page.set(
        "Resources",
        dictionary! { "XObject" => dictionary! { "X1" => form_id } },
    );
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();

    let out = run(&bytes, Kind::Pdf).unwrap();
    assert_eq!(out.sections.len(), 1);
    assert_eq!(out.sections[0].page, Some(1));
    assert!(out.sections[0].text.contains("Readable first page"));
}

#[test]
fn pdf_with_a_parent_cycle_does_not_overflow_the_stack() {
    // Page 2 is its own parent and inherits nothing: pdf-extract would
    // follow /Parent forever looking for /Resources.
    let mut doc = Pdf::load_mem(&pdf(
        &[&["Readable first page"], &["Lost second page"]],
        None,
    ))
    .unwrap();
    let page2 = doc.get_pages()[&2];
    doc.get_dictionary_mut(page2).unwrap().set("Parent", page2);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();

    let out = run(&bytes, Kind::Pdf).unwrap();
    assert_eq!(out.sections.len(), 1);
    assert!(out.sections[0].text.contains("Readable first page"));
}

#[test]
fn pdf_needing_a_password_is_encrypted() {
    let mut doc = Pdf::load_mem(&pdf(&[&["Secret text"]], None)).unwrap();
    doc.trailer.set(
        "ID",
        Object::Array(vec![
            Object::string_literal(b"ABC".to_vec()),
            Object::string_literal(b"DEF".to_vec()),
        ]),
    );
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password: "user",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    assert!(matches!(
        run(&bytes, Kind::Pdf),
        Err(ExtractError::Encrypted(_))
    ));
}

// --------------------------------------------------------------------- DOCX

const STYLES: &str = "<w:styles xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
    <w:style w:type=\"paragraph\" w:styleId=\"berschrift1\"><w:name w:val=\"heading 1\"/></w:style>\
    <w:style w:type=\"paragraph\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/></w:style></w:styles>";

#[test]
fn docx_headings_split_sections_and_title_comes_from_properties() {
    let body = [
        paragraph(Some("Title"), "Project Plan"),
        paragraph(None, "Intro text about goals."),
        paragraph(Some("Heading1"), "Budget"),
        "<w:p><w:r><w:t>Costs</w:t></w:r><w:r><w:tab/><w:t>rise &amp; fall</w:t></w:r></w:p>".to_string(),
        paragraph(Some("berschrift1"), "Zeitplan"),
        paragraph(None, "Deadline in March."),
        // Deleted text and field codes are not document text.
        "<w:p><w:del><w:r><w:delText>removed words</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:t>kept</w:t></w:r></w:p>".to_string(),
        // A moved paragraph appears twice; only its new place counts.
        "<w:p><w:moveFrom><w:r><w:t>old place</w:t></w:r></w:moveFrom><w:moveTo><w:r><w:t> moved here</w:t></w:r></w:moveTo></w:p>".to_string(),
    ]
    .concat();
    let bytes = docx(&body, Some(STYLES), Some("Plan &amp; Budget"));
    let doc = run(&bytes, Kind::Docx).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Plan & Budget"));
    let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
    assert_eq!(
        headings,
        [Some("Project Plan"), Some("Budget"), Some("Zeitplan")]
    );
    assert_eq!(doc.sections[0].text, "Intro text about goals.");
    assert_eq!(doc.sections[1].text, "Costs\trise & fall");
    assert!(doc.sections[2].text.contains("Deadline in March."));
    assert!(doc.sections[2].text.contains("kept"));
    let text = all_text(&doc);
    assert!(!text.contains("removed") && !text.contains("PAGE") && !text.contains("old place"));
    assert!(doc.sections[2].text.contains("moved here"));
}

#[test]
fn docx_title_falls_back_to_the_title_paragraph() {
    let body = [
        paragraph(Some("Title"), "Field Notes"),
        paragraph(None, "Birds seen today."),
    ]
    .concat();
    let doc = run(&docx(&body, None, None), Kind::Docx).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Field Notes"));
}

#[test]
fn docx_zip_bomb_is_too_large() {
    // 50 MB of spaces inside valid XML compresses to about 50 KB.
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    writer.start_file("word/document.xml", options).unwrap();
    writer
        .write_all(format!("<w:document xmlns:w=\"{W_NS}\"><w:body><w:p><w:r><w:t>").as_bytes())
        .unwrap();
    let spaces = vec![b' '; 1024 * 1024];
    for _ in 0..50 {
        writer.write_all(&spaces).unwrap();
    }
    writer
        .write_all(b"</w:t></w:r></w:p></w:body></w:document>")
        .unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    assert!(bytes.len() < 1024 * 1024);
    let limits = Limits {
        max_decompressed_bytes: 10 * 1024 * 1024,
        ..Limits::default()
    };
    match run_with(&bytes, Kind::Docx, limits) {
        Err(ExtractError::TooLarge(msg)) => assert!(msg.contains("docx"), "{msg}"),
        other => panic!("expected too large, got {other:?}"),
    }
    // The ratio check catches it under the default limits too.
    assert!(matches!(
        run(&bytes, Kind::Docx),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn docx_total_decompressed_size_is_counted_not_trusted() {
    // Incompressible parts (no ratio alarm) that add up over the limit.
    let blob = noise(3 * 1024 * 1024);
    let body = paragraph(None, "small");
    let mut bytes = docx(&body, None, None);
    let mut entries: Vec<(&str, &[u8])> = vec![("word/document.xml", body.as_bytes())];
    for name in [
        "word/media/a.bin",
        "word/media/b.bin",
        "word/media/c.bin",
        "word/media/d.bin",
    ] {
        entries.push((name, &blob));
    }
    let limits = Limits {
        max_decompressed_bytes: 10 * 1024 * 1024,
        ..Limits::default()
    };
    assert!(run_with(&bytes, Kind::Docx, limits.clone()).is_ok());
    bytes = zip(&entries);
    assert!(matches!(
        run_with(&bytes, Kind::Docx, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn docx_lying_size_headers_do_not_help_a_bomb() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    writer.start_file("word/document.xml", options).unwrap();
    writer.write_all(&vec![b'a'; 20 * 1024 * 1024]).unwrap();
    let mut bytes = writer.finish().unwrap().into_inner();
    // Rewrite the uncompressed size (offset 24) of every central directory
    // header and local header (offset 22) to claim 100 bytes.
    for (signature, offset) in [(b"PK\x01\x02", 24), (b"PK\x03\x04", 22)] {
        let positions: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == signature)
            .map(|(i, _)| i)
            .collect();
        for at in positions {
            bytes[at + offset..at + offset + 4].copy_from_slice(&100u32.to_le_bytes());
        }
    }
    let limits = Limits {
        max_decompressed_bytes: 10 * 1024 * 1024,
        ..Limits::default()
    };
    match run_with(&bytes, Kind::Docx, limits) {
        Err(ExtractError::TooLarge(_) | ExtractError::Corrupt { .. }) => {}
        other => panic!("expected the bomb to be refused, got {other:?}"),
    }
}

#[test]
fn docx_with_too_many_entries_is_too_large() {
    let names: Vec<String> = (0..50).map(|i| format!("word/media/{i}.txt")).collect();
    let doc_xml = format!(
        "<w:document xmlns:w=\"{W_NS}\"><w:body>{}</w:body></w:document>",
        paragraph(None, "x")
    );
    let mut entries: Vec<(&str, &[u8])> = vec![("word/document.xml", doc_xml.as_bytes())];
    entries.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
    let limits = Limits {
        max_zip_entries: 20,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(&zip(&entries), Kind::Docx, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn corrupt_docx_is_corrupt() {
    let mut bytes = docx(&paragraph(None, "Some words"), None, None);
    bytes.truncate(bytes.len() / 2);
    match run(&bytes, Kind::Docx) {
        Err(ExtractError::Corrupt { kind, .. }) => assert_eq!(kind, "docx"),
        other => panic!("expected corrupt docx, got {other:?}"),
    }
    let bad_xml = zip(&[("word/document.xml", b"<w:document><w:body><w:p></w:body>")]);
    assert!(matches!(
        run(&bad_xml, Kind::Docx),
        Err(ExtractError::Corrupt { .. })
    ));
}

// --------------------------------------------------------------------- XLSX

#[test]
fn xlsx_rows_are_labelled_by_headers_per_sheet() {
    let bytes = xlsx(&[
        (
            "People",
            &[
                &["Name", "City", "Born"],
                &["Ada", "London", "1815"],
                &["Alan", "Wilmslow", "1912"],
            ],
        ),
        ("Notes", &[&["Remark"], &["Check the engine"]]),
    ]);
    let doc = run(&bytes, Kind::Xlsx).unwrap();
    assert_eq!(doc.pages, Some(2));
    assert_eq!(doc.sections.len(), 2);
    assert_eq!(doc.sections[0].sheet.as_deref(), Some("People"));
    assert_eq!(
        doc.sections[0].text,
        "Name: Ada; City: London; Born: 1815\nName: Alan; City: Wilmslow; Born: 1912"
    );
    assert_eq!(doc.sections[1].sheet.as_deref(), Some("Notes"));
    assert_eq!(doc.sections[1].text, "Remark: Check the engine");
}

#[test]
fn xlsx_sheet_count_is_capped() {
    let bytes = xlsx(&[
        ("A", &[&["x"], &["1"]]),
        ("B", &[&["y"], &["2"]]),
        ("C", &[&["z"], &["3"]]),
    ]);
    let limits = Limits {
        max_pages: 2,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(&bytes, Kind::Xlsx, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn xlsx_zip_bomb_is_too_large() {
    let sheet = format!(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>{}</sheetData></worksheet>",
        " ".repeat(30 * 1024 * 1024)
    );
    let mut bytes = xlsx(&[("S", &[&["a"], &["b"]])]);
    let archive = zip::ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = archive;
    for name in names {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name(&name).unwrap(), &mut data).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            data = sheet.clone().into_bytes();
        }
        entries.push((name, data));
    }
    bytes = zip(&entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect::<Vec<_>>());
    let limits = Limits {
        max_decompressed_bytes: 10 * 1024 * 1024,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(&bytes, Kind::Xlsx, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

/// The XLSX fixture with a shared-strings part declaring `unique_count`,
/// and a cell B2 that uses its one string.
fn xlsx_with_shared_strings(unique_count: &str) -> Vec<u8> {
    let base = xlsx(&[("S", &[&["Name", "Tag"], &["Ada"]])]);
    let mut archive = zip::ZipArchive::new(Cursor::new(base)).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data).unwrap();
        let name = file.name().unwrap().into_owned();
        let text = String::from_utf8(data).unwrap();
        let text = match name.as_str() {
            "xl/_rels/workbook.xml.rels" => text.replace(
                "</Relationships>",
                "<Relationship Id=\"rId99\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>",
            ),
            "xl/worksheets/sheet1.xml" => text.replace("</c></row><row r=\"3\">", "</c>"),
            _ => text,
        };
        let text = text.replace(
            "<c r=\"A2\" t=\"inlineStr\"><is><t>Ada</t></is></c>",
            "<c r=\"A2\" t=\"inlineStr\"><is><t>Ada</t></is></c><c r=\"B2\" t=\"s\"><v>0</v></c>",
        );
        entries.push((name, text.into_bytes()));
    }
    let sst = format!(
        "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" uniqueCount=\"{unique_count}\"><si><t>engineer</t></si></sst>"
    );
    entries.push(("xl/sharedStrings.xml".to_string(), sst.into_bytes()));
    zip(&entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect::<Vec<_>>())
}

#[test]
fn xlsx_shared_strings_are_read() {
    let doc = run(&xlsx_with_shared_strings("1"), Kind::Xlsx).unwrap();
    assert_eq!(all_text(&doc), "Name: Ada; Tag: engineer");
}

#[test]
fn xlsx_lying_shared_string_count_is_refused() {
    // calamine would reserve room for four trillion strings.
    match run(&xlsx_with_shared_strings("4000000000000"), Kind::Xlsx) {
        Err(ExtractError::Corrupt { kind, detail }) => {
            assert_eq!(kind, "xlsx");
            assert!(detail.contains("shared strings"), "{detail}");
        }
        other => panic!("expected corrupt xlsx, got {other:?}"),
    }
}

// ---------------------------------------------------------- text formats

#[test]
fn markdown_sections_follow_headings() {
    let md = "# Guide\n\nWelcome to **the** guide.\n\n## Install\n\nRun this:\n\n```sh\ncargo install percolate\n```\n\n\
              ## Usage\n\n- first [link](http://example.com)\n- second `code`\n\n<div>inline <b>html</b></div>\n";
    let doc = run(md.as_bytes(), Kind::Markdown).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Guide"));
    let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
    assert_eq!(headings, [Some("Guide"), Some("Install"), Some("Usage")]);
    assert_eq!(doc.sections[0].text, "Welcome to the guide.");
    assert!(doc.sections[1].text.contains("Run this:"));
    assert!(doc.sections[1].text.contains("cargo install percolate"));
    let usage = &doc.sections[2].text;
    assert!(
        usage.contains("first link")
            && usage.contains("second code")
            && usage.contains("inline html"),
        "{usage}"
    );
    assert!(!all_text(&doc).contains("**") && !all_text(&doc).contains("http://example.com"));
}

#[test]
fn html_drops_scripts_and_styles_and_keeps_headings() {
    let html = "<!doctype html><html><head><title>Shop &amp; Co</title><style>body { color: red }</style>\
                <script>var secret = 'tracking';</script></head><body>\
                <h1>Welcome</h1><p>We sell <b>tea</b> and <a href=\"https://x.test\">coffee</a>.</p>\
                <script>alert('nope')</script><h2>Opening hours</h2><ul><li>Monday</li><li>Friday</li></ul>\
                <noscript>enable js</noscript><p>Closed on Sunday.</p></body></html>";
    let doc = run(html.as_bytes(), Kind::Html).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Shop & Co"));
    let text = all_text(&doc);
    for hidden in ["secret", "tracking", "alert", "color: red"] {
        assert!(!text.contains(hidden), "{hidden} leaked into {text:?}");
    }
    let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
    assert_eq!(headings, [Some("Welcome"), Some("Opening hours")]);
    assert!(
        doc.sections[0].text.contains("We sell tea and coffee."),
        "{:?}",
        doc.sections[0].text
    );
    assert!(
        doc.sections[1].text.contains("Monday")
            && doc.sections[1].text.contains("Closed on Sunday.")
    );
    assert!(!text.contains('\u{E000}'));
}

#[test]
fn html_deep_nesting_is_survived() {
    let depth = 20_000;
    let html = format!(
        "<html><body>{}deep text{}</body></html>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    match run(html.as_bytes(), Kind::Html) {
        Ok(doc) => assert!(all_text(&doc).contains("deep text")),
        Err(e) => assert!(matches!(e, ExtractError::Corrupt { .. }), "{e:?}"),
    }
}

#[test]
fn json_is_flattened_to_paths() {
    let json = br#"{"title": "Inventory", "owner": {"name": "Ada", "age": 36, "active": true},
                    "items": [{"sku": "A-1", "qty": 3}, {"sku": "B-2", "qty": 0.5}], "note": null}"#;
    let doc = run(json, Kind::Json).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Inventory"));
    assert_eq!(
        all_text(&doc),
        "title: Inventory\nowner.name: Ada\nowner.age: 36\nowner.active: true\nitems[0].sku: A-1\nitems[0].qty: 3\nitems[1].sku: B-2\nitems[1].qty: 0.5"
    );
    match run(b"{\"a\": [1, 2", Kind::Json) {
        Err(ExtractError::Corrupt { kind, .. }) => assert_eq!(kind, "json"),
        other => panic!("expected corrupt json, got {other:?}"),
    }
    let limits = Limits {
        max_text_chars: 20,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(json, Kind::Json, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn csv_values_are_labelled_by_headers() {
    let csv = "name,role,notes\nAda,engineer,\"wrote, the first program\"\nGrace,admiral\n,,\nLinus,,kernel,extra\n";
    let doc = run(csv.as_bytes(), Kind::Csv).unwrap();
    assert_eq!(
        all_text(&doc),
        "name: Ada; role: engineer; notes: wrote, the first program\nname: Grace; role: admiral\nname: Linus; notes: kernel; Column 4: extra"
    );
    let tsv = "city\tcountry\nParis\tFrance\nLima\tPeru\n";
    assert_eq!(
        all_text(&run(tsv.as_bytes(), Kind::Csv).unwrap()),
        "city: Paris; country: France\ncity: Lima; country: Peru"
    );
    let semicolons = "a;b\n1;2\n";
    assert_eq!(
        all_text(&run(semicolons.as_bytes(), Kind::Csv).unwrap()),
        "a: 1; b: 2"
    );
}

#[test]
fn csv_rows_are_grouped_into_bounded_sections() {
    let mut csv = String::from("id,text\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},row number {i} of the big table\n"));
    }
    let doc = run(csv.as_bytes(), Kind::Csv).unwrap();
    assert!(doc.sections.len() > 10);
    assert!(doc.sections.iter().all(|s| s.text.len() <= 8 * 1024));
    assert!(
        doc.sections[0]
            .text
            .starts_with("id: 0; text: row number 0")
    );
    assert!(
        doc.sections
            .last()
            .unwrap()
            .text
            .ends_with("id: 4999; text: row number 4999 of the big table")
    );
    let limits = Limits {
        max_text_chars: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        run_with(csv.as_bytes(), Kind::Csv, limits),
        Err(ExtractError::TooLarge(_))
    ));
}

#[test]
fn plain_text_is_normalised_and_split() {
    let text = "\u{FEFF}First paragraph.\r\nStill first.\r\n\r\nSecond paragraph.";
    let doc = run(text.as_bytes(), Kind::PlainText).unwrap();
    assert_eq!(doc.sections.len(), 1);
    assert_eq!(
        doc.sections[0].text,
        "First paragraph.\nStill first.\n\nSecond paragraph."
    );
    let big = "word ".repeat(100_000);
    let doc = run(big.as_bytes(), Kind::PlainText).unwrap();
    assert!(doc.sections.len() > 50);
    assert!(doc.sections.iter().all(|s| s.text.len() <= 8 * 1024));
    assert!(matches!(
        run(b"ok \xFF\xFE bad", Kind::PlainText),
        Err(ExtractError::Corrupt { .. })
    ));
    assert!(matches!(
        run(b"  \n\n ", Kind::PlainText),
        Err(ExtractError::NoText(_))
    ));
}

#[test]
fn sniffed_fixtures_round_trip_through_extract() {
    let cases: Vec<(Vec<u8>, Option<&str>, Kind, &str)> = vec![
        (
            pdf(&[&["Round trip pdf"]], None),
            None,
            Kind::Pdf,
            "Round trip pdf",
        ),
        (
            docx(&paragraph(None, "Round trip docx"), None, None),
            None,
            Kind::Docx,
            "Round trip docx",
        ),
        (
            xlsx(&[("S", &[&["Col"], &["Round trip xlsx"]])]),
            None,
            Kind::Xlsx,
            "Round trip xlsx",
        ),
        (
            b"# Head\n\nRound trip md\n\n## Two\n".to_vec(),
            None,
            Kind::Markdown,
            "Round trip md",
        ),
        (
            b"{\"k\": \"Round trip json\"}".to_vec(),
            None,
            Kind::Json,
            "Round trip json",
        ),
        (
            b"a,b\nRound trip,csv\n".to_vec(),
            Some("t.csv"),
            Kind::Csv,
            "a: Round trip; b: csv",
        ),
    ];
    for (bytes, name, kind, needle) in cases {
        let sniffed = sniff(&bytes, None, name).unwrap();
        assert_eq!(sniffed, kind);
        let doc = run(&bytes, sniffed).unwrap();
        assert!(
            all_text(&doc).contains(needle),
            "{kind:?}: {:?}",
            all_text(&doc)
        );
    }
}

#[test]
fn pdf_whose_streams_inflate_past_the_limit_is_too_large() {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..50 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 200_000, "{} bytes on disk", bomb.len());
    let mut doc = Pdf::load_mem(&pdf(&[&["A harmless looking page of text."]], None)).unwrap();
    doc.add_object(Stream::new(dictionary! { "Filter" => "FlateDecode" }, bomb));
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let limits = Limits { max_decompressed_bytes: 10 << 20, ..Limits::default() };
    let error = extract(&bytes, Kind::Pdf, &limits, &Tools::default()).unwrap_err();
    assert!(matches!(error, ExtractError::TooLarge(_)), "{error}");
    assert!(error.to_string().contains("decompress"), "{error}");
    // Under a limit it fits, the same file reads fine.
    let roomy = Limits { max_decompressed_bytes: 100 << 20, ..Limits::default() };
    let document = extract(&bytes, Kind::Pdf, &roomy, &Tools::default()).unwrap();
    assert!(document.sections[0].text.contains("harmless"));
}
