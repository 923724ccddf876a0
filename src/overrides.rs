//! What the pipeline says over a plan: `--set NAME=VALUE` plan variables and
//! `--users`, `--duration`, `--spawn-rate`, `--host` over every
//! `LD_start_test` (each also from a `LOADDENSITY_*` environment variable;
//! a flag wins over its variable). Validation applies them, so what is
//! checked is what runs.

use crate::resolver::valid_var_name;

/// The pipeline's say over every test of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub users: Option<u64>,
    pub duration_s: Option<f64>,
    pub spawn_rate: Option<f64>,
    pub host: Option<String>,
    /// `--set` and `LOADDENSITY_SET_<NAME>` variables, in the order given
    /// (environment first, so a flag wins).
    pub vars: Vec<(String, String)>,
}

/// Environment variables `LOADDENSITY_SET_<NAME>=VALUE` set plan variable `NAME`.
pub const SET_PREFIX: &str = "LOADDENSITY_SET_";

/// Parses `--set NAME=VALUE`.
pub fn parse_set(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, found {s:?}"))?;
    if !valid_var_name(name) {
        return Err(format!(
            "variable name {name:?} may only use A-Z a-z 0-9 _ . -"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The `LOADDENSITY_SET_<NAME>` variables of `env`, sorted by name.
pub fn set_from_env(
    env: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in env {
        let Some(name) = k.to_str().and_then(|k| k.strip_prefix(SET_PREFIX)) else {
            continue;
        };
        let value = v
            .into_string()
            .map_err(|_| format!("{SET_PREFIX}{name} is not UTF-8"))?;
        out.push(parse_set(&format!("{name}={value}"))?);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_takes_name_equals_value() {
        assert_eq!(
            parse_set("base=http://h:1/a=b"),
            Ok(("base".into(), "http://h:1/a=b".into()))
        );
        assert_eq!(parse_set("empty="), Ok(("empty".into(), String::new())));
        assert!(parse_set("novalue")
            .unwrap_err()
            .contains("expected NAME=VALUE"));
        assert!(parse_set("bad name=1")
            .unwrap_err()
            .contains("may only use"));
    }

    #[test]
    fn set_variables_come_from_the_environment_too() {
        let env = [
            ("LOADDENSITY_SET_users", "5"),
            ("PATH", "/bin"),
            ("LOADDENSITY_SET_base", "http://h"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        assert_eq!(
            set_from_env(env.into_iter()).unwrap(),
            [
                ("base".to_string(), "http://h".to_string()),
                ("users".to_string(), "5".to_string())
            ]
        );
    }
}
