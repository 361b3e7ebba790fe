//! The diagnosis prompts in `prompts/` (Markdown + minijinja), rendered for the agent loop and
//! served as the MCP prompt `diagnose_anomaly`.

const SYSTEM_PROMPT: &str = include_str!("../../prompts/diagnose_system.md");
const REPORT_FORMAT: &str = include_str!("../../prompts/diagnose_report.md");

/// The diagnosis system prompt for one anomaly.
pub fn diagnosis_system(
    table: &str,
    description: &str,
    upstream: &[String],
    max_steps: u32,
    as_of: Option<&str>,
) -> Result<String, String> {
    let env = minijinja::Environment::new();
    env.render_str(
        SYSTEM_PROMPT,
        minijinja::context! {
            table => table,
            description => description,
            upstream => upstream,
            max_steps => max_steps,
            as_of => as_of,
            report_format => REPORT_FORMAT,
        },
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_anomaly_lineage_and_rules() {
        let text = diagnosis_system(
            "gold.orders",
            "volume dropped 60%",
            &["raw.payments".into(), "raw.events".into()],
            7,
            Some("2026-11-30"),
        )
        .unwrap();
        assert!(text.contains("- Table: `gold.orders`\n- Reported: volume dropped 60%\n"));
        assert!(text.contains("(lineage): `raw.payments`, `raw.events`\n"));
        assert!(text.contains("at most 7 tool rounds"));
        assert!(text.contains("- Evaluate as of: 2026-11-30 (pass it as `as_of` to run_checks)\n"));
        assert!(text.contains("### Likely root cause"));
        assert!(text.contains("Never invent numbers"));
    }
}
