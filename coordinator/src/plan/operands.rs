//! One read of submitted task data as JSON that checks it and, on the way,
//! finds where its matrix operands are.
//!
//! Every submitted body is checked as JSON once; [`find`] does that check
//! and also notes the byte spans of the top-level fields `A` and `B`, so
//! that planning a matrix product ([`crate::plan`]) does not read the JSON
//! a second time.

use std::fmt;
use std::ops::Range;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Byte spans of the values of the top-level fields `A` and `B` in task
/// data (each value as written: a JSON string or array, or anything else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperandSpans {
    /// The value of `A`.
    pub a: Range<usize>,
    /// The value of `B`.
    pub b: Range<usize>,
}

impl OperandSpans {
    /// The text of `A`'s value in `data` (the text the spans were found in).
    #[must_use]
    pub(super) fn a_json<'a>(&self, data: &'a str) -> Option<&'a str> {
        data.get(self.a.clone())
    }

    /// The text of `B`'s value in `data`.
    #[must_use]
    pub(super) fn b_json<'a>(&self, data: &'a str) -> Option<&'a str> {
        data.get(self.b.clone())
    }
}

/// Reads `data` as JSON: `Ok(Some(spans))` for an object with the fields
/// `A` and `B` (each once; other fields are ignored), `Ok(None)` for any
/// other JSON value.
///
/// # Errors
///
/// When `data` is not JSON, as `serde_json` reports it.
pub(crate) fn find(data: &str) -> Result<Option<OperandSpans>, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(data);
    let Ok(found) = reader.deserialize_any(TopLevel).and_then(|found| {
        reader.end()?;
        Ok(found)
    }) else {
        // A top-level number too large for f64 is still JSON: the plain
        // syntax check has the last word.
        return serde_json::from_str::<IgnoredAny>(data).map(|_| None);
    };
    let span = |value: &RawValue| {
        let start = value.get().as_ptr() as usize - data.as_ptr() as usize;
        start..start + value.get().len()
    };
    Ok(found.map(|(a, b)| OperandSpans {
        a: span(a),
        b: span(b),
    }))
}

/// Visits the top-level value, keeping `A` and `B` of an object as raw text.
struct TopLevel;

/// A field name, as far as [`TopLevel`] cares.
enum Key {
    A,
    B,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "A" => Key::A,
                    "B" => Key::B,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Option<(&'de RawValue, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let (mut a, mut b, mut repeated) = (None, None, false);
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::A => &mut a,
                Key::B => &mut b,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            repeated |= slot.replace(map.next_value::<&RawValue>()?).is_some();
        }
        // A repeated operand is ambiguous: not a matrix pair.
        Ok(if repeated { None } else { a.zip(b) })
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn operands(data: &str) -> Option<(&str, &str)> {
        let spans = find(data).unwrap()?;
        Some((spans.a_json(data).unwrap(), spans.b_json(data).unwrap()))
    }

    #[test]
    fn finds_the_operands_of_an_object_as_written() {
        assert_eq!(
            operands(r#" { "B" : [[1, 2]], "x":{"A":1}, "A": "[[3]]" } "#),
            Some(("\"[[3]]\"", "[[1, 2]]"))
        );
        assert_eq!(
            operands(r#"{"A":"a\"]","B":null}"#),
            Some((r#""a\"]""#, "null"))
        );
    }

    #[test]
    fn other_json_has_no_operands() {
        for data in [
            r#"{"A":"[[1]]"}"#,
            r#"{"A":"[[1]]","B":"[[2]]","A":"[[3]]"}"#,
            r#"[{"A":1,"B":2}]"#,
            r#""{\"A\":1,\"B\":2}""#,
            "5",
            "-2.5e3",
            "true",
            "null",
            "1e400",
            "{}",
        ] {
            assert_eq!(find(data).unwrap(), None, "{data}");
        }
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        for data in [
            "",
            "[[1,2]",
            r#"{"A":"[[1]]","B":"[[2]]"} x"#,
            r#"{"A":[[1]],"B":[[2]],}"#,
            "{\"A\":\"a\u{1}\",\"B\":1}",
            "[1,]",
            "nul",
        ] {
            assert!(find(data).is_err(), "{data}");
        }
    }
}
