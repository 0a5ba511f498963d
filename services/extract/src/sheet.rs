//! Tables: CSV (any of comma, tab, semicolon or pipe separated) and Excel
//! workbooks (XLSX).
//!
//! Every row becomes one line that names its values by the header row
//! (`Name: Ada; Born: 1815`), so a chunk of rows still reads on its own.
//! Rows are grouped into sections of a few kilobytes; workbook sections
//! carry their sheet name.

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use quick_xml::events::Event;

use crate::office::{Archive, attribute, check_zip, open_zip};
use crate::text::{LineSections, TextBudget, decode, no_panic};
use crate::{Document, ExtractError, Kind, Limits, Section};

/// Extracts a CSV file under `limits`.
pub(crate) fn extract_csv(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let text = decode(bytes, "csv")?;
    let mut reader = delimited_reader(&text, detect_delimiter(&text));
    let mut budget = TextBudget::new(limits);
    let mut table = Table::new(Section::default(), &mut budget);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(ExtractError::corrupt("csv", e)),
        }
        let cells = record
            .iter()
            .enumerate()
            .map(|(col, value)| (col, value.to_string()))
            .collect();
        table.row(cells)?;
    }
    Ok(Document {
        kind: Kind::Csv,
        title: None,
        sections: table.finish(),
        pages: None,
    })
}

/// A CSV reader of `text` split at `delimiter` that takes every row as
/// data (no header row), whatever its width.
pub(crate) fn delimited_reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Columns beyond this many are labelled by number, not by header.
const MAX_HEADERS: usize = 1 << 14;

/// The separator that gives the most rows of the same, plural, width over
/// the first lines; a comma when none does.
fn detect_delimiter(text: &str) -> u8 {
    let sample: String = text.lines().take(20).collect::<Vec<_>>().join("\n");
    let mut best = (b',', 0usize);
    for delimiter in [b',', b'\t', b';', b'|'] {
        let mut reader = delimited_reader(&sample, delimiter);
        let widths: Vec<usize> = reader
            .records()
            .map_while(Result::ok)
            .map(|r| r.len())
            .collect();
        let Some(&first) = widths.first() else {
            continue;
        };
        let agreeing = widths.iter().filter(|&&w| w == first).count();
        if first > 1 && agreeing > best.1 {
            best = (delimiter, agreeing);
        }
    }
    best.0
}

/// Extracts an XLSX workbook under `limits`, after the zip-bomb guard
/// (calamine decompresses internally).
pub(crate) fn extract_xlsx(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    check_zip(bytes, limits, "xlsx")?;
    let mut archive = open_zip(bytes, "xlsx")?;
    check_shared_strings(&mut archive)?;
    let title = crate::office::core_title(&mut archive, "xlsx");
    no_panic("xlsx", || read_xlsx(bytes, limits, title))
}

fn read_xlsx(
    bytes: &[u8],
    limits: &Limits,
    title: Option<String>,
) -> Result<Document, ExtractError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let names = workbook.sheet_names();
    if names.len() > limits.max_pages as usize {
        return Err(ExtractError::TooLarge(format!(
            "the workbook has {} sheets, over the limit of {}",
            names.len(),
            limits.max_pages
        )));
    }
    let mut sections = Vec::new();
    let mut budget = TextBudget::new(limits);
    for name in &names {
        let template = Section {
            sheet: Some(name.clone()),
            ..Section::default()
        };
        let mut table = Table::new(template, &mut budget);
        let mut cells = match workbook.worksheet_cells_reader(name) {
            Ok(cells) => cells,
            // Chart sheets and dialog sheets hold no cells.
            Err(XlsxError::NotAWorksheet(_)) => continue,
            Err(e) => return Err(xlsx_error(e)),
        };
        let mut row: Option<u32> = None;
        let mut values: Vec<(usize, String)> = Vec::new();
        while let Some(cell) = cells.next_cell().map_err(xlsx_error)? {
            let (r, c) = cell.get_position();
            if row != Some(r) {
                table.row(std::mem::take(&mut values))?;
                row = Some(r);
            }
            if let Some(value) = format_cell(cell.get_value()) {
                values.push((c as usize, value));
            }
        }
        table.row(values)?;
        sections.extend(table.finish());
    }
    Ok(Document {
        kind: Kind::Xlsx,
        title,
        sections,
        pages: Some(u32::try_from(names.len()).unwrap_or(u32::MAX)),
    })
}

fn xlsx_error(error: XlsxError) -> ExtractError {
    match error {
        XlsxError::Password => {
            ExtractError::Encrypted("the workbook is password protected".to_string())
        }
        XlsxError::Zip(e) => crate::office::zip_error("xlsx", e),
        other => ExtractError::corrupt("xlsx", other),
    }
}

/// calamine reserves memory for the `uniqueCount` the shared-strings part
/// declares; a lying count could ask for terabytes. Refuse counts that the
/// part cannot hold (every string takes at least `<si/>`, five bytes).
fn check_shared_strings(archive: &mut Archive<'_>) -> Result<(), ExtractError> {
    for index in 0..archive.len() {
        // Every part, whatever its name: calamine finds the part through
        // the workbook's location and a case-insensitive name lookup.
        let Ok(entry) = archive.by_index(index) else {
            continue;
        };
        let mut counter = CountingReader {
            inner: entry,
            count: 0,
        };
        let declared = root_unique_count(&mut counter);
        if let Some(declared) = declared {
            // Count the rest of the part: its real size, not its header's.
            std::io::copy(&mut counter, &mut std::io::sink())
                .map_err(|e| ExtractError::corrupt("xlsx", e))?;
            if declared.saturating_mul(5) > counter.count {
                return Err(ExtractError::corrupt(
                    "xlsx",
                    format!(
                        "the shared strings claim {declared} entries, more than the part can hold"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The `uniqueCount` of a `<sst>` root element, if that is what the part is.
fn root_unique_count<R: Read>(input: &mut R) -> Option<u64> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(input));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) => {
                if e.local_name().as_ref() != "sst" {
                    return None;
                }
                // An unparsable count is ignored by calamine too.
                return attribute(&e, "uniqueCount")?.trim().parse().ok();
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The text of a cell; `None` for an empty cell.
fn format_cell(value: &DataRef<'_>) -> Option<String> {
    let text = match value {
        DataRef::Empty => return None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            s.trim().to_string()
        }
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => format_number(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::Error(e) => format!("#{e:?}"),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if dt.as_f64().fract() == 0.0 {
                format!("{y:04}-{mo:02}-{d:02}")
            } else if dt.as_f64() < 1.0 {
                format!("{h:02}:{mi:02}:{s:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTime(dt) => format!("{} days", format_number(dt.as_f64())),
    };
    (!text.is_empty()).then_some(text)
}

/// Whole numbers without a trailing `.0`.
fn format_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// Rows of one table (a CSV file or a sheet) turned into labelled lines.
struct Table<'b> {
    headers: Option<Vec<String>>,
    lines: LineSections,
    budget: &'b mut TextBudget,
    rows: usize,
}

impl<'b> Table<'b> {
    fn new(template: Section, budget: &'b mut TextBudget) -> Self {
        Self {
            headers: None,
            lines: LineSections::new(template),
            budget,
            rows: 0,
        }
    }

    /// Adds one row of `(column, value)` cells. The first non-empty row is
    /// the header row.
    fn row(&mut self, cells: Vec<(usize, String)>) -> Result<(), ExtractError> {
        let mut cells: Vec<(usize, String)> = cells
            .into_iter()
            .map(|(c, v)| (c, v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if cells.is_empty() {
            return Ok(());
        }
        cells.sort_by_key(|(c, _)| *c);
        let Some(headers) = &self.headers else {
            let width = cells.last().map_or(0, |(c, _)| c + 1).min(MAX_HEADERS);
            let mut headers = vec![String::new(); width];
            for (c, v) in cells {
                self.budget.spend(&v)?;
                if let Some(slot) = headers.get_mut(c) {
                    *slot = v;
                }
            }
            self.headers = Some(headers);
            return Ok(());
        };
        let line = cells
            .iter()
            .map(|(c, v)| match headers.get(*c).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {v}"),
                None => format!("Column {}: {v}", c + 1),
            })
            .collect::<Vec<_>>()
            .join("; ");
        self.budget.spend(&line)?;
        self.rows += 1;
        self.lines.push_line(&line);
        Ok(())
    }

    /// The sections of the table. A table that is only a header row keeps
    /// that row as its text.
    fn finish(mut self) -> Vec<Section> {
        if let Some(headers) = self.headers.take().filter(|_| self.rows == 0) {
            let line = headers
                .into_iter()
                .filter(|h| !h.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            self.lines.push_line(&line);
        }
        self.lines.finish()
    }
}
