//! Durations (`500ms`, `10s`, `2m`) and sizes (`1000`, `20KiB`, `1MiB`) as written in scenarios.

use std::time::Duration;

/// Longest timeout a scenario may ask for.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(600);
pub(crate) const KIB: u64 = 1024;
pub(crate) const MIB: u64 = 1024 * KIB;
/// Largest message a scenario may send.
pub(crate) const MAX_SIZE: u64 = 16 * MIB;

/// Why a duration or size did not parse; pass 2 words the message with the key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UnitError {
    /// `10` for a duration: a number without a unit.
    MissingUnit,
    UnknownUnit(String),
    /// Not `<digits><unit>` at all.
    Malformed,
    /// A zero duration.
    Zero,
    /// Above the maximum (or overflowing).
    TooLarge,
}

/// Splits `20KiB` / `20 KiB` into digits and unit; `None` without leading digits.
fn split(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits_end = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(text.len(), |(i, _)| i);
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    // More digits than fit in u64 is simply "too large"; report it like that.
    let number = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some((number, unit.trim_start()))
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (number, unit) = split(text).ok_or(UnitError::Malformed)?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "" => return Err(UnitError::MissingUnit),
        other if other.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            return Err(UnitError::UnknownUnit(other.to_owned()))
        }
        _ => return Err(UnitError::Malformed),
    };
    let millis = number
        .checked_mul(millis_per_unit)
        .ok_or(UnitError::TooLarge)?;
    let duration = Duration::from_millis(millis);
    if duration.is_zero() {
        Err(UnitError::Zero)
    } else if duration > MAX_DURATION {
        Err(UnitError::TooLarge)
    } else {
        Ok(duration)
    }
}

/// A size in bytes: a bare number, or a number with `B`, `KiB` or `MiB`; at most `max`.
pub(crate) fn parse_size(text: &str, max: u64) -> Result<u64, UnitError> {
    let (number, unit) = split(text).ok_or(UnitError::Malformed)?;
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        other if other.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            return Err(UnitError::UnknownUnit(other.to_owned()))
        }
        _ => return Err(UnitError::Malformed),
    };
    let bytes = number.checked_mul(multiplier).ok_or(UnitError::TooLarge)?;
    if bytes > max {
        return Err(UnitError::TooLarge);
    }
    Ok(bytes)
}

/// A size as a scenario would write it: `16MiB`, `256KiB`, `1000`.
pub(crate) fn format_size(bytes: u64) -> String {
    match bytes {
        0 => "0".to_owned(),
        b if b % MIB == 0 => format!("{}MiB", b / MIB),
        b if b % KIB == 0 => format!("{}KiB", b / KIB),
        b => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration(" 2 m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10m"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("10"), Err(UnitError::MissingUnit));
        assert_eq!(parse_duration("0s"), Err(UnitError::Zero));
        assert_eq!(parse_duration("601s"), Err(UnitError::TooLarge));
        assert_eq!(
            parse_duration("99999999999999999999999m"),
            Err(UnitError::TooLarge)
        );
        assert_eq!(
            parse_duration("5sec"),
            Err(UnitError::UnknownUnit("sec".into()))
        );
        assert_eq!(parse_duration("1.5s"), Err(UnitError::Malformed));
        assert_eq!(parse_duration("-1s"), Err(UnitError::Malformed));
        assert_eq!(parse_duration("fast"), Err(UnitError::Malformed));
        assert_eq!(parse_duration(""), Err(UnitError::Malformed));
    }

    #[test]
    fn sizes() {
        let size = |text| parse_size(text, MAX_SIZE);
        assert_eq!(size("1000"), Ok(1000));
        assert_eq!(size("1 B"), Ok(1));
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("20KiB"), Ok(20 * 1024));
        assert_eq!(size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(size("17MiB"), Err(UnitError::TooLarge));
        assert_eq!(size("16777217"), Err(UnitError::TooLarge));
        assert_eq!(size("99999999999999999999MiB"), Err(UnitError::TooLarge));
        assert_eq!(size("20KB"), Err(UnitError::UnknownUnit("KB".into())));
        assert_eq!(size("KiB"), Err(UnitError::Malformed));
        assert_eq!(size("1e3"), Err(UnitError::UnknownUnit("e3".into())));
        assert_eq!(parse_size("256KiB", 256 * KIB), Ok(256 * 1024));
        assert_eq!(parse_size("257KiB", 256 * KIB), Err(UnitError::TooLarge));
        assert_eq!(parse_size("1024MiB", 1024 * MIB), Ok(1 << 30));
    }

    #[test]
    fn sizes_are_formatted_as_written() {
        assert_eq!(format_size(16 * MIB), "16MiB");
        assert_eq!(format_size(256 * KIB), "256KiB");
        assert_eq!(format_size(1536 * KIB), "1536KiB");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
    }
}
