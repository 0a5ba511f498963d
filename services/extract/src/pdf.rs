//! PDF: one section per page, from the text layer (pdf-extract), with OCR
//! of pages that have (nearly) no text (scans).
//!
//! lopdf loads the document once: page count (over [`Limits::max_pages`]
//! fails), encryption (a password-protected file fails as
//! [`ExtractError::Encrypted`]; an empty user password is tried by lopdf),
//! and the title from the Info dictionary. pdf-extract then renders each
//! page from that document. It can panic, or recurse without bound, on
//! malformed files: panics are caught per page, and pages whose structure
//! would make it recurse too deep (cyclic page-tree parents, cyclic or
//! deeply nested form XObjects) are not given to it at all. A page that
//! fails is treated like a page without text.

use std::collections::{HashMap, HashSet};

use lopdf::{Dictionary, Document as Pdf, Object, ObjectId};

use crate::text::{TextBudget, no_panic, push_split, title_text};
use crate::{Document, ExtractError, Kind, Limits, Section, Tools};

/// A page with fewer non-blank characters than this is taken for a scan.
const MIN_PAGE_CHARS: usize = 16;

/// Deepest chain of `/Parent` links followed from a page.
const MAX_PARENT_DEPTH: usize = 64;

/// Deepest nesting of form XObjects drawn inside each other.
const MAX_FORM_DEPTH: usize = 16;

/// Most form XObject invocations on one page (counted through nesting).
const MAX_FORM_CALLS: usize = 10_000;

/// Extracts a PDF under `limits`, running OCR through `tools` for pages
/// without a text layer.
pub(crate) fn extract(
    bytes: &[u8],
    limits: &Limits,
    tools: &Tools,
) -> Result<Document, ExtractError> {
    let start = crate::sniff::pdf_header_offset(bytes)
        .ok_or_else(|| ExtractError::corrupt("pdf", "no %PDF- header"))?;
    let pdf = no_panic("pdf", || Pdf::load_mem(&bytes[start..]).map_err(load_error))?;
    if pdf.is_encrypted() {
        return Err(ExtractError::Encrypted(
            "the PDF needs a password to open".to_string(),
        ));
    }
    check_stream_sizes(&pdf, limits)?;
    let pages = pdf.get_pages();
    if pages.len() > limits.max_pages as usize {
        return Err(ExtractError::TooLarge(format!(
            "the PDF has {} pages, over the limit of {}",
            pages.len(),
            limits.max_pages
        )));
    }
    if pages.is_empty() {
        return Err(ExtractError::corrupt("pdf", "the document has no pages"));
    }
    let mut budget = TextBudget::new(limits);
    let mut sections = Vec::new();
    let mut first_failure: Option<ExtractError> = None;
    for (&number, &page_id) in &pages {
        let text = match page_text(&pdf, number, page_id) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(page = number, error = %e, "PDF page text could not be extracted");
                first_failure.get_or_insert(e);
                String::new()
            }
        };
        let mut template = Section {
            page: Some(number),
            ..Section::default()
        };
        let mut text = tidy(&text);
        if visible_chars(&text) < MIN_PAGE_CHARS {
            match crate::ocr::ocr_pdf_page(&pdf, number, limits, tools) {
                Ok(Some(recognised)) if visible_chars(&recognised) > visible_chars(&text) => {
                    text = tidy(&recognised);
                    template.ocr = true;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(page = number, error = %e, "OCR of PDF page failed");
                    first_failure.get_or_insert(e);
                }
            }
        }
        budget.spend(&text)?;
        push_split(&mut sections, &template, &text);
    }
    if sections.is_empty() {
        // Say why there is no text when a page failed (a broken font, a
        // missing OCR program) rather than just "no text".
        if let Some(e) = first_failure {
            return Err(e);
        }
    }
    Ok(Document {
        kind: Kind::Pdf,
        title: info_title(&pdf),
        sections,
        pages: Some(u32::try_from(pages.len()).unwrap_or(u32::MAX)),
    })
}

/// Inflates every Flate-compressed stream once, into nothing, counting
/// bytes: a PDF whose streams inflate to more than
/// [`Limits::max_decompressed_bytes`] in total (a decompression bomb) fails
/// before any parser inflates it into memory.
fn check_stream_sizes(pdf: &Pdf, limits: &Limits) -> Result<(), ExtractError> {
    let mut budget = limits.max_decompressed_bytes;
    for object in pdf.objects.values() {
        let Object::Stream(stream) = object else { continue };
        let first_filter = match stream.dict.get(b"Filter") {
            Ok(Object::Name(name)) => Some(name.as_slice()),
            Ok(Object::Array(filters)) => filters.first().and_then(|f| f.as_name().ok()),
            _ => None,
        };
        if first_filter != Some(b"FlateDecode".as_slice()) {
            continue;
        }
        let cap = budget.saturating_add(1);
        let mut inflated = std::io::Read::take(flate2::read::ZlibDecoder::new(stream.content.as_slice()), cap);
        // A damaged stream counts what inflated before the damage; the
        // parsers report the damage themselves.
        let _ = std::io::copy(&mut inflated, &mut std::io::sink());
        let size = cap - inflated.limit();
        if size > budget {
            return Err(ExtractError::TooLarge(format!(
                "the pdf file's streams decompress to more than the limit of {} bytes (a decompression bomb?)",
                limits.max_decompressed_bytes
            )));
        }
        budget -= size;
    }
    Ok(())
}

fn load_error(error: lopdf::Error) -> ExtractError {
    match error {
        lopdf::Error::Decryption(e) => {
            ExtractError::Encrypted(format!("the PDF could not be decrypted: {e}"))
        }
        lopdf::Error::InvalidPassword => {
            ExtractError::Encrypted("the PDF needs a password to open".to_string())
        }
        other => ExtractError::corrupt("pdf", other),
    }
}

/// The text layer of one page, after the structural checks.
fn page_text(pdf: &Pdf, number: u32, page_id: ObjectId) -> Result<String, ExtractError> {
    check_page(pdf, page_id)
        .map_err(|why| ExtractError::corrupt("pdf", format!("page {number} {why}")))?;
    no_panic("pdf", || {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        pdf_extract::output_doc_page(pdf, &mut output, number)
            .map_err(|e| ExtractError::corrupt("pdf", format!("page {number}: {e}")))?;
        Ok(text)
    })
}

/// Refuses pages on which pdf-extract would recurse without bound: it
/// follows `/Parent` links for inherited attributes and draws form
/// XObjects (`Do`) recursively.
fn check_page(pdf: &Pdf, page_id: ObjectId) -> Result<(), &'static str> {
    let mut seen = HashSet::new();
    let mut node = page_id;
    loop {
        if !seen.insert(node) || seen.len() > MAX_PARENT_DEPTH {
            return Err("has a cyclic or too deep page tree");
        }
        let Ok(dict) = pdf.get_dictionary(node) else {
            break;
        };
        let Ok(parent) = dict.get(b"Parent").and_then(Object::as_reference) else {
            break;
        };
        node = parent;
    }
    let Some(resources) = inherited_resources(pdf, page_id) else {
        return Ok(());
    };
    if !has_forms(pdf, resources) {
        return Ok(());
    }
    let content = pdf
        .get_page_content(page_id)
        .map_err(|_| "has an unreadable content stream")?;
    let mut walk = FormWalk {
        pdf,
        names: HashMap::new(),
        calls: 0,
        path: Vec::new(),
    };
    walk.check(&content, resources)
}

/// The page's resource dictionary, inherited from its ancestors if needed
/// (at most [`MAX_PARENT_DEPTH`] of them: a longer chain is a loop).
pub(crate) fn inherited_resources(pdf: &Pdf, page_id: ObjectId) -> Option<&Dictionary> {
    let mut node = page_id;
    for _ in 0..MAX_PARENT_DEPTH {
        let dict = pdf.get_dictionary(node).ok()?;
        if let Ok(resources) = dict.get(b"Resources") {
            return deref(pdf, resources).as_dict().ok();
        }
        node = dict.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

/// Follows a reference (once; lopdf resolves chains) to its object.
pub(crate) fn deref<'a>(pdf: &'a Pdf, object: &'a Object) -> &'a Object {
    pdf.dereference(object).map_or(object, |(_, o)| o)
}

/// The XObject dictionary of a resource dictionary.
pub(crate) fn xobjects<'a>(pdf: &'a Pdf, resources: &'a Dictionary) -> Option<&'a Dictionary> {
    resources
        .get(b"XObject")
        .ok()
        .and_then(|x| deref(pdf, x).as_dict().ok())
}

fn has_forms(pdf: &Pdf, resources: &Dictionary) -> bool {
    xobjects(pdf, resources).is_some_and(|xobjects| {
        xobjects.iter().any(|(_, x)| {
            deref(pdf, x).as_stream().is_ok_and(|s| {
                s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form")
            })
        })
    })
}

/// A depth-first walk over the forms a content stream draws, as
/// pdf-extract would make it.
struct FormWalk<'a> {
    pdf: &'a Pdf,
    /// The XObject names each form's content invokes, parsed once.
    names: HashMap<ObjectId, Vec<Vec<u8>>>,
    calls: usize,
    path: Vec<ObjectId>,
}

impl<'a> FormWalk<'a> {
    fn check(&mut self, content: &[u8], resources: &'a Dictionary) -> Result<(), &'static str> {
        let names = invoked_names(content);
        self.check_names(&names, resources)
    }

    fn check_names(
        &mut self,
        names: &[Vec<u8>],
        resources: &'a Dictionary,
    ) -> Result<(), &'static str> {
        let Some(xobjects) = xobjects(self.pdf, resources) else {
            return Ok(());
        };
        for name in names {
            let Ok(reference) = xobjects.get(name) else {
                continue;
            };
            let Ok(id) = reference.as_reference() else {
                continue;
            };
            let Ok(stream) = self.pdf.get_object(id).and_then(Object::as_stream) else {
                continue;
            };
            if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
                continue;
            }
            self.calls += 1;
            if self.path.contains(&id)
                || self.path.len() >= MAX_FORM_DEPTH
                || self.calls > MAX_FORM_CALLS
            {
                return Err("has cyclic, too deeply nested or too many form XObjects");
            }
            // A form without resources of its own uses its caller's.
            let inner = stream
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|r| deref(self.pdf, r).as_dict().ok())
                .unwrap_or(resources);
            let invoked = match self.names.get(&id) {
                Some(names) => names.clone(),
                None => {
                    let content = stream
                        .decompressed_content()
                        .unwrap_or_else(|_| stream.content.clone());
                    let names = invoked_names(&content);
                    self.names.insert(id, names.clone());
                    names
                }
            };
            self.path.push(id);
            let result = self.check_names(&invoked, inner);
            self.path.pop();
            result?;
        }
        Ok(())
    }
}

/// The operands of the `Do` operators of a content stream.
fn invoked_names(content: &[u8]) -> Vec<Vec<u8>> {
    let Ok(content) = lopdf::content::Content::decode(content) else {
        return Vec::new();
    };
    content
        .operations
        .into_iter()
        .filter(|op| op.operator == "Do")
        .filter_map(|op| {
            op.operands
                .first()
                .and_then(|o| o.as_name().ok())
                .map(<[u8]>::to_vec)
        })
        .collect()
}

/// `/Title` of the Info dictionary, when present and not blank.
fn info_title(pdf: &Pdf) -> Option<String> {
    let info = pdf
        .trailer
        .get(b"Info")
        .ok()
        .map(|i| deref(pdf, i))?
        .as_dict()
        .ok()?;
    let title = lopdf::decode_text_string(deref(pdf, info.get(b"Title").ok()?)).ok()?;
    title_text(&title)
}

fn visible_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Trims lines and squeezes runs of blank lines (pdf-extract emits many).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(line);
    }
    out
}
