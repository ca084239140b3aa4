//! Reading a date or a timestamp out of text with a template, as
//! PostgreSQL 15's `to_date` and `to_timestamp` read it.
//!
//! The template splits into keywords, matched with their case as
//! PostgreSQL matches them (`YYYY` and `yyyy` are keywords, `Yyyy` is `Y`
//! then `yyy`), each with an optional `FM`/`TM` prefix and a `TH`/`th`/`SP`
//! suffix; separators (ASCII punctuation), spaces and text characters.
//! Reading walks the template and the text together: a separator or space
//! in the template skips one separator or space of the text if there is
//! one, a text character skips one character of the text whatever it is,
//! and a keyword reads its field, a fixed number of digits when another
//! number follows directly and as many as there are otherwise. The fields
//! then combine into a date as PostgreSQL combines them (century and
//! two-digit years, Julian days, ISO and Gregorian weeks, days of the year,
//! the 12-hour clock), and are checked as PostgreSQL checks them.
//!
//! A strftime pattern reads as PostgreSQL reads it: in `%Y-%m-%d` the `%`
//! and `-` are separators, `Y` a one-digit year that reads every digit up to
//! the next separator, `m` a text character and `d` the day of the week, so
//! `to_date('2022-01-23', '%Y-%m-%d')` is 2022-01-01 in both.

use floe_common::Status;

use super::{DAYS, MONTHS};
use crate::error::QueryError;
use template::{Calendar, Field::*, Node, is_separator, is_space, parse};

mod template;

/// Roman month numbers from December down, as PostgreSQL searches them
/// (`xii` before `xi` before `x`).
const ROMAN_DOWN: [&str; 12] = [
    "xii", "xi", "x", "ix", "viii", "vii", "vi", "v", "iv", "iii", "ii", "i",
];

/// The fields read, PostgreSQL's `TmFromChar`: 0 is "not given".
#[derive(Default)]
struct Fields {
    calendar: Option<Calendar>,
    hour: i32,
    pm: i32,
    minute: i32,
    second: i32,
    seconds_of_day: i32,
    day_of_week: i32,
    day: i32,
    day_of_year: i32,
    month: i32,
    millis: i32,
    year: i32,
    year_digits: u8,
    bc: i32,
    week: i32,
    week_of_month: i32,
    century: i32,
    julian: i32,
    micros: i32,
    clock12: bool,
    zone_sign: i32,
    zone_hours: i32,
    zone_minutes: i32,
    precision: u8,
}

/// A date and time read from text: the year is astronomical (0 is 1 BC),
/// and the day may run past its month's end when the text gave no month
/// or no year to check it against, as PostgreSQL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reading {
    pub(super) year: i32,
    pub(super) month: u32,
    pub(super) day: i32,
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    pub(super) micros: u32,
    /// Digits kept of the fraction (`FF1` to `FF6`), if given.
    pub(super) precision: Option<u8>,
    /// The text's offset east of UTC in seconds (`TZH`, `TZM`), if given.
    pub(super) offset_east: Option<i32>,
}

impl Reading {
    /// Days since 1970-01-01 (PostgreSQL's `date2j`, which lets the day
    /// run past its month's end).
    pub(super) fn days(&self) -> i64 {
        julian_day(self.year, self.month as i32, self.day) - UNIX_EPOCH_JULIAN
    }

    /// Microseconds since 1970-01-01 00:00, as a wall-clock time.
    pub(super) fn wall_micros(&self) -> i64 {
        let seconds = self.days() * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64;
        seconds * 1_000_000 + self.micros as i64
    }
}

const UNIX_EPOCH_JULIAN: i64 = 2_440_588;
/// 2000-01-01, PostgreSQL's epoch, which its rounding of fractions is
/// symmetric about.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// PostgreSQL's `date2j`.
fn julian_day(year: i32, month: i32, day: i32) -> i64 {
    let (mut y, mut m) = (year as i64, month as i64);
    if m > 2 {
        m += 1;
        y += 4800;
    } else {
        m += 13;
        y += 4799;
    }
    let century = y.div_euclid(100);
    let mut julian = y * 365 - 32167;
    julian += y.div_euclid(4) - century + century.div_euclid(4);
    julian + 7834 * m / 256 + day as i64
}

/// The year, month and day of Julian day `julian`.
fn julian_date(julian: i64) -> Option<(i32, i32, i32)> {
    use chrono::Datelike;
    let date =
        chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(julian - 1_721_425).ok()?)?;
    Some((date.year(), date.month() as i32, date.day() as i32))
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The Julian day of the Monday starting ISO week `week` of `year`.
fn iso_week_julian(year: i32, week: i32) -> i64 {
    let day4 = julian_day(year, 1, 4);
    let day0 = (day4 - 1 + 1).rem_euclid(7);
    (week as i64 - 1) * 7 + (day4 - day0)
}

/// The error of a bad template or text, PostgreSQL's 22007.
fn format_error(message: String) -> QueryError {
    QueryError::InvalidArgument {
        status: Status::InvalidDatetimeFormat,
        message,
    }
}

/// The error of a field out of its range, PostgreSQL's 22008.
fn range_error(message: String) -> QueryError {
    QueryError::InvalidArgument {
        status: Status::DatetimeFieldOverflow,
        message,
    }
}

fn out_of_range(input: &str) -> QueryError {
    range_error(format!("date/time field value out of range: \"{input}\""))
}

/// The walk of one text through one template.
struct Reader<'a> {
    nodes: &'a [Node],
    input: &'a str,
    at: usize,
    fields: Fields,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.input[self.at..]
    }

    fn byte(&self) -> Option<u8> {
        self.input.as_bytes().get(self.at).copied()
    }

    /// Moves past one character of the text, if there is one.
    fn skip_char(&mut self) {
        if let Some(c) = self.rest().chars().next() {
            self.at += c.len_utf8();
        }
    }

    /// Moves past spaces; how many.
    fn skip_spaces(&mut self) -> i32 {
        let mut n = 0;
        while self.byte().is_some_and(is_space) {
            self.at += 1;
            n += 1;
        }
        n
    }

    /// Whether the node after `index` is known not to be a digit, so the
    /// field at `index` may read every digit there is.
    fn next_is_separator(&self, index: usize) -> bool {
        if let Node::Keyword { ordinal: true, .. } = self.nodes[index] {
            return true;
        }
        match self.nodes.get(index + 1) {
            None => true,
            Some(Node::Keyword { key, .. }) => !key.digits,
            Some(Node::Char(c)) => !c.is_ascii_digit(),
            Some(Node::Separator) => true,
        }
    }

    /// Reads an integer (see [`Reader::integer`]) into the field `dest`
    /// picks; the number of characters read.
    fn read_into(
        &mut self,
        index: usize,
        width: usize,
        dest: fn(&mut Fields) -> &mut i32,
    ) -> Result<usize, QueryError> {
        let (value, len) = self.integer(index, width)?;
        Self::set(dest(&mut self.fields), value, self.nodes[index].name())?;
        Ok(len)
    }

    fn set(dest: &mut i32, value: i32, name: &str) -> Result<(), QueryError> {
        if *dest != 0 && *dest != value {
            return Err(format_error(format!(
                "conflicting values for \"{name}\" field in formatting string"
            )));
        }
        *dest = value;
        Ok(())
    }

    /// An integer of the text, PostgreSQL's `from_char_parse_int_len`:
    /// `width` characters, or as many digits as there are when the field
    /// has `FM` or a separator follows. Returns the value and the number of
    /// characters read (spaces and sign included).
    fn integer(&mut self, index: usize, width: usize) -> Result<(i32, usize), QueryError> {
        let Node::Keyword { fill, .. } = self.nodes[index] else {
            unreachable!("integer of a keyword")
        };
        let name = self.nodes[index].name();
        let init = self.at;
        self.skip_spaces();
        let copy: String = self.rest().chars().take(width).collect();
        let value;
        if fill || self.next_is_separator(index) {
            let (v, used) = strtol(&self.input[init..]);
            value = v;
            self.at = init + used;
        } else {
            if self.rest().len() < width {
                return Err(format_error(format!(
                    "source string too short for \"{}\" formatting field",
                    name
                )));
            }
            let (v, used) = strtol(&copy);
            if used > 0 && used < width {
                return Err(format_error(format!(
                    "invalid value \"{copy}\" for \"{}\"",
                    name
                )));
            }
            value = v;
            self.at += used;
        }
        if self.at == init {
            return Err(format_error(format!(
                "invalid value \"{copy}\" for \"{}\"",
                name
            )));
        }
        let value = value.filter(|v| i32::try_from(*v).is_ok()).ok_or_else(|| {
            range_error(format!(
                "value for \"{}\" in source string is out of range",
                name
            ))
        })?;
        Ok((value as i32, self.at - init))
    }

    /// The index in `words` of the word the text starts with, matched
    /// without regard to case.
    /// The index in `words` of the word the text starts with (its first
    /// three letters when `short`), matched without regard to case.
    fn word(&mut self, words: &[&str], short: bool, name: &str) -> Result<i32, QueryError> {
        let rest = self.rest();
        for (i, word) in words.iter().enumerate() {
            let word = if short { &word[..3] } else { word };
            if rest
                .get(..word.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(word))
            {
                self.at += word.len();
                return Ok(i as i32);
            }
        }
        let shown: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        Err(format_error(format!(
            "invalid value \"{shown}\" for \"{name}\""
        )))
    }

    fn walk(&mut self) -> Result<(), QueryError> {
        let mut fixed = false;
        // Characters skipped past what the template asked for.
        let mut extra = 0i32;
        for index in 0..self.nodes.len() {
            if self.at >= self.input.len() {
                break;
            }
            let node = self.nodes[index];
            let is_fx = matches!(node, Node::Keyword { key, .. } if key.field == FixedFormat);
            if !fixed && !is_fx && (matches!(node, Node::Keyword { .. }) || index == 0) {
                extra += self.skip_spaces();
            }
            let (key, ordinal) = match node {
                Node::Separator => {
                    if fixed {
                        self.skip_char();
                    } else {
                        extra -= 1;
                        if self.byte().is_some_and(|b| is_space(b) || is_separator(b)) {
                            self.at += 1;
                            extra += 1;
                        }
                    }
                    continue;
                }
                Node::Char(_) => {
                    if !fixed && extra > 0 {
                        extra -= 1;
                    } else {
                        self.skip_char();
                    }
                    continue;
                }
                Node::Keyword { key, ordinal, .. } => (key, ordinal),
            };
            match (self.fields.calendar, key.calendar) {
                (_, Calendar::Any) => {}
                (None, c) => self.fields.calendar = Some(c),
                (Some(a), b) if a != b => {
                    return Err(QueryError::InvalidArgument {
                        status: Status::InvalidDatetimeFormat,
                        message: "invalid combination of date conventions: do not mix \
                                  Gregorian and ISO week date conventions in a formatting \
                                  template"
                            .into(),
                    });
                }
                _ => {}
            }
            let width = key.name.len();
            let name = node.name();
            match key.field {
                FixedFormat => fixed = true,
                Meridiem { long } => {
                    let words = if long { ["a.m.", "p.m."] } else { ["am", "pm"] };
                    let v = self.word(&words, false, name)?;
                    Self::set(&mut self.fields.pm, v, name)?;
                    self.fields.clock12 = true;
                }
                Hour12 | Hour24 => {
                    self.read_into(index, 2, |f| &mut f.hour)?;
                    self.fields.clock12 |= key.field == Hour12;
                }
                Minute => {
                    self.read_into(index, width, |f| &mut f.minute)?;
                }
                Second => {
                    self.read_into(index, width, |f| &mut f.second)?;
                }
                Millisecond => {
                    let len = self.read_into(index, 3, |f| &mut f.millis)?;
                    // 25 is 0.25 and 250 is 0.25 too; 025 is 0.025.
                    self.fields.millis *= match len {
                        1 => 100,
                        2 => 10,
                        _ => 1,
                    };
                }
                Fraction(_) | Microsecond => {
                    let digits = match key.field {
                        Fraction(n) => {
                            self.fields.precision = n;
                            n as usize
                        }
                        _ => 6,
                    };
                    let len = self.read_into(index, digits, |f| &mut f.micros)?;
                    self.fields.micros *= match len {
                        1 => 100_000,
                        2 => 10_000,
                        3 => 1000,
                        4 => 100,
                        5 => 10,
                        _ => 1,
                    };
                }
                SecondsOfDay => {
                    self.read_into(index, width, |f| &mut f.seconds_of_day)?;
                }
                Zone | Offset => {
                    return Err(QueryError::InvalidArgument {
                        status: Status::FeatureNotSupported,
                        message: format!(
                            "formatting field \"{}\" is only supported in to_char",
                            name
                        ),
                    });
                }
                ZoneHours => {
                    match self.byte() {
                        Some(b @ (b'+' | b'-' | b' ')) => {
                            self.fields.zone_sign = if b == b'-' { -1 } else { 1 };
                            self.at += 1;
                        }
                        _ => {
                            // A minus taken for a separator was the sign.
                            let minus_before =
                                self.at > 0 && self.input.as_bytes()[self.at - 1] == b'-';
                            self.fields.zone_sign = if extra > 0 && minus_before { -1 } else { 1 };
                        }
                    }
                    self.read_into(index, 2, |f| &mut f.zone_hours)?;
                }
                ZoneMinutes => {
                    if self.fields.zone_sign == 0 {
                        self.fields.zone_sign = 1;
                    }
                    self.read_into(index, 2, |f| &mut f.zone_minutes)?;
                }
                Era { long } => {
                    let words = if long { ["a.d.", "b.c."] } else { ["ad", "bc"] };
                    let v = self.word(&words, false, name)?;
                    Self::set(&mut self.fields.bc, v, name)?;
                }
                MonthName { short } => {
                    let v = self.word(&MONTHS, short, name)?;
                    Self::set(&mut self.fields.month, v + 1, name)?;
                }
                Month => {
                    self.read_into(index, width, |f| &mut f.month)?;
                }
                DayName { short } => {
                    let v = self.word(&DAYS, short, name)?;
                    Self::set(&mut self.fields.day_of_week, v, name)?;
                    self.fields.day_of_week += 1;
                }
                DayOfYear | IsoDayOfYear => {
                    self.read_into(index, 3, |f| &mut f.day_of_year)?;
                }
                DayOfMonth => {
                    self.read_into(index, width, |f| &mut f.day)?;
                }
                DayOfWeek => {
                    self.read_into(index, width, |f| &mut f.day_of_week)?;
                }
                IsoDayOfWeek => {
                    self.read_into(index, 1, |f| &mut f.day_of_week)?;
                    // Sunday is 1, as in the Gregorian numbering.
                    self.fields.day_of_week += 1;
                    if self.fields.day_of_week > 7 {
                        self.fields.day_of_week = 1;
                    }
                }
                Week => {
                    self.read_into(index, width, |f| &mut f.week)?;
                }
                Quarter => {
                    // Read and left unused, as PostgreSQL does.
                    self.integer(index, width)?;
                }
                Century => {
                    self.read_into(index, width, |f| &mut f.century)?;
                }
                YearWithComma => {
                    let years = self.year_with_comma(name)?;
                    Self::set(&mut self.fields.year, years, name)?;
                    self.fields.year_digits = 4;
                }
                Year(digits) => {
                    let len = self.read_into(index, width, |f| &mut f.year)?;
                    if digits < 4 && len < 4 {
                        self.fields.year = partial_year(self.fields.year);
                    }
                    self.fields.year_digits = digits;
                }
                RomanMonth => {
                    let v = self.word(&ROMAN_DOWN, false, name)?;
                    Self::set(&mut self.fields.month, 12 - v, name)?;
                }
                WeekOfMonth => {
                    self.read_into(index, width, |f| &mut f.week_of_month)?;
                }
                Julian => {
                    self.read_into(index, width, |f| &mut f.julian)?;
                }
            }
            if ordinal && key.digits && key.field != ZoneMinutes {
                self.skip_char();
                self.skip_char();
            }
            if !fixed {
                extra = self.skip_spaces();
            }
        }
        Ok(())
    }

    /// `Y,YYY`: thousands, a comma, then up to three digits.
    fn year_with_comma(&mut self, name: &str) -> Result<i32, QueryError> {
        let bad = || format_error(format!("invalid input string for \"{}\"", name));
        let rest = self.rest();
        let (thousands, used) = strtol(rest);
        let thousands = thousands.ok_or_else(bad)?;
        if used == 0 || !rest[used..].starts_with(',') {
            return Err(bad());
        }
        let after = &rest[used + 1..];
        let spaces = after.bytes().take_while(|b| is_space(*b)).count();
        let window: String = after[spaces..].chars().take(3).collect();
        let (years, read) = strtol(&window);
        let years = years.ok_or_else(bad)?;
        if read == 0 {
            return Err(bad());
        }
        let total = thousands
            .checked_mul(1000)
            .and_then(|t| t.checked_add(years))
            .and_then(|t| i32::try_from(t).ok())
            .ok_or_else(|| {
                range_error(format!(
                    "value for \"{}\" in source string is out of range",
                    name
                ))
            })?;
        self.at += used + 1 + spaces + read;
        Ok(total)
    }
}

/// C's `strtol` in base 10: spaces, a sign and digits. The value (`None`
/// past 64 bits) and the bytes read; nothing read is `(Some(0), 0)`.
fn strtol(text: &str) -> (Option<i64>, usize) {
    let bytes = text.as_bytes();
    let mut i = bytes.iter().take_while(|b| is_space(**b)).count();
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return (Some(0), 0);
    }
    let value = text[i..i + digits]
        .parse::<i64>()
        .ok()
        .map(|v| if negative { -v } else { v });
    (value, i + digits)
}

/// A year of fewer than four digits, moved to the one nearest 2020 as
/// PostgreSQL moves it ('69' is 2069, '70' is 1970).
fn partial_year(year: i32) -> i32 {
    match year {
        ..70 => year + 2000,
        70..100 => year + 1900,
        100..520 => year + 2000,
        520..1000 => year + 1000,
        _ => year,
    }
}

/// A template parsed for reading, to read any number of texts with.
pub(super) struct Template(Vec<Node>);

impl Template {
    pub(super) fn parse(template: &str) -> Template {
        Template(parse(template))
    }
}

/// `input` read with `template`, as PostgreSQL's `do_to_timestamp`.
pub(super) fn read(template: &Template, input: &str) -> Result<Reading, QueryError> {
    let mut reader = Reader {
        nodes: &template.0,
        input,
        at: 0,
        fields: Fields::default(),
    };
    reader.walk()?;
    let f = reader.fields;
    let overflow = || out_of_range(input);

    let (mut year, mut month, mut day) = (0i32, 1i32, 1i32);
    let (mut hour, mut minute, mut second) = (0i32, 0i32, 0i32);
    if f.seconds_of_day != 0 {
        hour = f.seconds_of_day / 3600;
        minute = f.seconds_of_day % 3600 / 60;
        second = f.seconds_of_day % 60;
    }
    if f.second != 0 {
        second = f.second;
    }
    if f.minute != 0 {
        minute = f.minute;
    }
    if f.hour != 0 {
        hour = f.hour;
    }
    if f.clock12 {
        if !(1..=12).contains(&hour) {
            return Err(format_error(format!(
                "hour \"{hour}\" is invalid for the 12-hour clock: use the 24-hour clock, or \
                 give an hour between 1 and 12"
            )));
        }
        if f.pm != 0 && hour < 12 {
            hour += 12;
        } else if f.pm == 0 && hour == 12 {
            hour = 0;
        }
    }

    // Which of year, month and day the text gave, to check.
    let (mut has_year, mut has_month, mut has_day) = (false, false, false);
    let mut century = f.century;
    if f.year != 0 {
        if century != 0 && f.year_digits <= 2 {
            if f.bc != 0 {
                century = -century;
            }
            year = f.year % 100;
            year = if year != 0 {
                if century >= 0 {
                    (century - 1)
                        .checked_mul(100)
                        .and_then(|c| c.checked_add(year))
                        .ok_or_else(overflow)?
                } else {
                    (century + 1)
                        .checked_mul(100)
                        .and_then(|c| c.checked_sub(year))
                        .and_then(|c| c.checked_add(1))
                        .ok_or_else(overflow)?
                }
            } else {
                century
                    .checked_mul(100)
                    .and_then(|c| c.checked_add(if century >= 0 { 0 } else { 1 }))
                    .ok_or_else(overflow)?
            };
        } else {
            year = if f.bc != 0 { -f.year } else { f.year };
            if year < 0 {
                year += 1;
            }
        }
        has_year = true;
    } else if century != 0 {
        if f.bc != 0 {
            century = -century;
        }
        year = if century >= 0 {
            (century - 1)
                .checked_mul(100)
                .and_then(|c| c.checked_add(1))
        } else {
            century.checked_mul(100).and_then(|c| c.checked_add(1))
        }
        .ok_or_else(overflow)?;
        has_year = true;
    }
    let iso = f.calendar == Some(Calendar::IsoWeek);
    let mut day_of_year = f.day_of_year;
    if f.julian != 0 {
        (year, month, day) = julian_date(f.julian as i64).ok_or_else(overflow)?;
        (has_year, has_month, has_day) = (true, true, true);
    }
    if f.week != 0 {
        if iso {
            let monday = iso_week_julian(year, f.week);
            let julian = match f.day_of_week {
                0 => monday,
                d if d > 1 => monday + d as i64 - 2,
                _ => monday + 6,
            };
            (year, month, day) = julian_date(julian).ok_or_else(overflow)?;
            (has_year, has_month, has_day) = (true, true, true);
        } else {
            day_of_year = (f.week - 1)
                .checked_mul(7)
                .and_then(|d| d.checked_add(1))
                .ok_or_else(overflow)?;
        }
    }
    let mut day_of_month = f.day;
    if f.week_of_month != 0 {
        day_of_month = (f.week_of_month - 1)
            .checked_mul(7)
            .and_then(|d| d.checked_add(1))
            .ok_or_else(overflow)?;
    }
    if day_of_month != 0 {
        day = day_of_month;
        has_day = true;
    }
    if f.month != 0 {
        month = f.month;
        has_month = true;
    }
    if day_of_year != 0 && (month <= 1 || day <= 1) {
        if year == 0 && f.bc == 0 {
            return Err(format_error(
                "cannot calculate day of year without year information".into(),
            ));
        }
        if iso {
            let zeroth = iso_week_julian(year, 1) - 1;
            (year, month, day) = julian_date(zeroth + day_of_year as i64).ok_or_else(overflow)?;
            (has_year, has_month, has_day) = (true, true, true);
        } else {
            let sums: [i32; 13] = if is_leap(year) {
                [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366]
            } else {
                [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365]
            };
            let m = (1..=12).find(|&i| day_of_year <= sums[i]).unwrap_or(13);
            if month <= 1 {
                month = m as i32;
            }
            if day <= 1 {
                day = day_of_year - sums[m - 1];
            }
            (has_month, has_day) = (true, true);
        }
    }
    let mut micros = 0i64;
    if f.millis != 0 {
        micros += f.millis as i64 * 1000;
    }
    micros += f.micros as i64;

    // PostgreSQL's ValidateDate.
    if has_month && !(1..=12).contains(&month) {
        return Err(overflow());
    }
    if has_day && !(1..=31).contains(&day) {
        return Err(overflow());
    }
    if has_year && has_month && has_day && day > days_in_month(year, month) {
        return Err(overflow());
    }
    if !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..60).contains(&second)
        || !(0..1_000_000).contains(&micros)
    {
        return Err(overflow());
    }
    let offset_east = if f.zone_sign != 0 {
        if !(0..=15).contains(&f.zone_hours) || !(0..60).contains(&f.zone_minutes) {
            return Err(QueryError::InvalidArgument {
                status: Status::InvalidTimeZoneDisplacementValue,
                message: format!("time zone displacement out of range: \"{input}\""),
            });
        }
        Some(f.zone_sign * (f.zone_hours * 3600 + f.zone_minutes * 60))
    } else {
        None
    };
    Ok(Reading {
        year,
        month: month as u32,
        day,
        hour: hour as u32,
        minute: minute as u32,
        second: second as u32,
        micros: micros as u32,
        precision: (f.precision > 0).then_some(f.precision),
        offset_east,
    })
}

/// `micros` (since 1970) rounded to `precision` digits of a second, as
/// PostgreSQL rounds a timestamp to its type's precision.
pub(super) fn round_micros(micros: i64, precision: u8) -> i64 {
    let scale = 10i64.pow(6 - precision.min(6) as u32);
    let t = micros - POSTGRES_EPOCH_MICROS;
    let half = scale / 2;
    let rounded = if t >= 0 {
        (t + half) / scale * scale
    } else {
        -((-t + half) / scale * scale)
    };
    rounded + POSTGRES_EPOCH_MICROS
}

#[cfg(test)]
mod tests;
