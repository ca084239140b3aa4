//! PostgreSQL's date/time template patterns: `to_char(ts, 'YYYY-MM-DD
//! HH24:MI:SS')` writes a date or a timestamp with them, and `to_date` and
//! `to_timestamp` of two arguments read one. DataFusion's functions of
//! those names take strftime patterns (`%Y-%m-%d`), which PostgreSQL
//! reads as text and template letters (`to_char(d, '%Y')` is `%0`), so
//! the same call would answer differently.
//!
//! Writing follows PostgreSQL's keywords (`YYYY`, `MON`, `Month`, `DDD`,
//! `D`, `ID`, `IW`, `HH12`, `US`, `AM`, `TZ`, ...), the `FM` prefix (no
//! padding) and the `TH`/`th` suffix (ordinals), double-quoted text and
//! `\"`. Reading takes the keywords a date or a time of day is written
//! with (years, months by number or name, days, hours, minutes, seconds
//! and their fractions, AM/PM, a zone offset), skips separators as
//! PostgreSQL does, and refuses a `%` pattern with an error rather than
//! guess.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz;

use arrow::array::{Array, ArrayRef, AsArray, StringArray, TimestampNanosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

/// PostgreSQL's keywords, each before the shorter ones it starts with.
const KEYWORDS: &[&str] = &[
    "A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "CC", "DAY", "DDD", "DD", "DY", "D", "FF1", "FF2",
    "FF3", "FF4", "FF5", "FF6", "HH24", "HH12", "HH", "IDDD", "ID", "IW", "IYYY", "IYY", "IY", "I",
    "J", "MI", "MM", "MONTH", "MON", "MS", "OF", "P.M.", "PM", "Q", "RM", "SSSSS", "SSSS", "SS",
    "TZH", "TZM", "TZ", "US", "WW", "W", "Y,YYY", "YYYY", "YYY", "YY", "Y",
];

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Text written as is.
    Text(String),
    /// A keyword as written (its case picks the output's case), with the
    /// `FM` prefix and the `TH`/`th` suffix.
    Field {
        keyword: &'static str,
        written: String,
        fill: bool,
        ordinal: Option<bool>,
    },
}

/// The keyword at the start of `rest`, matched without regard to case.
fn keyword_at(rest: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|k| {
            rest.get(..k.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(k))
        })
        .copied()
}

/// `template` split into text and keywords, as PostgreSQL reads it.
fn pieces(template: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            // Double-quoted text, where \" is a quote.
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            text.push(next);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => text.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("\\\"") {
            text.push('"');
            rest = after;
            continue;
        }
        let mut fill = false;
        let mut body = rest;
        loop {
            let prefix = body.get(..2).map(str::to_ascii_uppercase);
            match prefix.as_deref() {
                Some("FM") => fill = true,
                Some("FX" | "TM") => {}
                _ => break,
            }
            body = &body[2..];
        }
        if let Some(keyword) = keyword_at(body) {
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            let written = body[..keyword.len()].to_string();
            body = &body[keyword.len()..];
            let ordinal = match body.get(..2) {
                Some("TH") => Some(true),
                Some("th") => Some(false),
                _ => None,
            };
            if ordinal.is_some() {
                body = &body[2..];
            }
            out.push(Piece::Field {
                keyword,
                written,
                fill,
                ordinal,
            });
            rest = body;
            continue;
        }
        let c = rest.chars().next().expect("rest is not empty");
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// `name` in the case `written` shows: all capitals, capitalized or all
/// small.
fn cased(name: &str, written: &str) -> String {
    let mut letters = written.chars().filter(|c| c.is_alphabetic());
    match (letters.next(), letters.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_uppercase() => name.to_uppercase(),
        (Some(a), _) if a.is_uppercase() => name.to_string(),
        _ => name.to_lowercase(),
    }
}

fn ordinal_suffix(n: i64, upper: bool) -> &'static str {
    let s = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    match (upper, s) {
        (false, s) => s,
        (true, "st") => "ST",
        (true, "nd") => "ND",
        (true, "rd") => "RD",
        (true, _) => "TH",
    }
}

/// A date and time to write: the wall-clock time, and for a timestamp
/// with time zone the session's zone there.
struct Moment {
    at: NaiveDateTime,
    zone: Option<MomentZone>,
}

/// A zone at one instant: its offset east of Greenwich in seconds and its
/// abbreviation (`EST`, or the offset for a zone given as one).
struct MomentZone {
    east: i32,
    abbreviation: String,
}

impl MomentZone {
    /// Zone `zone` (as Arrow names it) at the instant `utc`.
    fn at(zone: &str, tz: &Tz, utc: NaiveDateTime) -> MomentZone {
        use chrono::{Offset, TimeZone};
        use chrono_tz::OffsetName;
        let east = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
        let abbreviation = match chrono_tz::Tz::from_str(zone) {
            _ if zone == "UTC" => "UTC".to_string(),
            Ok(named) => named
                .offset_from_utc_datetime(&utc)
                .abbreviation()
                .map(str::to_string)
                .unwrap_or_else(|| crate::pg_text::offset(east)),
            Err(_) => crate::pg_text::offset(east),
        };
        MomentZone { east, abbreviation }
    }
}

/// `at` written with `template` (see the module's doc).
fn write(template: &[Piece], moment: &Moment) -> String {
    let at = moment.at;
    let mut out = String::new();
    for piece in template {
        let (keyword, written, fill, ordinal) = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Field {
                keyword,
                written,
                fill,
                ordinal,
            } => (*keyword, written.as_str(), *fill, *ordinal),
        };
        // PostgreSQL counts years before 1 as BC years from 1.
        let year = at.year();
        let bc = year <= 0;
        let era_year = if bc { 1 - year } else { year } as i64;
        let iso = at.iso_week();
        let number = |n: i64, width: usize| {
            let text = if fill {
                n.to_string()
            } else if n < 0 {
                format!("-{:0width$}", -n)
            } else {
                format!("{n:0width$}")
            };
            match ordinal {
                Some(upper) => format!("{text}{}", ordinal_suffix(n.abs(), upper)),
                None => text,
            }
        };
        let name = |full: &str, pad: usize| {
            let text = cased(full, written);
            if fill { text } else { format!("{text:<pad$}") }
        };
        let hour12 = match at.hour() % 12 {
            0 => 12,
            h => h,
        } as i64;
        let pm = at.hour() >= 12;
        let text = match keyword {
            "YYYY" => number(era_year, 4),
            "YYY" => number(era_year % 1000, 3),
            "YY" => number(era_year % 100, 2),
            "Y" => number(era_year % 10, 1),
            "Y,YYY" => format!("{},{:03}", era_year / 1000, era_year % 1000),
            "IYYY" => number(iso.year() as i64, 4),
            "IYY" => number(iso.year() as i64 % 1000, 3),
            "IY" => number(iso.year() as i64 % 100, 2),
            "I" => number(iso.year() as i64 % 10, 1),
            "MM" => number(at.month() as i64, 2),
            "MON" => cased(&MONTHS[at.month0() as usize][..3], written),
            "MONTH" => name(MONTHS[at.month0() as usize], 9),
            "DD" => number(at.day() as i64, 2),
            "DDD" => number(at.ordinal() as i64, 3),
            "IDDD" => number(
                (iso.week() as i64 - 1) * 7 + at.weekday().number_from_monday() as i64,
                3,
            ),
            "D" => number(at.weekday().number_from_sunday() as i64, 1),
            "ID" => number(at.weekday().number_from_monday() as i64, 1),
            "DAY" => name(DAYS[at.weekday().num_days_from_sunday() as usize], 9),
            "DY" => cased(
                &DAYS[at.weekday().num_days_from_sunday() as usize][..3],
                written,
            ),
            "W" => number((at.day() as i64 - 1) / 7 + 1, 1),
            "WW" => number((at.ordinal() as i64 - 1) / 7 + 1, 2),
            "IW" => number(iso.week() as i64, 2),
            "CC" => {
                let century = if bc {
                    -((era_year - 1) / 100 + 1)
                } else {
                    (era_year - 1) / 100 + 1
                };
                number(century, 2)
            }
            "J" => number(at.date().num_days_from_ce() as i64 + 1_721_425, 1),
            "Q" => number((at.month0() / 3 + 1) as i64, 1),
            "RM" => name(ROMAN[at.month0() as usize], 4),
            "HH" | "HH12" => number(hour12, 2),
            "HH24" => number(at.hour() as i64, 2),
            "MI" => number(at.minute() as i64, 2),
            "SS" => number(at.second() as i64, 2),
            "MS" => number((at.nanosecond() / 1_000_000) as i64, 3),
            "US" => number((at.nanosecond() / 1_000) as i64, 6),
            "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                let digits = (keyword.as_bytes()[2] - b'0') as u32;
                number(
                    (at.nanosecond() / 10u32.pow(9 - digits)) as i64,
                    digits as usize,
                )
            }
            "SSSS" | "SSSSS" => number(at.num_seconds_from_midnight() as i64, 1),
            "AM" | "PM" => cased(if pm { "PM" } else { "AM" }, written),
            "A.M." | "P.M." => cased(if pm { "P.M." } else { "A.M." }, written),
            "AD" | "BC" => cased(if bc { "BC" } else { "AD" }, written),
            "A.D." | "B.C." => cased(if bc { "B.C." } else { "A.D." }, written),
            "TZ" => match &moment.zone {
                Some(zone) => cased(&zone.abbreviation, written),
                None => String::new(),
            },
            // A timestamp without time zone has UTC's offsets.
            "TZH" => {
                let east = moment.zone.as_ref().map_or(0, |z| z.east);
                let sign = if east < 0 { '-' } else { '+' };
                format!("{sign}{:02}", east.unsigned_abs() / 3600)
            }
            "TZM" => {
                let east = moment.zone.as_ref().map_or(0, |z| z.east);
                format!("{:02}", east.unsigned_abs() % 3600 / 60)
            }
            "OF" => crate::pg_text::offset(moment.zone.as_ref().map_or(0, |z| z.east)),
            _ => written.to_string(),
        };
        out.push_str(&text);
    }
    out
}

/// The error for a strftime pattern where PostgreSQL's are read.
fn strftime_refused(function: &str, template: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "{function} reads PostgreSQL's template patterns (YYYY-MM-DD HH24:MI:SS), not \
         strftime's: \"{template}\""
    ))
}

/// The position in `names` of the name `text` starts with (its first
/// three letters when `short`), in any case, and the length read.
fn name_at(text: &str, names: &[&str], short: bool) -> Option<(usize, usize)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let len = if short { 3 } else { name.len() };
        text.get(..len)
            .is_some_and(|head| head.eq_ignore_ascii_case(&name[..len]))
            .then_some((i, len))
    })
}

/// The fields read from a text with a template.
#[derive(Default)]
struct Read {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    pm: Option<bool>,
    bc: bool,
    offset_seconds: i32,
    /// Whether the text gave its offset (TZH, TZM).
    zoned: bool,
}

/// The digits at the start of `input` (at most `width`, or as many as
/// there are), with an optional sign.
fn digits(input: &str, width: Option<usize>) -> Option<(i64, &str, usize)> {
    let (sign, body) = match input.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, input.strip_prefix('+').unwrap_or(input)),
    };
    let count = body
        .bytes()
        .take(width.unwrap_or(usize::MAX))
        .take_while(u8::is_ascii_digit)
        .count();
    if count == 0 {
        return None;
    }
    let value: i64 = body[..count].parse().ok()?;
    Some((sign * value, &body[count..], count))
}

/// `input` read with `template` as PostgreSQL's `to_timestamp` reads it.
fn read(function: &str, template_text: &str, input: &str) -> Result<Read> {
    if template_text.contains('%') {
        return Err(strftime_refused(function, template_text));
    }
    let template = pieces(template_text);
    let mut fields = Read::default();
    let mut rest = input;
    let invalid = |what: &str, rest: &str| -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::Execution(format!(
            "invalid value \"{}\" for \"{what}\" in {function}('{input}', '{template_text}')",
            rest.chars().take(12).collect::<String>()
        ))
    };
    for (i, piece) in template.iter().enumerate() {
        match piece {
            Piece::Text(text) => {
                // A separator in the template skips one separator or
                // space in the text, as PostgreSQL does; letters must match.
                for c in text.chars() {
                    rest = rest.trim_start_matches(' ');
                    if c == ' ' {
                        continue;
                    }
                    match rest.chars().next() {
                        Some(r) if r == c || (!r.is_alphanumeric() && !c.is_alphanumeric()) => {
                            rest = &rest[r.len_utf8()..];
                        }
                        _ if !c.is_alphanumeric() => {}
                        _ => return Err(invalid(&c.to_string(), rest)),
                    }
                }
            }
            Piece::Field { keyword, .. } => {
                rest = rest.trim_start_matches(|c: char| {
                    c == ' ' || (!c.is_alphanumeric() && c != '+' && c != '-' && c != '.')
                });
                // A field followed directly by another reads its own width.
                let next_is_field = matches!(template.get(i + 1), Some(Piece::Field { .. }));
                let width = |w: usize| if next_is_field { Some(w) } else { None };
                macro_rules! number {
                    ($w:expr, $what:expr) => {{
                        let (v, after, _) =
                            digits(rest, width($w)).ok_or_else(|| invalid($what, rest))?;
                        rest = after;
                        v
                    }};
                }
                match *keyword {
                    "YYYY" | "IYYY" => fields.year = Some(number!(4, keyword) as i32),
                    "YYY" | "IYY" => fields.year = Some(2000 + number!(3, keyword) as i32 % 1000),
                    "YY" | "IY" => {
                        let yy = number!(2, keyword) as i32;
                        fields.year = Some(if yy < 70 { 2000 + yy } else { 1900 + yy });
                    }
                    "Y,YYY" => {
                        let thousands = number!(3, keyword);
                        rest = rest.strip_prefix(',').unwrap_or(rest);
                        fields.year = Some((thousands * 1000 + number!(3, keyword)) as i32);
                    }
                    "MM" => fields.month = Some(number!(2, keyword) as u32),
                    "DD" => fields.day = Some(number!(2, keyword) as u32),
                    "DDD" => fields.day_of_year = Some(number!(3, keyword) as u32),
                    "HH" | "HH12" | "HH24" => fields.hour = number!(2, keyword) as u32,
                    "MI" => fields.minute = number!(2, keyword) as u32,
                    "SS" => fields.second = number!(2, keyword) as u32,
                    "MS" | "US" | "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                        let w = match *keyword {
                            "MS" => 3,
                            "US" => 6,
                            k => (k.as_bytes()[2] - b'0') as usize,
                        };
                        let (v, after, count) =
                            digits(rest, Some(w)).ok_or_else(|| invalid(keyword, rest))?;
                        rest = after;
                        // MS reads milliseconds: '5' is 500 ms after a point.
                        let scale = if *keyword == "MS" && count < 3 {
                            10i64.pow(3 - count as u32) * 1_000_000
                        } else if *keyword == "MS" {
                            1_000_000
                        } else if *keyword == "US" {
                            1_000
                        } else {
                            10i64.pow(9 - count as u32)
                        };
                        fields.nanos = (v * scale) as u32;
                    }
                    "MON" | "MONTH" => {
                        let (m, len) = name_at(rest, &MONTHS, *keyword == "MON")
                            .ok_or_else(|| invalid(keyword, rest))?;
                        rest = &rest[len..];
                        fields.month = Some(m as u32 + 1);
                    }
                    "DAY" | "DY" => {
                        let (_, len) = name_at(rest, &DAYS, *keyword == "DY")
                            .ok_or_else(|| invalid(keyword, rest))?;
                        rest = &rest[len..];
                    }
                    "AM" | "PM" | "A.M." | "P.M." => {
                        let upper = rest.to_ascii_uppercase();
                        let (pm, len) = if upper.starts_with("P.M.") {
                            (true, 4)
                        } else if upper.starts_with("A.M.") {
                            (false, 4)
                        } else if upper.starts_with("PM") {
                            (true, 2)
                        } else if upper.starts_with("AM") {
                            (false, 2)
                        } else {
                            return Err(invalid(keyword, rest));
                        };
                        fields.pm = Some(pm);
                        rest = &rest[len..];
                    }
                    "AD" | "BC" | "A.D." | "B.C." => {
                        let upper = rest.to_ascii_uppercase();
                        let len = if upper.starts_with("B.C.") || upper.starts_with("A.D.") {
                            4
                        } else if upper.starts_with("BC") || upper.starts_with("AD") {
                            2
                        } else {
                            return Err(invalid(keyword, rest));
                        };
                        fields.bc = upper.starts_with('B');
                        rest = &rest[len..];
                    }
                    "TZH" => {
                        fields.zoned = true;
                        fields.offset_seconds += number!(3, keyword) as i32 * 3600
                    }
                    "TZM" => {
                        fields.zoned = true;
                        let m = number!(2, keyword) as i32;
                        fields.offset_seconds +=
                            if fields.offset_seconds < 0 { -m } else { m } * 60;
                    }
                    other => {
                        return plan_err!(
                            "{function} cannot read the template pattern {other} (in \
                             \"{template_text}\")"
                        );
                    }
                }
            }
        }
    }
    if !rest.trim().is_empty() && template.is_empty() {
        return Err(invalid("", rest));
    }
    Ok(fields)
}

/// The date and time of `fields`, in the session's zone (UTC).
fn moment_of(fields: &Read, function: &str, input: &str) -> Result<NaiveDateTime> {
    let mut year = fields.year.unwrap_or(1);
    if fields.bc {
        year = 1 - year;
    }
    let date = match fields.day_of_year {
        Some(doy) if fields.month.is_none() => NaiveDate::from_yo_opt(year, doy),
        _ => NaiveDate::from_ymd_opt(year, fields.month.unwrap_or(1), fields.day.unwrap_or(1)),
    };
    let hour = match fields.pm {
        Some(true) if fields.hour < 12 => fields.hour + 12,
        Some(false) if fields.hour == 12 => 0,
        _ => fields.hour,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, fields.minute, fields.second, fields.nanos);
    match (date, time) {
        (Some(d), Some(t)) => {
            Ok(d.and_time(t) - chrono::Duration::seconds(fields.offset_seconds as i64))
        }
        _ => exec_err!("date/time field value out of range: \"{input}\" in {function}"),
    }
}

/// Which of PostgreSQL's template functions a [`Templated`] is.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Kind {
    Char,
    Date,
    Timestamp,
}

/// `to_char`, `to_date` or `to_timestamp` with PostgreSQL's template
/// patterns; `to_timestamp(double)` is DataFusion's, and
/// `to_timestamp(text)` reads the text as that double, as PostgreSQL does.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Templated {
    kind: Kind,
    inner: ScalarUDF,
    signature: Signature,
}

impl Templated {
    pub(crate) fn all() -> Vec<ScalarUDF> {
        use datafusion::functions::datetime;
        // Text without a zone is read in the session's zone, UTC.
        let mut utc = datafusion::common::config::ConfigOptions::default();
        utc.execution.time_zone = Some("UTC".into());
        [
            (Kind::Char, datetime::to_char()),
            (Kind::Date, datetime::to_date()),
            (Kind::Timestamp, datetime::to_timestamp(&utc)),
        ]
        .into_iter()
        .map(|(kind, inner)| {
            ScalarUDF::new_from_impl(Templated {
                kind,
                inner: inner.as_ref().clone(),
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
    }

    fn name_of(&self) -> &'static str {
        match self.kind {
            Kind::Char => "to_char",
            Kind::Date => "to_date",
            Kind::Timestamp => "to_timestamp",
        }
    }

    /// Whether a call with `arg_types` is PostgreSQL's template form.
    fn templated(&self, arg_types: &[DataType]) -> bool {
        arg_types.len() == 2
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

impl ScalarUDFImpl for Templated {
    fn name(&self) -> &str {
        self.name_of()
    }

    // DataFusion's function goes by these names too; taking them all
    // replaces it everywhere (a session state rebuilt from its functions
    // would otherwise bring it back under its own name).
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if self.kind == Kind::Timestamp && arg_types.len() == 1 && is_text(&arg_types[0]) {
            // PostgreSQL's `to_timestamp` of one argument takes seconds
            // since the epoch as a double: `to_timestamp('-1')` is a second
            // before 1970, not a timestamp read from text.
            return Ok(vec![DataType::Float64]);
        }
        if !self.templated(arg_types) {
            let fields: Vec<_> = arg_types
                .iter()
                .map(|t| Arc::new(arrow::datatypes::Field::new("x", t.clone(), true)))
                .collect();
            return Ok(
                datafusion::logical_expr::type_coercion::functions::fields_with_udf(
                    &fields,
                    &self.inner,
                )?
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            );
        }
        let value = &arg_types[0];
        let first = match self.kind {
            Kind::Char => match value {
                DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(..)
                | DataType::Time32(_)
                | DataType::Time64(_) => value.clone(),
                t if is_text(t) => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                other => {
                    return plan_err!(
                        "to_char of a {other}: Floe writes dates, times and timestamps with \
                         templates"
                    );
                }
            },
            _ => DataType::Utf8,
        };
        if !is_text(&arg_types[1]) {
            return plan_err!("{} takes its template as text", self.name_of());
        }
        Ok(vec![first, DataType::Utf8])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !self.templated(arg_types) {
            return self.inner.return_type(arg_types);
        }
        Ok(match self.kind {
            Kind::Char => DataType::Utf8,
            Kind::Date => DataType::Date32,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        })
    }

    fn with_updated_config(
        &self,
        config: &datafusion::common::config::ConfigOptions,
    ) -> Option<ScalarUDF> {
        // DataFusion's forms read text without a zone in the session's.
        let inner = self.inner.inner().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(Templated {
            kind: self.kind,
            inner,
            signature: self.signature.clone(),
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 2 {
            return self.inner.invoke_with_args(args);
        }
        let (arrays, scalar) = crate::columnar::arrays(&args.args, args.number_rows)?;
        let [value, templates] = arrays.as_slice() else {
            return exec_err!("{} takes two arguments", self.name_of());
        };
        let templates = cast(templates, &DataType::Utf8)?;
        let templates: &StringArray = templates.as_string();
        // The session's time zone.
        let zone = args
            .config_options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".into());
        let tz = crate::zone::arrow_zone(&zone)?;
        let out: ArrayRef = match self.kind {
            Kind::Char => Arc::new(self.to_char(value, templates, &zone, &tz)?),
            Kind::Date | Kind::Timestamp => {
                let text = cast(value, &DataType::Utf8)?;
                let text: &StringArray = text.as_string();
                let mut nanos = Vec::with_capacity(text.len());
                for i in 0..text.len() {
                    if text.is_null(i) || templates.is_null(i) {
                        nanos.push(None);
                        continue;
                    }
                    let fields = read(self.name_of(), templates.value(i), text.value(i))?;
                    let at = moment_of(&fields, self.name_of(), text.value(i))?;
                    let instant = match self.kind {
                        Kind::Date => at
                            .date()
                            .and_time(NaiveTime::MIN)
                            .and_utc()
                            .timestamp_nanos_opt(),
                        // Without an offset in the text, its time is the
                        // session zone's wall-clock time.
                        _ if !fields.zoned => crate::zone::from_wall_clock(&tz, at),
                        _ => at.and_utc().timestamp_nanos_opt(),
                    };
                    match instant {
                        Some(n) => nanos.push(Some(n)),
                        None => {
                            return exec_err!(
                                "timestamp out of range: \"{}\" in {}",
                                text.value(i),
                                self.name_of()
                            );
                        }
                    }
                }
                let stamps = TimestampNanosecondArray::from(nanos);
                match self.kind {
                    Kind::Date => cast(&stamps, &DataType::Date32)?,
                    _ => Arc::new(stamps.with_timezone("UTC")),
                }
            }
        };
        crate::columnar::answer(out, scalar)
    }
}

impl Templated {
    /// `to_char(value, template)`; a timestamp with time zone is written as
    /// the wall-clock time in `zone` (`tz`), the session's.
    fn to_char(
        &self,
        value: &ArrayRef,
        templates: &StringArray,
        zone: &str,
        tz: &Tz,
    ) -> Result<StringArray> {
        let zoned = matches!(value.data_type(), DataType::Timestamp(_, Some(_)));
        let nanos: ArrayRef = match value.data_type() {
            DataType::Time32(_) | DataType::Time64(_) => {
                cast(value, &DataType::Time64(TimeUnit::Nanosecond))?
            }
            DataType::Timestamp(_, Some(_)) => cast(
                &cast(
                    value,
                    &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                )?,
                &DataType::Timestamp(TimeUnit::Nanosecond, None),
            )?,
            _ => cast(value, &DataType::Timestamp(TimeUnit::Nanosecond, None))?,
        };
        let nanos = cast(&nanos, &DataType::Int64)?;
        let nanos = nanos.as_primitive::<Int64Type>();
        let mut last: Option<(String, Vec<Piece>)> = None;
        let mut out = Vec::with_capacity(nanos.len());
        for i in 0..nanos.len() {
            if nanos.is_null(i) || templates.is_null(i) {
                out.push(None);
                continue;
            }
            let template = templates.value(i);
            if last.as_ref().is_none_or(|(t, _)| t != template) {
                last = Some((template.to_string(), pieces(template)));
            }
            let utc = chrono::DateTime::from_timestamp_nanos(nanos.value(i)).naive_utc();
            let moment = if zoned {
                let zone = MomentZone::at(zone, tz, utc);
                Moment {
                    at: utc + chrono::Duration::seconds(zone.east as i64),
                    zone: Some(zone),
                }
            } else {
                Moment {
                    at: utc,
                    zone: None,
                }
            };
            out.push(Some(write(&last.as_ref().expect("set above").1, &moment)));
        }
        Ok(StringArray::from(out))
    }
}

#[cfg(test)]
mod tests;
