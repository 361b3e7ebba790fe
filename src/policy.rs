//! Policy engine: evaluates the Rego policies in `policies/` (with regorus) to decide, for every
//! tool call, whether it is allowed, needs approval or is denied. It fails closed: any error or
//! malformed decision document becomes a deny whose reason starts with "policy error:".

use std::path::{Path, PathBuf};

use regorus::{Engine, Value};
use serde::Serialize;
use serde_json::Value as Json;

/// The rule every policy set must define.
const DECISION_RULE: &str = "data.steward.decision";

/// `policies/` as shipped, for [`PolicyEngine::builtin`].
const BUILTIN_POLICIES: [(&str, &str); 2] = [
    (
        "default.rego",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/default.rego"
        )),
    ),
    (
        "default_test.rego",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/default_test.rego"
        )),
    ),
];

/// Fields a decision document may carry; anything else is a typo we refuse to guess about
/// (a misspelt `independent_approvers` must not silently weaken the two-person rule).
const DECISION_FIELDS: [&str; 6] = [
    "effect",
    "reason",
    "approvers",
    "min_approvals",
    "ttl_seconds",
    "independent_approvers",
];

/// Compiled Rego policies plus the files they came from. Cheap to clone: the modules are shared.
#[derive(Clone)]
pub struct PolicyEngine {
    /// Prepared (analysed) engine with the config in `data`; cloned per evaluation because
    /// regorus evaluates through `&mut self`.
    engine: Engine,
    files: Vec<PathBuf>,
    /// Whether any module in package `steward` declares `decision`; without it every call is
    /// denied with a reason that says so rather than regorus's "not a valid rule path".
    has_decision: bool,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("files", &self.files)
            .field("has_decision", &self.has_decision)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    RequireApproval,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub effect: Effect,
    pub reason: String,
    /// `group:<name>` or `user:<id>`.
    pub approvers: Vec<String>,
    pub min_approvals: u32,
    pub ttl_seconds: u64,
    /// The human an agent acts for may not count as an approver (two-person rule).
    pub independent_approvers: bool,
}

impl Decision {
    fn fail_closed(reason: String) -> Self {
        Self {
            effect: Effect::Deny,
            reason,
            approvers: Vec::new(),
            min_approvals: 0,
            ttl_seconds: 0,
            independent_approvers: false,
        }
    }
}

/// Policy configuration, visible to policies as `data.steward.config`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyConfig {
    pub protected_schemas: Vec<String>,
    pub default_approver_group: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy error: no .rego files in {}", dir.display())]
    NoPolicies { dir: PathBuf },
    #[error("policy error: cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A parse or analysis error; the message names the file and line.
    #[error("policy error: {message}")]
    Syntax { message: String },
    #[error("policy error: {0}")]
    Eval(String),
}

/// Most approvals a decision may require.
pub const MAX_APPROVALS: u32 = 20;
/// Longest an approval may stay open: 30 days.
pub const MAX_TTL_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTestResult {
    /// Full rule path, e.g. `data.steward.test_reads_allowed`.
    pub name: String,
    pub passed: bool,
    /// Why the test could not be evaluated (or what it evaluated to instead of `true`);
    /// `None` for a plain failure (false or undefined).
    pub error: Option<String>,
}

impl PolicyEngine {
    /// Loads every *.rego file in `dir` (sorted), compiles, adds config as data.steward.config.
    /// A syntax error fails with the file and line.
    pub fn load(dir: &Path, config: &PolicyConfig) -> Result<Self, PolicyError> {
        let files = rego_files(dir)?;
        if files.is_empty() {
            return Err(PolicyError::NoPolicies {
                dir: dir.to_path_buf(),
            });
        }
        let sources = files
            .into_iter()
            .map(|path| match std::fs::read_to_string(&path) {
                Ok(rego) => Ok((path, rego)),
                Err(source) => Err(PolicyError::Read { path, source }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::compile(sources, config)
    }

    /// The policies in this crate's `policies/` folder, built into the binary (used when no
    /// policy directory is configured). Their files are reported as `<builtin>/NAME.rego`.
    pub fn builtin(config: &PolicyConfig) -> Result<Self, PolicyError> {
        let sources = BUILTIN_POLICIES
            .iter()
            .map(|(name, rego)| (Path::new("<builtin>").join(name), (*rego).to_string()))
            .collect();
        Self::compile(sources, config)
    }

    fn compile(
        sources: Vec<(PathBuf, String)>,
        config: &PolicyConfig,
    ) -> Result<Self, PolicyError> {
        let mut engine = Engine::new();
        let mut files = Vec::with_capacity(sources.len());
        for (path, rego) in sources {
            engine
                .add_policy(path.display().to_string(), rego)
                .map_err(|e| syntax_error(&e.to_string()))?;
            files.push(path);
        }

        let config = serde_json::json!({ "steward": { "config": config } });
        let config = serde_json::from_value::<Value>(config)
            .map_err(|e| PolicyError::Eval(format!("cannot convert config: {e}")))?;
        engine
            .add_data(config)
            .map_err(|e| PolicyError::Eval(format!("cannot add data.steward.config: {e}")))?;

        // regorus only parses in add_policy; unsafe variables, unknown functions and the like
        // surface when the engine is first prepared. Prepare now so loading reports them, and
        // so every clone starts prepared instead of re-analysing per call.
        engine
            .eval_query("true".to_string(), false)
            .map_err(|e| syntax_error(&e.to_string()))?;

        let has_decision = declares(&engine, &["steward"], "decision");
        Ok(Self {
            engine,
            files,
            has_decision,
        })
    }

    /// Evaluates data.steward.decision for `input`; never fails. Any error, an undefined or
    /// malformed decision, or a require_approval nobody could satisfy becomes a deny whose
    /// reason starts with "policy error: ".
    pub fn decide(&self, input: &Json) -> Decision {
        let decision = self
            .evaluate_raw(input)
            .map_err(|e| e.to_string())
            .and_then(|doc| parse_decision(&doc).map_err(|e| format!("policy error: {e}")));
        decision.unwrap_or_else(Decision::fail_closed)
    }

    /// The raw decision document (for `steward policy eval`), or the evaluation error.
    pub fn evaluate_raw(&self, input: &Json) -> Result<Json, PolicyError> {
        if !self.has_decision {
            return Err(PolicyError::Eval(format!(
                "no loaded policy defines {DECISION_RULE}"
            )));
        }
        let input = serde_json::from_value::<Value>(input.clone())
            .map_err(|e| PolicyError::Eval(format!("cannot convert input: {e}")))?;
        let mut engine = self.engine.clone();
        engine.set_input(input);
        let value = engine
            .eval_rule(DECISION_RULE.to_string())
            .map_err(|e| PolicyError::Eval(headline(&e.to_string())))?;
        if value == Value::Undefined {
            return Err(PolicyError::Eval(format!(
                "{DECISION_RULE} is undefined for this input"
            )));
        }
        serde_json::to_value(&value)
            .map_err(|e| PolicyError::Eval(format!("cannot convert decision: {e}")))
    }

    /// Runs every rule named test_* in every loaded package; a test passes when it evaluates
    /// to true.
    pub fn run_tests(&self) -> Vec<PolicyTestResult> {
        let discovered = self
            .engine
            .get_policies()
            .and_then(|sources| Ok((sources, self.engine.get_policy_package_components()?)));
        let (sources, packages) = match discovered {
            Ok(found) => found,
            Err(e) => {
                return vec![PolicyTestResult {
                    name: "test discovery".to_string(),
                    passed: false,
                    error: Some(headline(&e.to_string())),
                }];
            }
        };

        let mut names: Vec<String> = Vec::new();
        // Rows of both lists follow load order, one per file.
        for (source, package) in sources.iter().zip(&packages) {
            for candidate in test_candidates(source.get_contents()) {
                let declared = self
                    .engine
                    .has_declared_rule_rooted_at(source.get_path(), candidate)
                    .unwrap_or(false);
                let name = format!("{}.{candidate}", rule_path(&package.components));
                if declared && !names.contains(&name) {
                    names.push(name);
                }
            }
        }

        names
            .into_iter()
            .map(|name| {
                let mut engine = self.engine.clone();
                let (passed, error) = match engine.eval_rule(name.clone()) {
                    Ok(Value::Bool(true)) => (true, None),
                    Ok(Value::Bool(false) | Value::Undefined) => (false, None),
                    Ok(other) => (
                        false,
                        Some(format!(
                            "evaluated to {}, not true",
                            serde_json::to_value(&other).unwrap_or(Json::Null)
                        )),
                    ),
                    Err(e) => (false, Some(headline(&e.to_string()))),
                };
                PolicyTestResult {
                    name,
                    passed,
                    error,
                }
            })
            .collect()
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// The *.rego files directly in `dir`, sorted so load order (and error order) is stable.
fn rego_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let read_error = |source| PolicyError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|ext| ext == "rego") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Whether any module of `package` declares a rule rooted at `rule`.
fn declares(engine: &Engine, package: &[&str], rule: &str) -> bool {
    let (Ok(sources), Ok(packages)) = (
        engine.get_policies(),
        engine.get_policy_package_components(),
    ) else {
        return false;
    };
    sources.iter().zip(&packages).any(|(source, found)| {
        found.components == package
            && engine
                .has_declared_rule_rooted_at(source.get_path(), rule)
                .unwrap_or(false)
    })
}

/// Identifiers starting with `test_` in a policy's text. Only candidates: comments and strings
/// also yield them, so callers confirm each with `has_declared_rule_rooted_at`.
fn test_candidates(rego: &str) -> impl Iterator<Item = &str> {
    rego.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("test_"))
}

/// `data.a.b` for package components, bracketing any that are not plain identifiers.
fn rule_path(components: &[String]) -> String {
    let mut path = String::from("data");
    for component in components {
        let plain = component
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            path.push('.');
            path.push_str(component);
        } else {
            path.push('[');
            path.push_str(&Json::String(component.clone()).to_string());
            path.push(']');
        }
    }
    path
}

/// regorus errors read "\n--> file:line:col\n  |\nN | source\n  | ^\nerror: message".
/// The one-line form "file:line:col: message" suits decision reasons and logs.
fn headline(message: &str) -> String {
    let message = message.trim();
    let location = message.lines().next().and_then(|l| l.strip_prefix("--> "));
    let error = message
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("error: "));
    match (location, error) {
        (Some(location), Some(error)) => format!("{location}: {error}"),
        _ => message.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    }
}

/// Load errors keep regorus's source excerpt under the one-line headline: at the CLI the
/// caret shows exactly where the policy went wrong.
fn syntax_error(message: &str) -> PolicyError {
    let trimmed = message.trim();
    let lines: Vec<&str> = trimmed.lines().collect();
    let message = match lines.as_slice() {
        [first, excerpt @ .., last] if first.starts_with("--> ") && last.starts_with("error: ") => {
            format!("{}\n{}", headline(trimmed), excerpt.join("\n"))
        }
        _ => headline(trimmed),
    };
    PolicyError::Syntax { message }
}

/// Checks a decision document field by field; the error says what was wrong.
fn parse_decision(doc: &Json) -> Result<Decision, String> {
    let Json::Object(fields) = doc else {
        return Err(format!("decision is not an object: {doc}"));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !DECISION_FIELDS.contains(&key.as_str()))
    {
        return Err(format!("decision has unknown field {unknown}"));
    }

    let effect = match fields.get("effect") {
        None => return Err("decision has no effect".to_string()),
        Some(Json::String(effect)) if effect == "allow" => Effect::Allow,
        Some(Json::String(effect)) if effect == "require_approval" => Effect::RequireApproval,
        Some(Json::String(effect)) if effect == "deny" => Effect::Deny,
        Some(other) => {
            return Err(format!(
                "decision effect {other} is not allow, require_approval or deny"
            ));
        }
    };
    let reason = match fields.get("reason") {
        None => return Err("decision has no reason".to_string()),
        Some(Json::String(reason)) => reason.clone(),
        Some(other) => return Err(format!("decision reason must be a string, got {other}")),
    };
    let approvers = match fields.get("approvers") {
        None => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| match item {
                Json::String(approver) if is_approver(approver) => Ok(approver.clone()),
                Json::String(_) => Err(format!(
                    "decision approver {item} is not group:<name> or user:<id>"
                )),
                _ => Err(format!(
                    "decision approvers must be an array of strings, got {}",
                    Json::Array(items.clone())
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(format!(
                "decision approvers must be an array of strings, got {other}"
            ));
        }
    };
    let min_approvals = match fields.get("min_approvals") {
        None => 0,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                format!("decision min_approvals must be a non-negative integer, got {value}")
            })?,
    };
    let ttl_seconds = match fields.get("ttl_seconds") {
        None => 0,
        Some(value) => value.as_u64().ok_or_else(|| {
            format!("decision ttl_seconds must be a non-negative integer, got {value}")
        })?,
    };
    let independent_approvers = match fields.get("independent_approvers") {
        None => false,
        Some(Json::Bool(independent)) => *independent,
        Some(other) => {
            return Err(format!(
                "decision independent_approvers must be a boolean, got {other}"
            ));
        }
    };

    // An approval nobody can give, or that expires at once, is a deny in disguise: say so.
    if effect == Effect::RequireApproval {
        if approvers.is_empty() {
            return Err("require_approval decision has no approvers".to_string());
        }
        if min_approvals < 1 {
            return Err(format!(
                "require_approval decision needs min_approvals >= 1, got {min_approvals}"
            ));
        }
        if ttl_seconds < 1 {
            return Err(format!(
                "require_approval decision needs ttl_seconds >= 1, got {ttl_seconds}"
            ));
        }
        // Bounds keep stored values meaningful (no overflowing quorum, no years-long approvals).
        if min_approvals > MAX_APPROVALS {
            return Err(format!(
                "require_approval decision asks for {min_approvals} approvals; at most {MAX_APPROVALS}"
            ));
        }
        if ttl_seconds > MAX_TTL_SECONDS {
            return Err(format!(
                "require_approval decision ttl_seconds {ttl_seconds} is above {MAX_TTL_SECONDS} (30 days)"
            ));
        }
    }

    Ok(Decision {
        effect,
        reason,
        approvers,
        min_approvals,
        ttl_seconds,
        independent_approvers,
    })
}

fn is_approver(approver: &str) -> bool {
    ["group:", "user:"].iter().any(|prefix| {
        approver
            .strip_prefix(prefix)
            .is_some_and(|name| !name.trim().is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

    fn config() -> PolicyConfig {
        PolicyConfig {
            protected_schemas: vec!["gold".to_string()],
            default_approver_group: "data-oncall".to_string(),
        }
    }

    fn real_policies() -> PolicyEngine {
        PolicyEngine::load(Path::new(POLICIES), &config()).expect("real policies load")
    }

    /// A policy directory holding the given files, and the engine loaded from it.
    fn temp_policies(
        files: &[(&str, &str)],
    ) -> (tempfile::TempDir, Result<PolicyEngine, PolicyError>) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, rego) in files {
            std::fs::write(dir.path().join(name), rego).expect("write policy");
        }
        let engine = PolicyEngine::load(dir.path(), &config());
        (dir, engine)
    }

    fn decide_with(rego: &str) -> Decision {
        let (_dir, engine) = temp_policies(&[("p.rego", rego)]);
        engine
            .expect("policy loads")
            .decide(&json!({"tool": "list_tables"}))
    }

    fn call(kind: &str, tool: &str, annotations: Json, action: Json) -> Json {
        let on_behalf_of = if kind == "agent" {
            json!("alice")
        } else {
            Json::Null
        };
        json!({
            "principal": {"id": "p1", "groups": ["data-oncall"], "kind": kind, "on_behalf_of": on_behalf_of},
            "tool": tool,
            "annotations": annotations,
            "action": action,
            "environment": "dev",
            "channel": "mcp-stdio",
        })
    }

    fn read_only() -> Json {
        json!({"read_only": true, "destructive": false, "idempotent": true, "open_world": false})
    }

    fn destructive() -> Json {
        json!({"read_only": false, "destructive": true, "idempotent": false, "open_world": false})
    }

    fn statement(kind: &str, tables: &[&str], schemas: &[&str]) -> Json {
        json!({"statement_kind": kind, "tables": tables, "schemas": schemas, "rows_estimate": 437})
    }

    fn decision(effect: Effect, reason: &str, min_approvals: u32, independent: bool) -> Decision {
        let approves = effect == Effect::RequireApproval;
        Decision {
            effect,
            reason: reason.to_string(),
            approvers: if approves {
                vec!["group:data-oncall".to_string()]
            } else {
                Vec::new()
            },
            min_approvals,
            ttl_seconds: if approves { 3600 } else { 0 },
            independent_approvers: independent,
        }
    }

    fn denied(reason: &str) -> Decision {
        decision(Effect::Deny, reason, 0, false)
    }

    #[test]
    fn default_policy_scenarios() {
        use Effect::*;
        let engine = real_policies();
        let sql = |who: &str, kind: &str, table: &str| {
            let schema = table.split('.').next().unwrap_or_default();
            let action = statement(kind, &[table], &[schema]);
            call(who, "execute_statement", destructive(), action)
        };
        let allowed = decision(Allow, "read-only tool", 0, false);
        let one = |reason: &str| decision(RequireApproval, reason, 1, false);
        let two = |reason: &str| decision(RequireApproval, reason, 2, true);
        let select = json!({"statement_kind": "SELECT"});
        let cases = [
            (
                call("human", "query_warehouse", read_only(), select),
                allowed.clone(),
            ),
            (
                call("agent", "describe_table", read_only(), json!({})),
                allowed,
            ),
            (
                sql("human", "INSERT", "public.events"),
                one("INSERT on public.events needs approval from group:data-oncall"),
            ),
            (
                sql("human", "UPDATE", "public.events"),
                one("UPDATE on public.events needs approval from group:data-oncall"),
            ),
            (
                sql("human", "DELETE", "gold.orders"),
                one("DELETE on gold.orders needs approval from group:data-oncall"),
            ),
            (
                sql("agent", "DELETE", "gold.orders"),
                one("DELETE on gold.orders needs approval from group:data-oncall"),
            ),
            (
                sql("human", "CREATE TABLE", "public.tmp"),
                one("CREATE TABLE on public.tmp needs approval from group:data-oncall"),
            ),
            (
                sql("agent", "ALTER TABLE", "gold.orders"),
                one("ALTER TABLE on gold.orders needs approval from group:data-oncall"),
            ),
            (
                sql("human", "DROP TABLE", "public.tmp"),
                one("DROP TABLE on public.tmp needs approval from group:data-oncall"),
            ),
            (
                sql("human", "DROP TABLE", "gold.orders"),
                two("DROP TABLE on gold.orders in protected schema gold needs two approvers"),
            ),
            (
                sql("agent", "TRUNCATE", "gold.orders"),
                two("TRUNCATE on gold.orders in protected schema gold needs two approvers"),
            ),
            (
                sql("human", "GRANT", "gold.orders"),
                denied("privilege changes are not made through Steward"),
            ),
            (
                sql("agent", "CREATE ROLE", "public.x"),
                denied("privilege changes are not made through Steward"),
            ),
            (
                call(
                    "human",
                    "launch_rockets",
                    json!({"read_only": false}),
                    json!({}),
                ),
                denied("unknown tool launch_rockets"),
            ),
            (
                call("agent", "drop_everything", destructive(), json!({})),
                denied("unknown tool drop_everything"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(engine.decide(&input), expected, "{input}");
        }
    }

    #[test]
    fn rego_tests_pass() {
        let results = real_policies().run_tests();
        let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
        assert_eq!(failed, Vec::<&PolicyTestResult>::new());
        assert!(results.len() >= 8, "only {} rego tests", results.len());
        assert!(
            results
                .iter()
                .any(|r| r.name == "data.steward.test_reads_allowed")
        );
    }

    #[test]
    fn builtin_policies_are_the_shipped_folder() {
        let builtin = PolicyEngine::builtin(&config()).expect("builtin policies load");
        assert_eq!(
            builtin.files(),
            [
                Path::new("<builtin>/default.rego"),
                Path::new("<builtin>/default_test.rego"),
            ]
        );
        let names = |engine: &PolicyEngine| -> Vec<(String, bool)> {
            engine
                .run_tests()
                .into_iter()
                .map(|r| (r.name, r.passed))
                .collect()
        };
        assert_eq!(names(&builtin), names(&real_policies()));
        let drop = call(
            "agent",
            "execute_statement",
            destructive(),
            statement("DROP TABLE", &["gold.orders"], &["gold"]),
        );
        assert_eq!(builtin.decide(&drop), real_policies().decide(&drop));
    }

    #[test]
    fn loads_sorted_rego_files_only() {
        let engine = real_policies();
        assert_eq!(
            engine.files(),
            [
                Path::new(POLICIES).join("default.rego"),
                Path::new(POLICIES).join("default_test.rego"),
            ]
        );
    }

    #[test]
    fn evaluate_raw_returns_the_document() {
        let input = call("human", "list_tables", read_only(), json!({}));
        let raw = real_policies().evaluate_raw(&input).expect("evaluates");
        assert_eq!(
            raw,
            json!({
                "effect": "allow",
                "reason": "read-only tool",
                "approvers": [],
                "min_approvals": 0,
                "ttl_seconds": 0,
                "independent_approvers": false,
            })
        );
    }

    #[test]
    fn optional_fields_default_for_allow_and_deny() {
        let decided = decide_with(
            r#"package steward
decision := {"effect": "allow", "reason": "fine"}
"#,
        );
        assert_eq!(decided, decision(Effect::Allow, "fine", 0, false));
    }

    #[test]
    fn malformed_decisions_fail_closed() {
        let approval = r#""effect": "require_approval", "reason": "r""#;
        let cases = [
            (
                r#"{"reason": "r"}"#.to_string(),
                "policy error: decision has no effect",
            ),
            (
                r#"{"effect": "allow"}"#.to_string(),
                "policy error: decision has no reason",
            ),
            (
                r#"{"effect": "maybe", "reason": "r"}"#.to_string(),
                r#"policy error: decision effect "maybe" is not allow, require_approval or deny"#,
            ),
            (
                r#"{"effect": "allow", "reason": 7}"#.to_string(),
                "policy error: decision reason must be a string, got 7",
            ),
            (
                format!(r#"{{{approval}}}"#),
                "policy error: require_approval decision has no approvers",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 4294967295, "ttl_seconds": 60}}"#
                ),
                "policy error: require_approval decision asks for 4294967295 approvals; at most 20",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 1, "ttl_seconds": 99999999}}"#
                ),
                "policy error: require_approval decision ttl_seconds 99999999 is above 2592000 (30 days)",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": "2", "ttl_seconds": 60}}"#
                ),
                r#"policy error: decision min_approvals must be a non-negative integer, got "2""#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": -1, "ttl_seconds": 60}}"#
                ),
                "policy error: decision min_approvals must be a non-negative integer, got -1",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 1.5, "ttl_seconds": 60}}"#
                ),
                "policy error: decision min_approvals must be a non-negative integer, got 1.5",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": "group:x", "min_approvals": 1, "ttl_seconds": 60}}"#
                ),
                r#"policy error: decision approvers must be an array of strings, got "group:x""#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x", 1], "min_approvals": 1, "ttl_seconds": 60}}"#
                ),
                r#"policy error: decision approvers must be an array of strings, got ["group:x",1]"#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["admins"], "min_approvals": 1, "ttl_seconds": 60}}"#
                ),
                r#"policy error: decision approver "admins" is not group:<name> or user:<id>"#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 0, "ttl_seconds": 60}}"#
                ),
                "policy error: require_approval decision needs min_approvals >= 1, got 0",
            ),
            (
                format!(r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 1}}"#),
                "policy error: require_approval decision needs ttl_seconds >= 1, got 0",
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 1, "ttl_seconds": "1h"}}"#
                ),
                r#"policy error: decision ttl_seconds must be a non-negative integer, got "1h""#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 2, "ttl_seconds": 60, "independent_approvers": "yes"}}"#
                ),
                r#"policy error: decision independent_approvers must be a boolean, got "yes""#,
            ),
            (
                format!(
                    r#"{{{approval}, "approvers": ["group:x"], "min_approvals": 2, "ttl_seconds": 60, "independant_approvers": true}}"#
                ),
                "policy error: decision has unknown field independant_approvers",
            ),
            (
                "true".to_string(),
                "policy error: decision is not an object: true",
            ),
        ];
        for (document, reason) in cases {
            let decided = decide_with(&format!("package steward\ndecision := {document}\n"));
            assert_eq!(decided, denied(reason), "{document}");
        }
    }

    #[test]
    fn undefined_decision_fails_closed() {
        assert_eq!(
            decide_with("package steward\nallow := true\n"),
            denied("policy error: no loaded policy defines data.steward.decision")
        );
        assert_eq!(
            decide_with("package other\ndecision := {\"effect\": \"allow\", \"reason\": \"r\"}\n"),
            denied("policy error: no loaded policy defines data.steward.decision")
        );
        assert_eq!(
            decide_with(
                "package steward\ndecision := {\"effect\": \"allow\", \"reason\": \"r\"} if input.never\n"
            ),
            denied("policy error: data.steward.decision is undefined for this input")
        );
    }

    #[test]
    fn runtime_errors_fail_closed() {
        let (dir, engine) = temp_policies(&[(
            "p.rego",
            "package steward\n\
             decision := {\"effect\": \"allow\", \"reason\": \"a\"} if input.tool\n\
             decision := {\"effect\": \"deny\", \"reason\": \"b\"} if input.tool\n",
        )]);
        let path = dir.path().join("p.rego").display().to_string();
        assert_eq!(
            engine
                .expect("loads")
                .decide(&json!({"tool": "list_tables"})),
            denied(&format!(
                "policy error: {path}:3:1: rule conflicts with rule at {path}:2:1"
            ))
        );

        let (dir, engine) = temp_policies(&[(
            "p.rego",
            "package steward\ndecision := {\"effect\": \"allow\", \"reason\": sprintf(\"%d\", [1 / input.zero])}\n",
        )]);
        let path = dir.path().join("p.rego").display().to_string();
        assert_eq!(
            engine.expect("loads").decide(&json!({"zero": 0})),
            denied(&format!("policy error: {path}:2:60: divide by zero"))
        );
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let (dir, engine) = temp_policies(&[
            (
                "a_ok.rego",
                "package steward\ndecision := {\"effect\": \"deny\", \"reason\": \"r\"}\n",
            ),
            ("b_bad.rego", "package steward\n\nx := 1\ny := {\n"),
        ]);
        let Err(error) = engine else {
            panic!("loaded a broken policy")
        };
        let path = dir.path().join("b_bad.rego").display().to_string();
        assert_eq!(
            error.to_string(),
            format!("policy error: {path}:5:1: expecting expression\n  |\n5 | \n  | ^")
        );
        assert!(matches!(error, PolicyError::Syntax { .. }));
    }

    #[test]
    fn analysis_errors_fail_load() {
        let (dir, engine) = temp_policies(&[("p.rego", "package steward\n\nx if { y }\n")]);
        let Err(error) = engine else {
            panic!("loaded an unsafe policy")
        };
        let path = dir.path().join("p.rego").display().to_string();
        assert_eq!(
            error.to_string(),
            format!(
                "policy error: {path}:3:8: use of undefined variable `y` is unsafe\n  |\n3 | x if {{ y }}\n  |        ^"
            )
        );
    }

    #[test]
    fn empty_dir_has_no_policies() {
        let (dir, engine) = temp_policies(&[("README.md", "# not a policy")]);
        let Err(error) = engine else {
            panic!("loaded an empty dir")
        };
        assert!(matches!(&error, PolicyError::NoPolicies { dir: found } if found == dir.path()));
        assert_eq!(
            error.to_string(),
            format!("policy error: no .rego files in {}", dir.path().display())
        );
    }

    #[test]
    fn missing_dir_is_a_read_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope");
        let error = PolicyEngine::load(&missing, &config()).expect_err("no dir");
        assert!(matches!(&error, PolicyError::Read { path, .. } if *path == missing));
    }

    #[test]
    fn run_tests_reports_failures() {
        let (dir, engine) = temp_policies(&[(
            "p_test.rego",
            "package steward\n\
             # test_ghost is only mentioned in a comment\n\
             test_passes if true\n\
             test_fails if false\n\
             test_undefined if input.never\n\
             test_errors if 1 / count([]) == 1\n\
             test_not_boolean := 5\n\
             helper_not_a_test := false\n",
        )]);
        let path = dir.path().join("p_test.rego").display().to_string();
        let result = |name: &str, passed, error: Option<String>| PolicyTestResult {
            name: format!("data.steward.{name}"),
            passed,
            error,
        };
        assert_eq!(
            engine.expect("loads").run_tests(),
            vec![
                result("test_passes", true, None),
                result("test_fails", false, None),
                result("test_undefined", false, None),
                result(
                    "test_errors",
                    false,
                    Some(format!("{path}:6:18: divide by zero"))
                ),
                result(
                    "test_not_boolean",
                    false,
                    Some("evaluated to 5, not true".to_string())
                ),
            ]
        );
    }

    #[test]
    fn engine_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<PolicyEngine>();
    }
}
