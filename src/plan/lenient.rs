//! Numbers as LoadDensity plans write them. LoadDensity converts with
//! Python's `int()` / `float()`, so its plans carry `"5000"`, `2.0` and
//! `"${env.USERS}"` where a number is meant. These `deserialize_with`
//! helpers accept, for a numeric field:
//!
//! * a JSON number; for a whole-number field, a float with no fraction (`2.0`);
//! * a string holding one (`"5"`, `" 2.5 "`);
//! * a string of `${env.NAME}` placeholders and text that makes one, resolved
//!   now, when the plan is validated (`"${env.USERS}"`).
//!
//! Anything else is a problem that says, in plan words, what was expected.

use crate::resolver::{Piece, Template};
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A number as read, before it is fitted to the field's type.
pub enum Read {
    Int(i128),
    Float(f64),
}

/// The numeric types a field can have.
pub trait Number: Sized {
    /// What the field holds, for messages: "a whole number", "a number".
    const WHAT: &'static str;
    fn fit(r: Read) -> Result<Self, String>;
}

macro_rules! whole {
    ($($t:ty),*) => {$(
        impl Number for $t {
            const WHAT: &'static str = "a whole number";
            fn fit(r: Read) -> Result<Self, String> {
                let n = match r {
                    Read::Int(n) => n,
                    Read::Float(f) if f.fract() == 0.0 && f.abs() < 1e30 => f as i128,
                    Read::Float(f) => return Err(format!("{f} is not a whole number")),
                };
                <$t>::try_from(n).map_err(|_| {
                    format!("{n} is out of range (from {} to {})", <$t>::MIN, <$t>::MAX)
                })
            }
        }
    )*};
}
whole!(u16, u32, u64, usize);

impl Number for f64 {
    const WHAT: &'static str = "a number";
    fn fit(r: Read) -> Result<Self, String> {
        Ok(match r {
            Read::Int(n) => n as f64,
            Read::Float(f) => f,
        })
    }
}

struct NumVisitor<T>(PhantomData<T>);

impl<T: Number> NumVisitor<T> {
    fn fit<E: de::Error>(r: Read) -> Result<T, E> {
        T::fit(r).map_err(E::custom)
    }
}

impl<'de, T: Number> Visitor<'de> for NumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (or a string holding one)", T::WHAT)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Self::fit(Read::Int(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Self::fit(Read::Int(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Self::fit(Read::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        let text = expand_env(v, |name| std::env::var(name).ok()).map_err(E::custom)?;
        let t = text.trim();
        let read = if let Ok(n) = t.parse::<i128>() {
            Read::Int(n)
        } else {
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => Read::Float(f),
                _ => {
                    let shown = if text == v {
                        format!("{v:?}")
                    } else {
                        format!("{v:?} (which is {text:?})")
                    };
                    return Err(E::custom(format!("expected {}, found {shown}", T::WHAT)));
                }
            }
        };
        Self::fit(read)
    }
}

/// `s` with its `${env.NAME}` placeholders replaced by their values now
/// (`env` looks a name up).
fn expand_env(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let t = Template::parse(s).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for piece in t.pieces() {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Env(name) => match env(name) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("environment variable `{name}` is not set")),
            },
            _ => {
                return Err(format!(
                    "{s:?}: a number field can use `${{env.NAME}}` placeholders only (resolved when the plan is validated)"
                ))
            }
        }
    }
    Ok(out)
}

/// A numeric field.
pub fn num<'de, D: Deserializer<'de>, T: Number>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(NumVisitor(PhantomData))
}

/// An optional numeric field (`null` is absent); use with `#[serde(default)]`.
pub fn opt_num<'de, D: Deserializer<'de>, T: Number>(d: D) -> Result<Option<T>, D::Error> {
    struct Opt<T>(PhantomData<T>);
    impl<'de, T: Number> Visitor<'de> for Opt<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} (or a string holding one)", T::WHAT)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            num(d).map(Some)
        }
    }
    d.deserialize_option(Opt(PhantomData))
}

/// A field holding one number or a list of them (`200` or `[200, 201]`).
pub fn one_or_many<'de, D: Deserializer<'de>, T: Number>(d: D) -> Result<Vec<T>, D::Error> {
    struct Many<T>(PhantomData<T>);
    impl<'de, T: Number> Visitor<'de> for Many<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} or a list of them", T::WHAT)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            NumVisitor(PhantomData).visit_u64(v).map(|n| vec![n])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
            NumVisitor(PhantomData).visit_i64(v).map(|n| vec![n])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
            NumVisitor(PhantomData).visit_f64(v).map(|n| vec![n])
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            NumVisitor(PhantomData).visit_str(v).map(|n| vec![n])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            struct One<T>(T);
            impl<'de, T: Number> de::Deserialize<'de> for One<T> {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    num(d).map(One)
                }
            }
            let mut out = Vec::new();
            while let Some(One(n)) = seq.next_element::<One<T>>()? {
                out.push(n);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Many(PhantomData))
}

/// An optional [`one_or_many`] field; use with `#[serde(default)]`.
pub fn opt_one_or_many<'de, D: Deserializer<'de>, T: Number>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    one_or_many(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct F {
        #[serde(default, deserialize_with = "super::opt_num")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "super::opt_num")]
        x: Option<f64>,
        #[serde(default, deserialize_with = "super::opt_one_or_many")]
        codes: Option<Vec<u16>>,
    }

    fn read(v: serde_json::Value) -> Result<F, String> {
        serde_json::from_value::<F>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_strings_and_integral_floats_are_accepted() {
        let f = read(json!({"n": "5000", "x": "2.5", "codes": "200"})).unwrap();
        assert_eq!(
            (f.n, f.x, f.codes),
            (Some(5000), Some(2.5), Some(vec![200]))
        );
        let f = read(json!({"n": 2.0, "x": 3, "codes": [200, "201", 202.0]})).unwrap();
        assert_eq!(
            (f.n, f.x, f.codes),
            (Some(2), Some(3.0), Some(vec![200, 201, 202]))
        );
        let f = read(json!({"n": null})).unwrap();
        assert_eq!(f.n, None);
    }

    #[test]
    fn what_is_not_a_number_says_so_in_plan_words() {
        let e = read(json!({"n": 2.5})).unwrap_err();
        assert!(e.contains("2.5 is not a whole number"), "{e}");
        let e = read(json!({"n": -1})).unwrap_err();
        assert!(e.contains("-1 is out of range (from 0 to"), "{e}");
        let e = read(json!({"n": "many"})).unwrap_err();
        assert!(e.contains("expected a whole number, found \"many\""), "{e}");
        let e = read(json!({"x": true})).unwrap_err();
        assert!(
            e.contains("expected a number (or a string holding one)"),
            "{e}"
        );
        let e = read(json!({"codes": {"a": 1}})).unwrap_err();
        assert!(e.contains("a whole number or a list of them"), "{e}");
        let e = read(json!({"x": "${var.n}"})).unwrap_err();
        assert!(e.contains("can use `${env.NAME}` placeholders only"), "{e}");
    }

    #[test]
    fn env_placeholders_are_resolved_now() {
        let env = |name: &str| (name == "USERS").then(|| "12".to_string());
        assert_eq!(super::expand_env("${env.USERS}", env).unwrap(), "12");
        assert_eq!(super::expand_env("${env.USERS}.5", env).unwrap(), "12.5");
        assert_eq!(super::expand_env("7", env).unwrap(), "7");
        let e = super::expand_env("${env.NOPE}", env).unwrap_err();
        assert_eq!(e, "environment variable `NOPE` is not set");
        // Through serde, with the process environment: an unset name.
        let e = read(json!({"n": "${env.LD_LENIENT_TEST_UNSET_XYZ}"})).unwrap_err();
        assert!(
            e.contains("environment variable `LD_LENIENT_TEST_UNSET_XYZ` is not set"),
            "{e}"
        );
    }
}
