//! Time zones as PostgreSQL reads them, and each session's time zone.
//!
//! A session starts in UTC (or in the zone its startup message names, as
//! JDBC drivers send it) and changes zone with `SET TIME ZONE`, `SET
//! timezone = ...` and `RESET timezone`; `SHOW timezone` answers it. The
//! zone is the session's alone: a statement runs with it ([`scope`]), so
//! its `timestamp with time zone` values are read, computed and written as
//! wall-clock times there (see [`crate::zone_casts`] and
//! [`crate::pg_text`]), while every stored value stays an instant.
//!
//! The zone names PostgreSQL's `TimeZone` setting accepts:
//!
//! - an IANA name, in any case (`america/new_york` is `America/New_York`);
//! - a number, hours east of Greenwich (`SET TIME ZONE 7`, `'+07'`,
//!   `'5.5'`), shown as `<+07>-07`;
//! - `INTERVAL '-03:30' HOUR TO MINUTE`, east of Greenwich;
//! - a POSIX offset, west of Greenwich, alone or after a name
//!   (`'+07:00'` is seven hours behind UTC, `'UTC+3'` three hours behind,
//!   `'GMT-2'` two hours ahead).
//!
//! `AT TIME ZONE` reads zones the same way, except that a bare number is a
//! POSIX offset there too ([`pg_zone`]).

use std::str::FromStr;

use arrow::array::timezone::Tz;
use arrow::error::ArrowError;
use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use datafusion::common::{Result, plan_err};
use datafusion::sql::sqlparser::ast::{
    Expr, Reset, ResetStatement, Set, Statement, UnaryOperator, Value,
};
use floe_common::Status;

use crate::error::QueryError;

/// The zone Arrow reads as `zone` (an IANA name or `+07:00`).
pub fn arrow_zone(zone: &str) -> Result<Tz, ArrowError> {
    Tz::from_str(zone)
}

/// A session's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionZone {
    /// The zone as Arrow and DataFusion name it: an IANA name or an offset
    /// east of Greenwich (`+07:00`).
    arrow: String,
    /// What `SHOW timezone` answers.
    shown: String,
}

impl Default for SessionZone {
    fn default() -> Self {
        SessionZone::utc()
    }
}

impl SessionZone {
    /// UTC, every session's zone until it sets one.
    pub fn utc() -> SessionZone {
        SessionZone {
            arrow: "UTC".into(),
            shown: "UTC".into(),
        }
    }

    /// The zone as Arrow names it.
    pub fn arrow(&self) -> &str {
        &self.arrow
    }

    /// The zone as `SHOW timezone` answers it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether this is UTC, the zone statements are planned in by default.
    pub fn is_utc(&self) -> bool {
        self.arrow == "UTC"
    }

    /// The zone a `TimeZone` setting of `text` names (see the module's
    /// doc); an error with 22023 if there is none.
    pub fn parse(text: &str) -> Result<SessionZone, QueryError> {
        let trimmed = text.trim();
        if let Ok(hours) = trimmed.parse::<f64>()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || "+-.".contains(c))
        {
            return SessionZone::hours_east(hours, text);
        }
        let invalid = || invalid_setting(text);
        if let Some(name) = iana_name(trimmed) {
            // Names of UTC itself compute as UTC.
            let arrow = if UTC_NAMES.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
                "UTC".to_string()
            } else {
                name.clone()
            };
            return Ok(SessionZone { arrow, shown: name });
        }
        let east = posix_spec(trimmed).ok_or_else(invalid)?;
        Ok(SessionZone {
            arrow: iso_offset(east),
            shown: trimmed.to_string(),
        })
    }

    /// `hours` east of Greenwich (`SET TIME ZONE 7`), shown as PostgreSQL
    /// shows it (`<+07>-07`); `text` is what the statement wrote.
    fn hours_east(hours: f64, text: &str) -> Result<SessionZone, QueryError> {
        if !hours.is_finite() || hours.abs() > 15.0 {
            return Err(invalid_setting(text));
        }
        SessionZone::seconds_east((hours * 3600.0).round() as i32, text)
    }

    /// An offset of `east` seconds east of Greenwich; `text` is what the
    /// statement wrote.
    fn seconds_east(east: i32, text: &str) -> Result<SessionZone, QueryError> {
        if east % 60 != 0 || east.abs() > 15 * 3600 {
            return Err(invalid_setting(text));
        }
        let iso = crate::pg_text::offset(east);
        let posix = crate::pg_text::offset(-east);
        Ok(SessionZone {
            arrow: iso_offset(east),
            shown: format!("<{iso}>{posix}"),
        })
    }
}

/// IANA names of UTC itself.
const UTC_NAMES: [&str; 18] = [
    "UTC",
    "Etc/UTC",
    "UCT",
    "Etc/UCT",
    "GMT",
    "Etc/GMT",
    "GMT0",
    "Etc/GMT0",
    "GMT+0",
    "Etc/GMT+0",
    "GMT-0",
    "Etc/GMT-0",
    "Greenwich",
    "Etc/Greenwich",
    "Universal",
    "Etc/Universal",
    "Zulu",
    "Etc/Zulu",
];

/// `+07:00`: an offset east of Greenwich as Arrow names it (`UTC` for
/// none).
fn iso_offset(east: i32) -> String {
    if east == 0 {
        return "UTC".into();
    }
    hours_minutes(east)
}

/// `+07:00`, `-03:30`: an offset east of Greenwich in hours and minutes,
/// as Arrow reads it after a time and as a zone.
pub(crate) fn hours_minutes(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    format!("{sign}{:02}:{:02}", east / 3600, east % 3600 / 60)
}

fn invalid_setting(text: &str) -> QueryError {
    QueryError::InvalidArgument {
        status: Status::InvalidParameterValue,
        message: format!("invalid value for parameter \"TimeZone\": \"{text}\""),
    }
}

/// The IANA name `text` names, in any case (`america/new_york` is
/// `America/New_York`).
fn iana_name(text: &str) -> Option<String> {
    if text.is_empty() || text.starts_with(['+', '-']) || text.contains(':') {
        return None;
    }
    let name = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(text))?
        .name()
        .to_string();
    // Arrow reads the zone by the same name.
    Tz::from_str(&name).is_ok().then_some(name)
}

/// The offset east of Greenwich, in seconds, of a POSIX time zone without
/// daylight saving rules: an offset (west of Greenwich) alone or after a
/// name of three or more letters (`+07:00`, `UTC+3`, `<+05>-05`).
fn posix_spec(text: &str) -> Option<i32> {
    let rest = if let Some(quoted) = text.strip_prefix('<') {
        &quoted[quoted.find('>')? + 1..]
    } else {
        let letters = text
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        if letters != 0 && letters < 3 {
            return None;
        }
        &text[letters..]
    };
    posix_offset(rest)
}

/// The offset east of Greenwich, in seconds, of a time zone abbreviation
/// in PostgreSQL's default set (`EDT` is -04:00), for text like
/// `'2023-03-12 02:00:00 EDT'` and `AT TIME ZONE 'EDT'`.
pub(crate) fn abbreviation(name: &str) -> Option<i32> {
    const H: i32 = 3600;
    Some(match name.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" | "UT" | "WET" => 0,
        "EST" => -5 * H,
        "EDT" => -4 * H,
        "CST" => -6 * H,
        "CDT" => -5 * H,
        "MST" => -7 * H,
        "MDT" => -6 * H,
        "PST" => -8 * H,
        "PDT" => -7 * H,
        "AKST" => -9 * H,
        "AKDT" => -8 * H,
        "HST" => -10 * H,
        "AST" => -4 * H,
        "ADT" => -3 * H,
        "NST" => -(3 * H + 1800),
        "NDT" => -(2 * H + 1800),
        "BST" | "CET" | "WEST" => H,
        "CEST" | "EET" => 2 * H,
        "EEST" | "MSK" => 3 * H,
        "AWST" => 8 * H,
        "JST" | "KST" => 9 * H,
        "ACST" => 9 * H + 1800,
        "AEST" => 10 * H,
        "ACDT" => 10 * H + 1800,
        "AEDT" => 11 * H,
        "NZST" => 12 * H,
        "NZDT" => 13 * H,
        _ => return None,
    })
}

/// The offset east of Greenwich, in seconds, that the zone written after a
/// time in text has at that wall-clock time `wall`: an abbreviation
/// (`EDT`), `GMT`/`UTC` with a POSIX offset (`GMT-1` is an hour east), or
/// an IANA name.
pub(crate) fn written_zone_offset(zone: &str, wall: NaiveDateTime) -> Option<i32> {
    if let Some(east) = fixed_offset(zone) {
        return Some(east);
    }
    let tz = Tz::from_str(&iana_name(zone)?).ok()?;
    // The offset that puts the wall-clock time at the instant PostgreSQL
    // resolves it to (before a change, for a time the clocks skip).
    let instant = from_wall_clock(&tz, wall)?;
    let east = (wall.and_utc().timestamp_nanos_opt()? - instant) / 1_000_000_000;
    i32::try_from(east).ok()
}

/// A time zone as `AT TIME ZONE` reads one: an IANA name (any case), or an
/// offset, POSIX's sign (positive west of Greenwich) when written alone
/// or after `UTC`/`GMT`.
pub(crate) fn pg_zone(text: &str) -> Result<Tz> {
    let name = text.trim();
    if let Some(east) = fixed_offset(name)
        && let Ok(tz) = Tz::from_str(&hours_minutes(east))
    {
        return Ok(tz);
    }
    match iana_name(name) {
        Some(name) => Ok(Tz::from_str(&name)?),
        None => plan_err!("time zone \"{name}\" not recognized"),
    }
}

/// The offset east of Greenwich, in seconds, of a zone name that is a
/// fixed offset: a POSIX offset alone or after `UTC`/`GMT` (`+07`,
/// `GMT-1`), or an abbreviation ([`abbreviation`]; `UTC`, `Z`).
fn fixed_offset(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let body = ["UTC", "GMT"]
        .iter()
        .find_map(|p| upper.strip_prefix(p))
        .unwrap_or(&upper);
    posix_offset(body).or_else(|| abbreviation(name))
}

/// The offset east of Greenwich, in seconds, of a POSIX offset (`+07`,
/// `-3:30`, `5`: hours west of Greenwich), if `text` is one.
fn posix_offset(text: &str) -> Option<i32> {
    let (west, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let parts = rest
        .split(':')
        .map(|p| {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<i32>().ok())
                .flatten()
        })
        .collect::<Option<Vec<i32>>>()?;
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h] => (*h, 0, 0),
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    (hours <= 23 && minutes < 60 && seconds == 0).then(|| -west * (hours * 3600 + minutes * 60))
}

/// The instant a wall-clock time in `tz` names: the earlier one when the
/// clock was set back, and the one before the change when it was set
/// forward past it (as PostgreSQL resolves them).
pub(crate) fn from_wall_clock(tz: &Tz, wall: NaiveDateTime) -> Option<i64> {
    let utc = match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
        LocalResult::None => {
            let before = tz
                .offset_from_utc_datetime(&(wall - chrono::Duration::days(1)))
                .fix();
            wall - chrono::Duration::seconds(before.local_minus_utc() as i64)
        }
    };
    utc.and_utc().timestamp_nanos_opt()
}

/// The wall-clock time in `tz` of the instant `nanos`.
pub(crate) fn to_wall_clock(tz: &Tz, nanos: i64) -> i64 {
    let instant = DateTime::from_timestamp_nanos(nanos);
    let offset = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
    nanos + offset.local_minus_utc() as i64 * 1_000_000_000
}

tokio::task_local! {
    /// The time zone of the session the current statement runs in.
    static ZONE: SessionZone;
}

/// The time zone of the session the current statement runs in: UTC
/// outside a session.
pub fn current() -> SessionZone {
    ZONE.try_with(SessionZone::clone).unwrap_or_default()
}

/// Runs `work` in a session whose time zone is `zone`.
pub async fn scope<F: std::future::Future>(zone: SessionZone, work: F) -> F::Output {
    ZONE.scope(zone, work).await
}

/// What a statement does to the session's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneChange {
    /// `SET TIME ZONE ...`: the session's zone from now on.
    Set(SessionZone),
    /// `RESET timezone`, `SET TIME ZONE DEFAULT` or `LOCAL`: back to the
    /// server's zone, UTC.
    Reset,
}

impl ZoneChange {
    /// The session's zone after this change.
    pub fn zone(self) -> SessionZone {
        match self {
            ZoneChange::Set(zone) => zone,
            ZoneChange::Reset => SessionZone::utc(),
        }
    }
}

fn names_time_zone(name: &str) -> bool {
    ["timezone", "time zone", "time_zone"].contains(&name.to_ascii_lowercase().as_str())
}

/// What `stmt` does to the session's time zone, if it sets or resets it;
/// an error for a value that names no zone (22023) and for `SET LOCAL`,
/// which Floe's transaction blocks cannot scope (0A000).
pub fn zone_statement(stmt: &Statement) -> Option<Result<ZoneChange, QueryError>> {
    match stmt {
        Statement::Set(Set::SetTimeZone { local, value }) => Some(set(*local, value)),
        Statement::Set(Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        }) if names_time_zone(&variable.to_string()) => {
            let local = matches!(
                scope,
                Some(datafusion::sql::sqlparser::ast::ContextModifier::Local)
            );
            match values.as_slice() {
                [value] => Some(set(local, value)),
                _ => Some(Err(invalid_setting(
                    &values
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ))),
            }
        }
        Statement::Reset(ResetStatement {
            reset: Reset::ConfigurationParameter(name),
        }) if names_time_zone(&name.to_string()) => Some(Ok(ZoneChange::Reset)),
        _ => None,
    }
}

/// `SET [LOCAL] TIME ZONE value`.
fn set(local: bool, value: &Expr) -> Result<ZoneChange, QueryError> {
    if local {
        return Err(QueryError::Unsupported {
            feature: "SET LOCAL TIME ZONE (Floe's transaction blocks do not scope settings; \
                      use SET TIME ZONE)"
                .into(),
        });
    }
    let number = |text: &str, negative: bool| -> Result<ZoneChange, QueryError> {
        let hours: f64 = text.parse().map_err(|_| invalid_setting(text))?;
        let hours = if negative { -hours } else { hours };
        SessionZone::hours_east(hours, text).map(ZoneChange::Set)
    };
    match value {
        Expr::Identifier(id)
            if id.value.eq_ignore_ascii_case("default")
                || id.value.eq_ignore_ascii_case("local") =>
        {
            Ok(ZoneChange::Reset)
        }
        Expr::Identifier(id) => SessionZone::parse(&id.value).map(ZoneChange::Set),
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => number(n, false),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                SessionZone::parse(s).map(ZoneChange::Set)
            }
            other => Err(invalid_setting(&other.to_string())),
        },
        Expr::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => number(n, *op == UnaryOperator::Minus),
                other => Err(invalid_setting(&other.to_string())),
            },
            other => Err(invalid_setting(&other.to_string())),
        },
        Expr::Interval(interval) => {
            let text = interval.value.to_string();
            let east = interval_seconds(interval).ok_or_else(|| invalid_setting(&text))?;
            SessionZone::seconds_east(east, &text).map(ZoneChange::Set)
        }
        other => Err(invalid_setting(&other.to_string())),
    }
}

/// The seconds of `INTERVAL '-03:30' HOUR TO MINUTE` (or `'-3' HOUR`).
fn interval_seconds(interval: &datafusion::sql::sqlparser::ast::Interval) -> Option<i32> {
    use datafusion::sql::sqlparser::ast::DateTimeField;
    let Expr::Value(v) = interval.value.as_ref() else {
        return None;
    };
    let (Value::SingleQuotedString(text) | Value::Number(text, _)) = &v.value else {
        return None;
    };
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let parts: Vec<i64> = body
        .split(':')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    if parts.iter().any(|p| *p > 1_000_000) {
        return None;
    }
    let seconds = match (parts.as_slice(), &interval.leading_field) {
        ([m], Some(DateTimeField::Minute)) => m * 60,
        ([s], Some(DateTimeField::Second)) => *s,
        ([h], _) => h * 3600,
        ([h, m], _) => h * 3600 + m * 60,
        ([h, m, s], _) => h * 3600 + m * 60 + s,
        _ => return None,
    };
    i32::try_from(if negative { -seconds } else { seconds }).ok()
}

#[cfg(test)]
mod tests;
