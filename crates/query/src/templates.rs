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
//! `\"`. Reading follows PostgreSQL 15's reader in every rule, a strftime
//! pattern included (`from_char`).

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, StringArray, TimestampNanosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::QueryError;

mod from_char;

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

/// The date `reading` names (`to_date`), in days since 1970.
fn date_of(reading: &from_char::Reading, text: &str) -> Result<i32> {
    // PostgreSQL's dates start at 4714-11-24 BC (Julian day 0); Floe's
    // end at 262142-12-31, where it can still write and read them.
    let days = reading.days();
    let last = i64::from(NaiveDate::MAX.num_days_from_ce()) - 719_163;
    if reading.year < -4713 || !(-2_440_588..=last).contains(&days) {
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::DatetimeFieldOverflow,
            message: format!(
                "date out of range: \"{text}\" (Floe's dates run from 4714-11-24 BC to \
                 262142-12-31)"
            ),
        }
        .into_datafusion());
    }
    Ok(days as i32)
}

/// The instant `reading` names (`to_timestamp`), in nanoseconds since
/// 1970: at its offset if the text gave one, else as a wall-clock time in
/// the session's zone `tz`.
fn instant_of(reading: &from_char::Reading, text: &str, tz: &Tz) -> Result<i64> {
    let mut micros = reading.wall_micros();
    if let Some(precision) = reading.precision {
        micros = from_char::round_micros(micros, precision);
    }
    let nanos = match reading.offset_east {
        Some(east) => (micros - east as i64 * 1_000_000).checked_mul(1000),
        None => chrono::DateTime::from_timestamp_micros(micros)
            .and_then(|wall| crate::zone::from_wall_clock(tz, wall.naive_utc())),
    };
    nanos.ok_or_else(|| {
        QueryError::InvalidArgument {
            status: floe_common::Status::DatetimeFieldOverflow,
            message: format!(
                "timestamp out of range: \"{text}\" (Floe's timestamps run from \
                 1677-09-21 to 2262-04-11)"
            ),
        }
        .into_datafusion()
    })
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
                // Parsed once per distinct template: most calls give one.
                let mut parsed: Option<(&str, from_char::Template)> = None;
                let readings = (0..text.len()).map(move |i| {
                    if text.is_null(i) || templates.is_null(i) {
                        return Ok(None);
                    }
                    let template = templates.value(i);
                    if parsed.as_ref().is_none_or(|(t, _)| *t != template) {
                        parsed = Some((template, from_char::Template::parse(template)));
                    }
                    let (_, template) = parsed.as_ref().expect("parsed above");
                    from_char::read(template, text.value(i))
                        .map(|r| Some((r, text.value(i))))
                        .map_err(QueryError::into_datafusion)
                });
                match self.kind {
                    Kind::Date => Arc::new(
                        readings
                            .map(|r| {
                                r.and_then(|r| r.map(|(r, text)| date_of(&r, text)).transpose())
                            })
                            .collect::<Result<Date32Array>>()?,
                    ),
                    _ => Arc::new(
                        readings
                            .map(|r| {
                                r.and_then(|r| {
                                    r.map(|(r, text)| instant_of(&r, text, &tz)).transpose()
                                })
                            })
                            .collect::<Result<TimestampNanosecondArray>>()?
                            .with_timezone("UTC"),
                    ),
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
