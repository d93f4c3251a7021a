//! The customer master (CRM): validation, storage, cursor pagination and CSV import.
//!
//! Deletes are soft (a tombstone with `deleted: true`) so desktops pulling changes by cursor
//! learn about them. Every write bumps `version`.
//!
//! `updated_at` comes from a per-tenant change clock (`tenants.customer_clock`): each write
//! transaction advances it to `max(now, clock + 1)` with an `UPDATE … RETURNING`, which holds
//! the tenant row lock until commit. So customer writes of one tenant commit in `updated_at`
//! order, even across server instances with skewed clocks, and a reader that has seen a
//! change at `t` has seen every change at or before `t`: pulling by the (`updated_at`, `id`)
//! cursor never skips a change that commits later.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::{format_micros, now_micros, Store};

/// Allowed tiers (VIP levels), lowest first.
pub const TIERS: &[&str] = &["standard", "silver", "gold", "platinum", "vip"];

/// Default and maximum page sizes for listing.
pub const DEFAULT_PAGE: u32 = 100;
/// Maximum page size for listing.
pub const MAX_PAGE: u32 = 500;

/// Rows per transaction during CSV import.
pub const IMPORT_BATCH: usize = 500;

/// A customer as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Id (UUIDv7).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Normalised phone numbers (digits, optional leading `+`).
    pub phones: Vec<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Tier / VIP level, one of [`TIERS`].
    pub tier: String,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
    /// Incremented on every write.
    pub version: i64,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Tombstone flag (only listed with `include_deleted=true`).
    pub deleted: bool,
    /// Position of this row in the change feed; pass as `cursor` to continue after it.
    pub cursor: String,
}

/// Input for creating a customer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Name (required).
    pub name: String,
    /// Phone numbers.
    #[serde(default)]
    pub phones: Vec<String>,
    /// E-mail; empty means none.
    #[serde(default)]
    pub email: Option<String>,
    /// Tier; defaults to `standard`.
    #[serde(default)]
    pub tier: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Partial update; absent fields are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// New name.
    pub name: Option<String>,
    /// Replaces the phone list.
    pub phones: Option<Vec<String>>,
    /// New e-mail; an empty string clears it.
    pub email: Option<String>,
    /// New tier.
    pub tier: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// New notes.
    pub notes: Option<String>,
    /// When set, the update fails with 409 unless the stored version matches.
    pub expected_version: Option<i64>,
}

/// A validated customer, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCustomer {
    name: String,
    phones: Vec<String>,
    email: Option<String>,
    tier: String,
    tags: Vec<String>,
    notes: String,
}

/// Normalise a phone number: drop spaces and `-().`/; keep a leading `+`; 3–20 digits.
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", raw),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' | '/' => {}
            other => return Err(format!("phone {raw:?} contains {other:?}")),
        }
    }
    if !(3..=20).contains(&digits.len()) {
        return Err(format!("phone {raw:?} must have 3-20 digits"));
    }
    Ok(format!("{plus}{digits}"))
}

fn normalize_email(raw: &str) -> Result<Option<String>, String> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(Some(email.to_owned()))
    } else {
        Err(format!("invalid email {email:?}"))
    }
}

fn normalize_tier(raw: Option<&str>) -> Result<String, String> {
    let tier = raw.unwrap_or("").trim().to_lowercase();
    if tier.is_empty() {
        return Ok(TIERS[0].to_owned());
    }
    if TIERS.contains(&tier.as_str()) {
        Ok(tier)
    } else {
        Err(format!(
            "unknown tier {tier:?}: expected one of {}",
            TIERS.join(", ")
        ))
    }
}

fn normalize_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("name is required".to_owned());
    }
    if name.chars().count() > 200 {
        return Err("name must be at most 200 characters".to_owned());
    }
    Ok(name.to_owned())
}

fn normalize_phones(raw: &[String]) -> Result<Vec<String>, String> {
    let mut seen = BTreeSet::new();
    let mut phones = Vec::new();
    for phone in raw.iter().filter(|p| !p.trim().is_empty()) {
        let phone = normalize_phone(phone)?;
        if seen.insert(phone.clone()) {
            phones.push(phone);
        }
    }
    if phones.len() > 20 {
        return Err("at most 20 phone numbers".to_owned());
    }
    Ok(phones)
}

fn normalize_tags(raw: &[String]) -> Result<Vec<String>, String> {
    let mut seen = BTreeSet::new();
    let mut tags = Vec::new();
    for tag in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if tag.chars().count() > 64 {
            return Err(format!("tag {tag:?} is longer than 64 characters"));
        }
        if seen.insert(tag.to_owned()) {
            tags.push(tag.to_owned());
        }
    }
    if tags.len() > 50 {
        return Err("at most 50 tags".to_owned());
    }
    Ok(tags)
}

fn normalize_notes(raw: Option<&str>) -> Result<String, String> {
    let notes = raw.unwrap_or("");
    if notes.chars().count() > 10_000 {
        return Err("notes must be at most 10000 characters".to_owned());
    }
    Ok(notes.to_owned())
}

impl CustomerInput {
    /// Validate and normalise; the error is a human-readable reason.
    pub fn validate(&self) -> Result<ValidCustomer, String> {
        Ok(ValidCustomer {
            name: normalize_name(&self.name)?,
            phones: normalize_phones(&self.phones)?,
            email: normalize_email(self.email.as_deref().unwrap_or(""))?,
            tier: normalize_tier(self.tier.as_deref())?,
            tags: normalize_tags(&self.tags)?,
            notes: normalize_notes(self.notes.as_deref())?,
        })
    }
}

/// Listing parameters.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// Continue after this cursor (exclusive).
    pub cursor: Option<String>,
    /// Page size (1..=500).
    pub limit: Option<u32>,
    /// Include tombstones (desktops pulling changes must).
    pub include_deleted: bool,
}

/// One page of customers ordered by (`updated_at`, `id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    /// The customers.
    pub items: Vec<Customer>,
    /// Cursor to pass next time (the last item's, or the given one when the page is empty).
    pub next_cursor: Option<String>,
    /// True when the page was full, so more may follow.
    pub has_more: bool,
}

fn encode_cursor(updated_at: i64, id: &str) -> String {
    format!("{updated_at}_{id}")
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    let bad = || Error::Invalid(format!("invalid cursor {cursor:?}"));
    let (micros, id) = cursor.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    if id.is_empty() || id.len() > 64 {
        return Err(bad());
    }
    Ok((micros, id.to_owned()))
}

const COLUMNS: &str =
    "id, tenant_id, name, phones, email, tier, tags, notes, version, created_at, \
                       updated_at, deleted_at";

fn from_row(row: &AnyRow) -> Result<Customer> {
    let json_list = |column: &str| -> Result<Vec<String>> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Internal(format!("customers.{column} is not a JSON list: {e}")))
    };
    let id: String = row.try_get("id")?;
    let updated_at: i64 = row.try_get("updated_at")?;
    Ok(Customer {
        cursor: encode_cursor(updated_at, &id),
        id,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        phones: json_list("phones")?,
        email: row.try_get("email")?,
        tier: row.try_get("tier")?,
        tags: json_list("tags")?,
        notes: row.try_get("notes")?,
        version: row.try_get("version")?,
        created_at: format_micros(row.try_get("created_at")?),
        updated_at: format_micros(updated_at),
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
    })
}

fn to_json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::Internal(format!("cannot encode list: {e}")))
}

/// Advance the tenant's customer change clock and return the new stamp (unix microseconds,
/// normally the current time). Locks the tenant row until the transaction ends.
async fn next_stamp(conn: &mut sqlx::AnyConnection, tenant_id: &str) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE tenants SET customer_clock = \
         CASE WHEN customer_clock >= $1 THEN customer_clock + 1 ELSE $1 END \
         WHERE id = $2 RETURNING customer_clock",
    )
    .bind(now_micros())
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))?;
    Ok(row.try_get("customer_clock")?)
}

async fn insert(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    c: &ValidCustomer,
    now: i64,
) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(&format!(
        "INSERT INTO customers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, NULL)"
    ))
    .bind(&id)
    .bind(tenant_id)
    .bind(&c.name)
    .bind(to_json(&c.phones)?)
    .bind(c.email.clone())
    .bind(&c.tier)
    .bind(to_json(&c.tags)?)
    .bind(&c.notes)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Create a customer in `tenant_id`.
pub async fn create(store: &Store, tenant_id: &str, input: &CustomerInput) -> Result<Customer> {
    let valid = input.validate().map_err(Error::Invalid)?;
    let mut tx = store.begin_write().await?;
    let stamp = next_stamp(tx.conn(), tenant_id).await?;
    let id = insert(tx.conn(), tenant_id, &valid, stamp).await?;
    tx.commit().await?;
    get(store, tenant_id, &id).await
}

/// 409 naming the customer when one of `input`'s numbers already belongs to a live customer of
/// the tenant.
pub async fn refuse_known_phones(
    store: &Store,
    tenant_id: &str,
    input: &CustomerInput,
) -> Result<()> {
    let valid = input.validate().map_err(Error::Invalid)?;
    for phone in &valid.phones {
        // Phones are stored as a JSON list of digits with an optional leading '+': no LIKE
        // wildcard can occur in the pattern.
        let row = sqlx::query(
            "SELECT id, name FROM customers WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND phones LIKE $2 LIMIT 1",
        )
        .bind(tenant_id)
        .bind(format!("%\"{phone}\"%"))
        .fetch_optional(store.pool())
        .await?;
        if let Some(row) = row {
            let id: String = row.try_get("id")?;
            let name: String = row.try_get("name")?;
            return Err(Error::Conflict(format!(
                "{phone} already belongs to customer {name} ({id})"
            )));
        }
    }
    Ok(())
}

async fn fetch(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Customer>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customers WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

/// A live customer of `tenant_id` (404 when missing, deleted or in another tenant).
pub async fn get(store: &Store, tenant_id: &str, id: &str) -> Result<Customer> {
    let mut conn = store.pool().acquire().await?;
    match fetch(&mut conn, tenant_id, id).await? {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(not_found(id)),
    }
}

/// Apply `patch` to a live customer of `tenant_id`.
pub async fn update(
    store: &Store,
    tenant_id: &str,
    id: &str,
    patch: &CustomerPatch,
) -> Result<Customer> {
    let mut tx = store.begin_write().await?;
    let stamp = next_stamp(tx.conn(), tenant_id).await?;
    let current = match fetch(tx.conn(), tenant_id, id).await? {
        Some(c) if !c.deleted => c,
        _ => return Err(not_found(id)),
    };
    if let Some(expected) = patch.expected_version {
        if expected != current.version {
            return Err(Error::Conflict(format!(
                "customer {id} is at version {}, not {expected}",
                current.version
            )));
        }
    }
    let input = CustomerInput {
        name: patch.name.clone().unwrap_or(current.name),
        phones: patch.phones.clone().unwrap_or(current.phones),
        email: patch.email.clone().or(current.email),
        tier: Some(patch.tier.clone().unwrap_or(current.tier)),
        tags: patch.tags.clone().unwrap_or(current.tags),
        notes: Some(patch.notes.clone().unwrap_or(current.notes)),
    };
    let valid = input.validate().map_err(Error::Invalid)?;
    let done = sqlx::query(
        "UPDATE customers SET name = $1, phones = $2, email = $3, tier = $4, tags = $5, \
         notes = $6, version = version + 1, \
         updated_at = $7 \
         WHERE id = $8 AND tenant_id = $9 AND version = $10",
    )
    .bind(&valid.name)
    .bind(to_json(&valid.phones)?)
    .bind(valid.email.clone())
    .bind(&valid.tier)
    .bind(to_json(&valid.tags)?)
    .bind(&valid.notes)
    .bind(stamp)
    .bind(id)
    .bind(tenant_id)
    .bind(current.version)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(Error::Conflict(format!(
            "customer {id} changed concurrently; retry"
        )));
    }
    tx.commit().await?;
    get(store, tenant_id, id).await
}

/// Soft-delete a customer of `tenant_id` (it stays in the change feed as a tombstone).
pub async fn delete(store: &Store, tenant_id: &str, id: &str) -> Result<()> {
    let mut tx = store.begin_write().await?;
    let now = next_stamp(tx.conn(), tenant_id).await?;
    let done = sqlx::query(
        "UPDATE customers SET deleted_at = $1, version = version + 1, updated_at = $1 \
         WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(tenant_id)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_found(id));
    }
    tx.commit().await
}

/// Customers of `tenant_id` after the cursor, oldest change first.
pub async fn list(store: &Store, tenant_id: &str, params: &ListParams) -> Result<Page> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::Invalid(format!("limit must be 1-{MAX_PAGE}")));
    }
    let (after_micros, after_id) = match &params.cursor {
        Some(cursor) => decode_cursor(cursor)?,
        None => (i64::MIN, String::new()),
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 \
         AND (updated_at > $2 OR (updated_at = $2 AND id > $3)) \
         AND ($4 = 1 OR deleted_at IS NULL) \
         ORDER BY updated_at, id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(after_micros)
    .bind(after_id)
    .bind(i64::from(params.include_deleted))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let next_cursor = items
        .last()
        .map(|c| c.cursor.clone())
        .or_else(|| params.cursor.clone());
    let has_more = items.len() == limit as usize;
    Ok(Page {
        items,
        next_cursor,
        has_more,
    })
}

/// A row of an import that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Data row number (1 = the first row after the header).
    pub row: u64,
    /// Line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// A parsed CSV: rows to import and rows rejected.
#[derive(Debug, Clone)]
pub struct ParsedCsv {
    /// Valid rows with their data row numbers.
    pub good: Vec<(u64, ValidCustomer)>,
    /// Invalid rows.
    pub rejected: Vec<RejectedRow>,
}

/// The outcome of an import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    /// Rows imported.
    pub imported: usize,
    /// Rows rejected, with reasons.
    pub rejected: Vec<RejectedRow>,
    /// Transactions committed.
    pub batches: usize,
}

const CSV_COLUMNS: &[&str] = &["name", "phones", "email", "tier", "tags", "notes"];

/// Parse an import CSV (header: name, phones, email, tier, tags; optional notes; phones and
/// tags separated by `;`). Unreadable input is [`Error::MalformedCsv`]; invalid rows are
/// collected in [`ParsedCsv::rejected`].
pub fn parse_csv(body: &[u8]) -> Result<ParsedCsv> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::MalformedCsv(format!(
            "CSV is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::MalformedCsv(
            "CSV is empty: expected a header row (name, phones, email, tier, tags)".to_owned(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::MalformedCsv(format!("cannot read the CSV header: {e}")))?
        .clone();
    let mut index = [None::<usize>; 6];
    for (i, header) in headers.iter().enumerate() {
        let header = header.to_lowercase();
        let Some(slot) = CSV_COLUMNS.iter().position(|c| *c == header) else {
            return Err(Error::MalformedCsv(format!(
                "unknown CSV column {header:?}: expected {}",
                CSV_COLUMNS.join(", ")
            )));
        };
        if index[slot].replace(i).is_some() {
            return Err(Error::MalformedCsv(format!(
                "CSV column {header:?} appears twice"
            )));
        }
    }
    if index[0].is_none() {
        return Err(Error::MalformedCsv(
            "the CSV header has no \"name\" column".to_owned(),
        ));
    }
    let width = headers.len();
    let mut parsed = ParsedCsv {
        good: Vec::new(),
        rejected: Vec::new(),
    };
    for (n, record) in reader.records().enumerate() {
        let row = n as u64 + 1;
        let record = record
            .map_err(|e| Error::MalformedCsv(format!("CSV unreadable at data row {row}: {e}")))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != width {
            parsed.rejected.push(RejectedRow {
                row,
                line,
                reason: format!("expected {width} fields, found {}", record.len()),
            });
            continue;
        }
        let field = |slot: usize| index[slot].and_then(|i| record.get(i)).unwrap_or("");
        let split = |s: &str| s.split(';').map(str::to_owned).collect::<Vec<_>>();
        let input = CustomerInput {
            name: field(0).to_owned(),
            phones: split(field(1)),
            email: Some(field(2).to_owned()),
            tier: Some(field(3).to_owned()),
            tags: split(field(4)),
            notes: Some(field(5).to_owned()),
        };
        match input.validate() {
            Ok(valid) => parsed.good.push((row, valid)),
            Err(reason) => parsed.rejected.push(RejectedRow { row, line, reason }),
        }
    }
    Ok(parsed)
}

/// Store parsed rows, one transaction per [`IMPORT_BATCH`] rows.
pub async fn import(store: &Store, tenant_id: &str, parsed: ParsedCsv) -> Result<ImportReport> {
    let mut batches = 0;
    let mut imported = 0;
    for batch in parsed.good.chunks(IMPORT_BATCH) {
        let mut tx = store.begin_write().await?;
        let stamp = next_stamp(tx.conn(), tenant_id).await?;
        for (_, customer) in batch {
            insert(tx.conn(), tenant_id, customer, stamp).await?;
        }
        tx.commit()
            .await
            .map_err(|e| Error::Internal(format!("import stopped after {imported} rows: {e}")))?;
        batches += 1;
        imported += batch.len();
    }
    Ok(ImportReport {
        imported,
        rejected: parsed.rejected,
        batches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalized() {
        assert_eq!(
            normalize_phone(" +49 (30) 123-45.67 ").unwrap(),
            "+49301234567"
        );
        assert!(normalize_phone("12").is_err());
        assert!(normalize_phone("call me").is_err());
    }

    #[test]
    fn input_validation_reports_reasons() {
        let ok = CustomerInput {
            name: " Ann ".into(),
            tier: Some("VIP".into()),
            ..Default::default()
        };
        let valid = ok.validate().unwrap();
        assert_eq!((valid.name.as_str(), valid.tier.as_str()), ("Ann", "vip"));
        let bad = CustomerInput {
            name: "Ann".into(),
            email: Some("nope".into()),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("email"));
        let bad = CustomerInput {
            name: "  ".into(),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err(), "name is required");
    }

    #[test]
    fn csv_good_and_bad_rows() {
        let csv = "name,phones,email,tier,tags\n\
                   Ann,+1 555 0100;555-0101,ann@example.com,gold,a;b\n\
                   ,123456,,,\n\
                   Bob,,bob@,,\n\
                   Cy,1234\n\
                   \"Dee, Jr\",,,,\n";
        let parsed = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(parsed.good.len(), 2);
        assert_eq!(parsed.good[0].1.phones, vec!["+15550100", "5550101"]);
        assert_eq!(parsed.good[0].1.tags, vec!["a", "b"]);
        assert_eq!(parsed.good[1].1.name, "Dee, Jr");
        let rows: Vec<_> = parsed.rejected.iter().map(|r| (r.row, r.line)).collect();
        assert_eq!(rows, vec![(2, 3), (3, 4), (4, 5)]);
        assert!(parsed.rejected[2].reason.contains("expected 5 fields"));
    }

    #[test]
    fn malformed_csv_is_an_error() {
        assert!(matches!(parse_csv(b""), Err(Error::MalformedCsv(_))));
        assert!(matches!(
            parse_csv(b"phones,email\n1,2\n"),
            Err(Error::MalformedCsv(_))
        ));
        assert!(matches!(
            parse_csv(b"name,colour\nx,y\n"),
            Err(Error::MalformedCsv(_))
        ));
        assert!(matches!(
            parse_csv(b"name\n\xff\xfe\n"),
            Err(Error::MalformedCsv(_))
        ));
    }

    #[test]
    fn cursors_round_trip() {
        let c = encode_cursor(42, "abc");
        assert_eq!(decode_cursor(&c).unwrap(), (42, "abc".to_owned()));
        assert!(decode_cursor("nonsense").is_err());
    }
}
