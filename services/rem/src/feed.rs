//! Reading moments: by id and as a feed, newest first.

use rocksdb::{Direction as IterDirection, IteratorMode, ReadOptions};
use uuid::Uuid;

use crate::error::{RemError, Result};
use crate::keys::{Cf, encode_i64, id_at};
use crate::model::{MomentData, MomentRow};
use crate::tenant::Tenant;
use crate::txn::{decode, handle};

/// A page of the moment feed.
#[derive(Clone, Debug, Default)]
pub struct FeedQuery {
    /// Only moments starting at or after this time (microseconds).
    pub start_after: Option<i64>,
    /// Only moments starting before this time (microseconds).
    pub start_before: Option<i64>,
    /// Only these moment types (all when empty).
    pub moment_types: Vec<String>,
    /// Only moments carrying all of these tags.
    pub tags: Vec<String>,
    /// Page size.
    pub page_size: usize,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Most feed index entries examined for one page, so a very selective filter
/// cannot turn one request into a scan of the whole tenant.
const MAX_SCANNED_PER_PAGE: usize = 100_000;

impl Tenant {
    /// Reads moments by id; `None` for ids that do not exist.
    pub fn get_moments(&self, ids: &[Uuid]) -> Result<Vec<Option<MomentData>>> {
        let cf = handle(&self.db, Cf::Moments)?;
        let rows = self.db.batched_multi_get_cf(cf, ids.iter().map(|id| id.as_bytes()), false);
        rows.into_iter()
            .map(|row| {
                let Some(bytes) = row? else { return Ok(None) };
                let row: MomentRow = decode(Cf::Moments, &bytes)?;
                Ok(row.data.filter(|_| !row.deleted))
            })
            .collect()
    }

    /// One page of moments, newest start time first, and the cursor of the
    /// next page (`None` at the end).
    pub fn list_moments(&self, query: &FeedQuery) -> Result<(Vec<MomentData>, Option<String>)> {
        let mut options = ReadOptions::default();
        if let Some(after) = query.start_after {
            options.set_iterate_lower_bound(encode_i64(after).to_vec());
        }
        let upper = match &query.cursor {
            Some(cursor) => Some(parse_cursor(cursor)?),
            None => query.start_before.map(|before| encode_i64(before).to_vec()),
        };
        let mode = match &upper {
            Some(bound) => IteratorMode::From(bound, IterDirection::Reverse),
            None => IteratorMode::End,
        };
        let iter = self.db.iterator_cf_opt(handle(&self.db, Cf::MomentTimes)?, options, mode);
        let mut page = Vec::new();
        let mut last_key = None;
        let mut more = false;
        for (scanned, item) in iter.enumerate() {
            let (key, _) = item?;
            // Seeking backwards lands on the bound itself when it exists.
            if upper.as_deref().is_some_and(|bound| key.as_ref() >= bound) {
                continue;
            }
            if page.len() == query.page_size || scanned >= MAX_SCANNED_PER_PAGE {
                more = true;
                break;
            }
            last_key = Some(key.to_vec());
            let Some(id) = id_at(&key, 8) else { continue };
            let Some(moment) = self.get_moments(&[id])?.pop().flatten() else { continue };
            if query.moment_types.is_empty() || query.moment_types.contains(&moment.moment_type) {
                if query.tags.iter().all(|t| moment.tags.contains(t)) {
                    page.push(moment);
                }
            }
        }
        let cursor = if more { last_key.map(hex::encode) } else { None };
        Ok((page, cursor))
    }
}

fn parse_cursor(cursor: &str) -> Result<Vec<u8>> {
    let bytes = hex::decode(cursor).map_err(|_| RemError::invalid("cursor is malformed"))?;
    if bytes.len() != 24 {
        return Err(RemError::invalid("cursor is malformed"));
    }
    Ok(bytes)
}
