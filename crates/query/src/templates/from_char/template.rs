//! A template as PostgreSQL's `parse_format` splits it for reading:
//! keywords, matched with their case (`YYYY` and `yyyy` are keywords,
//! `Yyyy` is `Y` then `yyy`), each with an optional `FM`/`TM` prefix and a
//! `TH`/`th`/`SP` suffix; separators (spaces and ASCII punctuation); and
//! text characters, quoted text included.

/// What a keyword reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// `A.D.`/`B.C.` (`long`) or `AD`/`BC`.
    Era {
        long: bool,
    },
    /// `A.M.`/`P.M.` (`long`) or `AM`/`PM`.
    Meridiem {
        long: bool,
    },
    Century,
    /// A day's name, whole or its first three letters.
    DayName {
        short: bool,
    },
    DayOfYear,
    IsoDayOfYear,
    DayOfMonth,
    DayOfWeek,
    IsoDayOfWeek,
    /// `FF1` to `FF6`: fractions of a second to that many digits.
    Fraction(u8),
    FixedFormat,
    Hour24,
    Hour12,
    /// `YYYY`, `YYY`, `YY`, `Y` (and the ISO `IYYY` ...): the digits
    /// written, 4 to 1.
    Year(u8),
    YearWithComma,
    Julian,
    Minute,
    Month,
    /// A month's name, whole or its first three letters.
    MonthName {
        short: bool,
    },
    Millisecond,
    Microsecond,
    Offset,
    Quarter,
    RomanMonth,
    SecondsOfDay,
    Second,
    ZoneHours,
    ZoneMinutes,
    Zone,
    Week,
    WeekOfMonth,
}

/// Which calendar a keyword belongs to; the two cannot be mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Calendar {
    Any,
    Gregorian,
    IsoWeek,
}

#[derive(Debug)]
pub(super) struct Key {
    pub(super) name: &'static str,
    /// The keyword in small letters, if it is one that way too (`yyyy`;
    /// `Month` is not).
    pub(super) lower: &'static str,
    pub(super) field: Field,
    /// Whether the field is written with digits.
    pub(super) digits: bool,
    pub(super) calendar: Calendar,
}

const fn key(
    name: &'static str,
    lower: &'static str,
    field: Field,
    digits: bool,
    calendar: Calendar,
) -> Key {
    Key {
        name,
        lower,
        field,
        digits,
        calendar,
    }
}

use Calendar::{Any, Gregorian as Greg, IsoWeek as Iso};
use Field::*;

/// PostgreSQL's keywords in its order, each before the shorter ones it
/// starts with: the capital and mixed-case forms, then the small forms of
/// the capital ones (`lower`), in the same order.
const KEYS: &[Key] = &[
    key("A.D.", "a.d.", Era { long: true }, false, Any),
    key("A.M.", "a.m.", Meridiem { long: true }, false, Any),
    key("AD", "ad", Era { long: false }, false, Any),
    key("AM", "am", Meridiem { long: false }, false, Any),
    key("B.C.", "b.c.", Era { long: true }, false, Any),
    key("BC", "bc", Era { long: false }, false, Any),
    key("CC", "cc", Century, true, Any),
    key("DAY", "day", DayName { short: false }, false, Any),
    key("DDD", "ddd", DayOfYear, true, Greg),
    key("DD", "dd", DayOfMonth, true, Greg),
    key("DY", "dy", DayName { short: true }, false, Any),
    key("Day", "", DayName { short: false }, false, Any),
    key("Dy", "", DayName { short: true }, false, Any),
    key("D", "d", DayOfWeek, true, Greg),
    key("FF1", "ff1", Fraction(1), true, Any),
    key("FF2", "ff2", Fraction(2), true, Any),
    key("FF3", "ff3", Fraction(3), true, Any),
    key("FF4", "ff4", Fraction(4), true, Any),
    key("FF5", "ff5", Fraction(5), true, Any),
    key("FF6", "ff6", Fraction(6), true, Any),
    key("FX", "fx", FixedFormat, false, Any),
    key("HH24", "hh24", Hour24, true, Any),
    key("HH12", "hh12", Hour12, true, Any),
    key("HH", "hh", Hour12, true, Any),
    key("IDDD", "iddd", IsoDayOfYear, true, Iso),
    key("ID", "id", IsoDayOfWeek, true, Iso),
    key("IW", "iw", Week, true, Iso),
    key("IYYY", "iyyy", Year(4), true, Iso),
    key("IYY", "iyy", Year(3), true, Iso),
    key("IY", "iy", Year(2), true, Iso),
    key("I", "i", Year(1), true, Iso),
    key("J", "j", Julian, true, Any),
    key("MI", "mi", Minute, true, Any),
    key("MM", "mm", Month, true, Greg),
    key("MONTH", "month", MonthName { short: false }, false, Greg),
    key("MON", "mon", MonthName { short: true }, false, Greg),
    key("MS", "ms", Millisecond, true, Any),
    key("Month", "", MonthName { short: false }, false, Greg),
    key("Mon", "", MonthName { short: true }, false, Greg),
    key("OF", "of", Offset, false, Any),
    key("P.M.", "p.m.", Meridiem { long: true }, false, Any),
    key("PM", "pm", Meridiem { long: false }, false, Any),
    key("Q", "q", Quarter, true, Any),
    key("RM", "rm", RomanMonth, false, Greg),
    key("SSSSS", "sssss", SecondsOfDay, true, Any),
    key("SSSS", "ssss", SecondsOfDay, true, Any),
    key("SS", "ss", Second, true, Any),
    key("TZH", "tzh", ZoneHours, false, Any),
    key("TZM", "tzm", ZoneMinutes, true, Any),
    key("TZ", "tz", Zone, false, Any),
    key("US", "us", Microsecond, true, Any),
    key("WW", "ww", Week, true, Greg),
    key("W", "w", WeekOfMonth, true, Greg),
    key("Y,YYY", "y,yyy", YearWithComma, true, Greg),
    key("YYYY", "yyyy", Year(4), true, Greg),
    key("YYY", "yyy", Year(3), true, Greg),
    key("YY", "yy", Year(2), true, Greg),
    key("Y", "y", Year(1), true, Greg),
];

/// One piece of a parsed template.
#[derive(Debug, Clone, Copy)]
pub(super) enum Node {
    Keyword {
        key: &'static Key,
        /// Written in small letters (`yyyy`).
        lower: bool,
        fill: bool,
        ordinal: bool,
    },
    /// A space or an ASCII punctuation character.
    Separator,
    /// Any other character, quoted text included.
    Char(char),
}

impl Node {
    /// A keyword as written (`YYYY` or `yyyy`), for errors.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Node::Keyword {
                key, lower: true, ..
            } => key.lower,
            Node::Keyword { key, .. } => key.name,
            _ => "",
        }
    }
}

/// An ASCII punctuation character, as PostgreSQL's `is_separator_char`.
pub(super) fn is_separator(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !c.is_ascii_alphanumeric()
}

/// C's `isspace` in the C locale.
pub(super) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `template` as PostgreSQL's `parse_format` splits it.
pub(super) fn parse(template: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let mut fill = false;
        for prefix in ["FM", "fm", "TM", "tm"] {
            if let Some(after) = rest.strip_prefix(prefix) {
                fill = prefix.eq_ignore_ascii_case("FM");
                rest = after;
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
        let found = KEYS
            .iter()
            .find(|k| rest.starts_with(k.name))
            .map(|k| (k, false))
            .or_else(|| {
                KEYS.iter()
                    .find(|k| !k.lower.is_empty() && rest.starts_with(k.lower))
                    .map(|k| (k, true))
            });
        if let Some((key, lower)) = found {
            rest = &rest[key.name.len()..];
            let mut ordinal = false;
            for suffix in ["TH", "th", "SP"] {
                if let Some(after) = rest.strip_prefix(suffix) {
                    ordinal = suffix != "SP";
                    rest = after;
                    break;
                }
            }
            nodes.push(Node::Keyword {
                key,
                lower,
                fill,
                ordinal,
            });
            continue;
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            // Quoted text: every character is a text character; a
            // backslash quotes the next one.
            let mut chars = quoted.char_indices().peekable();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' if chars.peek().is_some() => {
                        let (_, next) = chars.next().expect("peeked");
                        nodes.push(Node::Char(next));
                    }
                    c => nodes.push(Node::Char(c)),
                }
            }
            rest = &quoted[end..];
            continue;
        }
        // Outside quotes a backslash is special only before a quote.
        if let Some(after) = rest.strip_prefix("\\\"") {
            nodes.push(Node::Separator);
            rest = after;
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        let byte = rest.as_bytes()[0];
        nodes.push(if is_separator(byte) || is_space(byte) {
            Node::Separator
        } else {
            Node::Char(c)
        });
        rest = &rest[c.len_utf8()..];
    }
    nodes
}
