//! `run_if` / `skip_if`: a condition over a user's variables, compiled once at
//! validation and evaluated before each task.

use super::check::loosely_equal;
use crate::resolver::{CompiledValue, Lookup, Strict};
use serde_json::Value;

/// A `run_if` / `skip_if` condition, compiled.
#[derive(Debug, Clone)]
pub enum Predicate {
    Const(bool),
    Truthy(CompiledValue),
    Equals(CompiledValue, CompiledValue),
    NotEquals(CompiledValue, CompiledValue),
    In(CompiledValue, CompiledValue),
}

impl Predicate {
    /// Compiles the JSON form; `Err` says what shape was expected.
    pub fn compile(v: &Value) -> Result<Predicate, String> {
        let c = |v: &Value| {
            CompiledValue::compile(v).map_err(|e| {
                e.into_iter()
                    .map(|(p, e)| format!("{p}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        };
        let pair = |v: &Value, op: &str| -> Result<(CompiledValue, CompiledValue), String> {
            match v {
                Value::Array(a) if a.len() == 2 => Ok((c(&a[0])?, c(&a[1])?)),
                _ => Err(format!("`{op}` takes a list of two values")),
            }
        };
        match v {
            Value::Bool(b) => Ok(Predicate::Const(*b)),
            // LoadDensity's `run_if: 1`: a number is true unless it is zero.
            Value::Number(n) => Ok(Predicate::Const(n.as_f64() != Some(0.0))),
            Value::String(_) => Ok(Predicate::Truthy(c(v)?)),
            Value::Object(m) if m.len() == 1 => {
                let (op, arg) = m.iter().next().expect("one entry");
                match op.as_str() {
                    "equals" => pair(arg, op).map(|(a, b)| Predicate::Equals(a, b)),
                    "not_equals" => pair(arg, op).map(|(a, b)| Predicate::NotEquals(a, b)),
                    "in" => pair(arg, op).map(|(a, b)| Predicate::In(a, b)),
                    "truthy" => Ok(Predicate::Truthy(c(arg)?)),
                    other => Err(format!(
                        "unknown predicate `{other}`: use equals, not_equals, in or truthy"
                    )),
                }
            }
            _ => Err("a predicate is true/false (or a number: 0 is false), \"${var.x}\", or {\"equals\"|\"not_equals\"|\"in\": [a, b]} or {\"truthy\": v}".to_string()),
        }
    }

    /// Evaluates against a user's variables. An undefined variable makes the
    /// predicate false (so `run_if: "${var.token}"` waits for a login).
    pub fn holds(&self, scope: &mut dyn Lookup) -> bool {
        let mut scope = Strict(scope);
        let mut r = |v: &CompiledValue| v.render(&mut scope).ok();
        match self {
            Predicate::Const(b) => *b,
            Predicate::Truthy(v) => r(v).is_some_and(|v| truthy(&v)),
            Predicate::Equals(a, b) => match (r(a), r(b)) {
                (Some(a), Some(b)) => loosely_equal(&a, &b),
                _ => false,
            },
            Predicate::NotEquals(a, b) => match (r(a), r(b)) {
                (Some(a), Some(b)) => !loosely_equal(&a, &b),
                _ => false,
            },
            Predicate::In(needle, hay) => match (r(needle), r(hay)) {
                (Some(n), Some(Value::Array(items))) => items.iter().any(|i| loosely_equal(i, &n)),
                (Some(n), Some(Value::String(s))) => s.contains(&plain(&n)),
                (Some(n), Some(Value::Object(m))) => m.contains_key(&plain(&n)),
                _ => false,
            },
        }
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// JSON truthiness: false, null, 0, "", "false", "0", [] and {} are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !(s.is_empty() || s == "false" || s == "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::{Scope, Vars};
    use rand::SeedableRng;
    use serde_json::json;

    fn holds(p: Value, vars: &Vars) -> bool {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut scope = Scope::new(vars, &mut rng);
        Predicate::compile(&p).unwrap().holds(&mut scope)
    }

    #[test]
    fn predicates() {
        let mut v = Vars::default();
        v.set("role", "admin");
        v.set("n", 3);
        assert!(holds(json!(true), &v));
        assert!(!holds(json!(false), &v));
        assert!(holds(json!("${var.role}"), &v));
        assert!(!holds(json!("${var.missing}"), &v));
        assert!(holds(json!({"equals": ["${var.role}", "admin"]}), &v));
        assert!(holds(json!({"equals": ["${var.n}", 3]}), &v));
        assert!(holds(json!({"not_equals": ["${var.role}", "guest"]}), &v));
        assert!(holds(json!({"in": ["${var.role}", ["admin", "root"]]}), &v));
        assert!(holds(json!({"in": ["dm", "${var.role}"]}), &v));
        assert!(!holds(json!({"truthy": 0}), &v));
        assert!(Predicate::compile(&json!({"bogus": 1})).is_err());
        assert!(Predicate::compile(&json!({"equals": [1]})).is_err());
        assert!(Predicate::compile(&json!([5])).is_err());
        assert!(matches!(
            Predicate::compile(&json!(5)),
            Ok(Predicate::Const(true))
        ));
        assert!(matches!(
            Predicate::compile(&json!(0.0)),
            Ok(Predicate::Const(false))
        ));
    }
}
