//! Canonical JSON: object keys sorted by UTF-8 bytes at every level, no whitespace, numbers and
//! escapes as serde_json prints them. What approval bindings and the audit chain hash.

use serde_json::Value;

/// JSON with object keys sorted (by UTF-8 bytes) at every level and no whitespace; numbers
/// as serde_json prints them. Sorted explicitly: serde_json's `preserve_order` feature, if
/// any dependency ever turns it on, would otherwise change every hash.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&value.to_string()),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// The same escapes serde_json writes.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_matches_serde_escapes() {
        let value = json!({
            "b": [1, 2.5, {"z": null, "a": "x\"\\\n\u{1}é😀"}],
            "a": true,
            "é": -1e300,
            "B": 18446744073709551615u64,
        });
        let canonical = canonical_json(&value);
        assert_eq!(
            canonical,
            "{\"B\":18446744073709551615,\"a\":true,\"b\":[1,2.5,{\"a\":\"x\\\"\\\\\\n\\u0001é😀\",\"z\":null}],\"é\":-1e+300}"
        );
        // serde_json (without preserve_order) sorts the same way and escapes the same way.
        assert_eq!(canonical, value.to_string());
    }

    #[test]
    fn canonical_json_sorts_keys_everywhere() {
        assert_eq!(
            canonical_json(&json!({"b": [{"y": 1, "x": "é"}], "b0": null, "a": null})),
            r#"{"a":null,"b":[{"x":"é","y":1}],"b0":null}"#
        );
    }
}
