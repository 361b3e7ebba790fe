# Tests for default.rego; `steward policy test` (PolicyEngine::run_tests) runs every test_* rule.
# Each test pins the configuration it needs, so it does not depend on the server's config.
package steward

fixture_config := {"protected_schemas": ["gold"], "default_approver_group": "data-oncall"}

human := {"id": "alice", "groups": ["data-oncall"], "kind": "human", "on_behalf_of": null}

agent := {"id": "steward-agent", "groups": [], "kind": "agent", "on_behalf_of": "alice"}

read_only := {"read_only": true, "destructive": false, "idempotent": true, "open_world": false}

destructive := {"read_only": false, "destructive": true, "idempotent": false, "open_world": false}

call(principal, tool, annotations, action) := {
	"principal": principal,
	"tool": tool,
	"annotations": annotations,
	"action": action,
	"environment": "dev",
	"channel": "mcp-stdio",
}

statement(principal, kind, tables, schemas) := call(
	principal,
	"execute_statement",
	destructive,
	{"statement_kind": kind, "tables": tables, "schemas": schemas, "rows_estimate": null},
)

decide(call_input) := d if {
	d := decision with input as call_input with data.steward.config as fixture_config
}

one_approval(reason) := {
	"effect": "require_approval",
	"reason": reason,
	"approvers": ["group:data-oncall"],
	"min_approvals": 1,
	"ttl_seconds": 3600,
	"independent_approvers": false,
}

test_reads_allowed if {
	every principal in [human, agent] {
		every tool in ["list_tables", "describe_table", "query_warehouse", "approval_status"] {
			decide(call(principal, tool, read_only, {})).effect == "allow"
		}
	}
	decide(call(agent, "query_warehouse", read_only, {"statement_kind": "SELECT"})).reason == "read-only tool"
}

test_delete_requires_data_oncall_approval if {
	decide(statement(human, "DELETE", ["public.events"], ["public"])) == one_approval("DELETE on public.events needs approval from group:data-oncall")
}

test_agent_delete_requires_approval if {
	d := decide(statement(agent, "DELETE", ["public.events"], ["public"]))
	d.effect == "require_approval"
	d.min_approvals == 1
}

test_writes_and_ddl_require_approval if {
	every kind in ["INSERT", "UPDATE", "MERGE", "CREATE TABLE", "CREATE TABLE AS", "CREATE INDEX", "ALTER TABLE", "DROP VIEW", "COMMENT ON"] {
		decide(statement(human, kind, ["public.t"], ["public"])).effect == "require_approval"
	}
}

test_drop_protected_table_needs_two_independent_approvers if {
	decide(statement(human, "DROP TABLE", ["gold.orders"], ["gold"])) == {
		"effect": "require_approval",
		"reason": "DROP TABLE on gold.orders in protected schema gold needs two approvers",
		"approvers": ["group:data-oncall"],
		"min_approvals": 2,
		"ttl_seconds": 3600,
		"independent_approvers": true,
	}
}

test_protected_schema_found_from_table_name_alone if {
	decide(statement(agent, "TRUNCATE", ["GOLD.orders"], [])).min_approvals == 2
}

test_drop_protected_schema_needs_two_approvers if {
	d := decide(statement(human, "DROP SCHEMA", [], ["gold"]))
	d.reason == "DROP SCHEMA on gold in protected schema gold needs two approvers"
	d.min_approvals == 2
	d.independent_approvers == true
}

test_truncate_unprotected_schema_needs_one_approver if {
	decide(statement(human, "TRUNCATE", ["public.tmp"], ["public"])) == one_approval("TRUNCATE on public.tmp needs approval from group:data-oncall")
}

test_delete_in_protected_schema_needs_one_approver if {
	decide(statement(human, "DELETE", ["gold.orders"], ["gold"])).min_approvals == 1
}

test_cascade_anywhere_needs_two_independent_approvers if {
	d := decide(call(human, "execute_statement", destructive, {
		"statement_kind": "DROP TYPE", "tables": [], "schemas": ["public"],
		"rows_estimate": null, "cascade": true,
	}))
	d.reason == "DROP TYPE on public with CASCADE can reach objects in any schema and needs two approvers"
	d.min_approvals == 2
	d.independent_approvers == true
}

test_altering_a_protected_schema_needs_two_approvers if {
	d := decide(statement(agent, "ALTER SCHEMA", [], ["gold"]))
	d.reason == "ALTER SCHEMA on gold renames or alters protected schema gold and needs two approvers"
	d.min_approvals == 2
}

test_owner_changes_denied if {
	d := decide(call(human, "execute_statement", destructive, {
		"statement_kind": "ALTER TABLE", "tables": ["public.t"], "schemas": ["public"],
		"rows_estimate": null, "changes_owner": true,
	}))
	d.effect == "deny"
	d.reason == "ownership changes (OWNER TO) are privilege changes and are not made through Steward"
}

test_grant_denied if {
	every kind in ["GRANT", "REVOKE", "CREATE ROLE", "ALTER USER", "DROP ROLE", "ALTER DEFAULT PRIVILEGES"] {
		d := decide(statement(human, kind, ["gold.orders"], ["gold"]))
		d.effect == "deny"
		d.reason == "privilege changes are not made through Steward"
	}
}

test_unknown_tool_denied if {
	d := decide(call(human, "drop_everything", destructive, {}))
	d.effect == "deny"
	d.reason == "unknown tool drop_everything"
	decide(call(agent, "mystery", {"read_only": false}, {})).effect == "deny"
}

test_diagnosis_may_start_but_not_as_a_destructive_tool if {
	d := decide(call(agent, "diagnose_anomaly", {"read_only": false, "destructive": false}, {"table": "gold.orders"}))
	d.effect == "allow"
	d.reason == "starts a diagnosis whose tool calls are each decided by policy"
	decide(call(agent, "diagnose_anomaly", destructive, {"table": "gold.orders"})).effect != "allow"
}

test_unqualified_table_denied if {
	decide(statement(human, "DROP TABLE", ["orders"], [])).reason == "tables must be schema-qualified: orders"
}

test_unknown_statement_kind_denied if {
	decide(statement(human, "VACUUM", ["public.t"], ["public"])).effect == "deny"
	decide(statement(human, "CALL", [], [])).reason == "execute_statement does not run CALL statements"
}

test_reason_without_named_objects_is_just_the_kind if {
	decide(statement(human, "CREATE FUNCTION", [], [])) == one_approval("CREATE FUNCTION needs approval from group:data-oncall")
	decide(statement(human, "SELECT", ["public.t"], ["public"])).effect == "deny"
	decide(call(human, "execute_statement", destructive, {})).reason == "execute_statement needs action.statement_kind"
}

test_destructive_never_allowed_even_if_marked_read_only if {
	decide(call(agent, "list_tables", {"read_only": true, "destructive": true}, {})).effect == "deny"
}

test_default_is_deny if {
	decide({}).reason == "no rule matched this call"
}

test_decision_always_has_all_fields if {
	inputs := [
		call(human, "list_tables", read_only, {}),
		statement(agent, "DELETE", ["public.events"], ["public"]),
		statement(human, "DROP TABLE", ["gold.orders"], ["gold"]),
		statement(human, "GRANT", ["gold.orders"], ["gold"]),
		call(human, "drop_everything", destructive, {}),
		{},
	]
	fields := {"effect", "reason", "approvers", "min_approvals", "ttl_seconds", "independent_approvers"}
	every call_input in inputs {
		d := decide(call_input)
		{k | some k, _ in d} == fields
		is_string(d.reason)
		is_array(d.approvers)
		is_number(d.min_approvals)
		is_number(d.ttl_seconds)
		is_boolean(d.independent_approvers)
	}
}
