//! How an `interval` column is stored. Iceberg has no interval type, so
//! such a column is a `string` with the doc [`INTERVAL_DOC`], holding
//! each value exactly (months, days and nanoseconds apart, as PostgreSQL
//! and Arrow keep them) in ISO 8601's duration form with a sign on each
//! part, as PostgreSQL's `IntervalStyle = iso_8601` writes it:
//! `P1Y2M3DT4H5M6.5S`, `P-1M`, `PT-1H-30M`, `PT0S`. Other Iceberg readers
//! see that text.

use arrow::datatypes::IntervalMonthDayNano;

/// The Iceberg doc of an `interval` column.
pub const INTERVAL_DOC: &str = "interval";

/// Whether a stored field is an `interval` column: text with the
/// [`INTERVAL_DOC`] doc.
pub fn is_interval_field(field: &arrow::datatypes::Field) -> bool {
    field.metadata().get("doc").map(String::as_str) == Some(INTERVAL_DOC)
        && *field.data_type() == arrow::datatypes::DataType::Utf8
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// The stored text of `value`.
pub fn format(value: IntervalMonthDayNano) -> String {
    use std::fmt::Write;
    let mut out = String::from("P");
    let (years, months) = (value.months / 12, value.months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (value.days, 'D')] {
        if n != 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    let nanos = value.nanoseconds;
    if nanos != 0 {
        out.push('T');
        let sign = if nanos < 0 { "-" } else { "" };
        let abs = nanos.unsigned_abs();
        let (hours, rest) = (abs / NANOS_PER_HOUR as u64, abs % NANOS_PER_HOUR as u64);
        let (minutes, rest) = (
            rest / NANOS_PER_MINUTE as u64,
            rest % NANOS_PER_MINUTE as u64,
        );
        let (seconds, fraction) = (
            rest / NANOS_PER_SECOND as u64,
            rest % NANOS_PER_SECOND as u64,
        );
        if hours != 0 {
            let _ = write!(out, "{sign}{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{sign}{minutes}M");
        }
        if seconds != 0 || fraction != 0 {
            let _ = write!(out, "{sign}{seconds}");
            if fraction != 0 {
                let digits = format!("{fraction:09}");
                let _ = write!(out, ".{}", digits.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

/// The value of a stored text ([`format`]'s form), or `None` if it is
/// not one or does not fit.
pub fn parse(text: &str) -> Option<IntervalMonthDayNano> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let date = parts(date)?;
    if date.is_empty() && time.is_none() {
        return None;
    }
    let (mut months, mut days) = (0i32, 0i32);
    for (number, unit) in date {
        let n = i32::try_from(whole(number)?).ok()?;
        match unit {
            'Y' => months = months.checked_add(n.checked_mul(12)?)?,
            'M' => months = months.checked_add(n)?,
            'D' => days = days.checked_add(n)?,
            _ => return None,
        }
    }
    let mut nanos = 0i64;
    for (number, unit) in time.map(parts).unwrap_or(Some(Vec::new()))? {
        let part = match unit {
            'H' => whole(number)?.checked_mul(NANOS_PER_HOUR)?,
            'M' => whole(number)?.checked_mul(NANOS_PER_MINUTE)?,
            'S' => seconds(number)?,
            _ => return None,
        };
        nanos = nanos.checked_add(part)?;
    }
    Some(IntervalMonthDayNano::new(months, days, nanos))
}

/// The (number, unit) parts of a run like `1Y-2M3D`, in order.
fn parts(text: &str) -> Option<Vec<(&str, char)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            let number = &text[start..i];
            if number.is_empty() || out.iter().any(|(_, u)| *u == c) {
                return None;
            }
            out.push((number, c));
            start = i + 1;
        }
    }
    (start == text.len()).then_some(out)
}

/// A signed whole number.
fn whole(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Signed seconds with up to nine fractional digits, in nanoseconds.
fn seconds(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = whole(int)?.checked_mul(NANOS_PER_SECOND)?;
    let fraction: i64 = format!("{fraction:0<9}").parse().ok()?;
    let nanos = whole.checked_add(fraction)?;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests;
