//! Serde helpers for cutover's file formats.
//!
//! # Contract
//! - [`present`] tells a present field (even `null`) from a missing one:
//!   serde's `Option` maps both to `None`, which would read `"input": null`
//!   as absent.
//! - [`duration`] writes a `Duration` the way `--help` and `cutover.toml`
//!   write it (`"10s"`, `"250ms"`) and reads it back exactly (whole
//!   milliseconds and below are kept: `humantime` prints every unit).

use serde::{Deserialize, Deserializer};

/// Deserializes a field that is present as `Some`, even when it is `null`.
pub fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

/// `#[serde(with = "crate::util::serde::duration")]`: `"10s"`.
pub mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(de)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super::duration")]
        d: Duration,
    }

    #[test]
    fn durations_round_trip_as_people_write_them() {
        for d in [
            Duration::from_secs(10),
            Duration::from_millis(250),
            Duration::from_micros(1_500_001),
            Duration::ZERO,
        ] {
            let text = serde_json::to_string(&T { d }).unwrap();
            assert_eq!(serde_json::from_str::<T>(&text).unwrap(), T { d }, "{text}");
        }
        assert_eq!(
            serde_json::to_string(&T {
                d: Duration::from_secs(10)
            })
            .unwrap(),
            r#"{"d":"10s"}"#
        );
    }
}
