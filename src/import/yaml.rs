//! YAML OpenAPI documents, read as the JSON value they spell: mappings in
//! their order, scalars as YAML 1.2 types them, anchors and aliases resolved.
//! Mapping keys become strings (`200:` under `responses` is the key `"200"`,
//! as JSON has it), which a plain YAML-to-serde bridge would refuse.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The first document of `text` as JSON.
pub fn to_json(text: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let doc = docs
        .into_iter()
        .next()
        .ok_or_else(|| "an empty YAML document".to_string())?;
    value(&doc)
}

fn value(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        // `.inf`, `.nan` and the like have no JSON number: kept as text.
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(value).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = Map::with_capacity(h.len());
            for (k, v) in h {
                m.insert(key(k)?, value(v)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err("a YAML alias that refers to no anchor".to_string())
        }
    })
}

fn key(k: &Yaml) -> Result<String, String> {
    Ok(match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".to_string(),
        other => return Err(format!("a mapping key that is not a scalar: {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openapi_yaml_reads_as_its_json() {
        let v = to_json(
            "openapi: 3.0.3\n\
             info: {title: Demo, version: '1'}\n\
             servers:\n  - url: http://127.0.0.1:8080\n\
             paths:\n  /b:\n    get:\n      responses:\n        200: &ok {description: ok}\n\
             \x20 /a:\n    post:\n      responses:\n        '201': *ok\n      x-rate: 0.5\n      x-on: true\n",
        )
        .unwrap();
        assert_eq!(v["openapi"], "3.0.3");
        assert_eq!(v["info"]["version"], "1");
        assert_eq!(
            v["paths"]["/b"]["get"]["responses"]["200"],
            json!({"description": "ok"})
        );
        assert_eq!(
            v["paths"]["/a"]["post"]["responses"]["201"],
            json!({"description": "ok"})
        );
        assert_eq!(v["paths"]["/a"]["post"]["x-rate"], 0.5);
        assert_eq!(v["paths"]["/a"]["post"]["x-on"], true);
        // The document's order, not sorted.
        let paths: Vec<&String> = v["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["/b", "/a"]);
    }

    #[test]
    fn broken_yaml_says_where() {
        let e = to_json("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.starts_with("not YAML:"), "{e}");
        assert!(e.contains("line"), "{e}");
        assert!(to_json("").unwrap_err().contains("empty"));
        assert!(to_json("? [1, 2]\n: x\n")
            .unwrap_err()
            .contains("not a scalar"));
    }
}
