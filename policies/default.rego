# Steward's default policy: for every tool call, decide allow, require_approval or deny.
#
# Input: principal, tool, annotations, action (typed facts from the tool), environment,
# channel (see src/policy.rs). Configuration: data.steward.config =
# {"protected_schemas": [...], "default_approver_group": "..."}.
#
# Precedence is explicit and conflict-free: `decision` is one else-chain, tried top to bottom:
#   1. deny                     (privilege changes, unknown tools, malformed actions)
#   2. two-person approval      (DROP / TRUNCATE touching a protected schema)
#   3. one approval             (every other write or DDL through execute_statement)
#   4. allow                    (read-only tools and the diagnosis orchestrator; never a
#                                destructive call)
#   otherwise the default: deny.
# Each level yields at most one reason (single values and else-chains, never sets), so no two
# rules can produce conflicting decisions.
package steward

# Fail closed: a call that no rule below decides is denied.
default decision := {
	"effect": "deny",
	"reason": "no rule matched this call",
	"approvers": [],
	"min_approvals": 0,
	"ttl_seconds": 0,
	"independent_approvers": false,
}

decision := deny(reason) if {
	reason := deny_reason
} else := two_person_approval(reason) if {
	reason := two_person_reason
} else := approval(reason) if {
	reason := approval_reason
} else := allow(reason) if {
	reason := allow_reason
}

# ---------------------------------------------------------------------------------------
# Tools and statement kinds

# Every tool Steward exposes. A tool that is not read-only and not listed here is denied,
# so a new write tool cannot slip through before someone writes policy for it.
known_tools := {
	"list_tables",
	"describe_table",
	"query_warehouse",
	"approval_status",
	"execute_statement",
	"run_checks",
	"profile_column",
	"compare_distributions",
	"diagnose_anomaly",
	"retrieve",
	"answer",
}

# Tools that change nothing themselves but start work whose every tool call is decided by this
# policy again (the diagnosis agent's steps): allowed to start.
orchestrators := {"diagnose_anomaly"}

# Privileges and roles are managed outside Steward, whatever statement would change them.
privilege_kinds := {"GRANT", "REVOKE"}

role_prefixes := {
	"CREATE ROLE", "ALTER ROLE", "DROP ROLE",
	"CREATE USER", "ALTER USER", "DROP USER",
	"CREATE GROUP", "ALTER GROUP", "DROP GROUP",
	"ALTER DEFAULT",
}

# Writes and DDL that execute_statement may run once approved. CREATE/ALTER/DROP/COMMENT
# come in many shapes ("CREATE TABLE AS", "DROP SCHEMA", "COMMENT ON"), so match prefixes.
# Kinds outside these (CALL, COPY, VACUUM, LOCK, ...) are denied until a rule names them.
write_kinds := {"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE"}

ddl_prefixes := {"CREATE", "ALTER", "DROP", "COMMENT"}

kind := input.action.statement_kind

is_statement := input.tool == "execute_statement"

is_privilege_change if kind in privilege_kinds

is_privilege_change if {
	some prefix in role_prefixes
	startswith(kind, prefix)
}

is_write if kind in write_kinds

is_write if {
	some prefix in ddl_prefixes
	startswith(kind, prefix)
}

# Removing data or objects: where the two-person rule applies in protected schemas.
is_removal if startswith(kind, "DROP")

is_removal if kind == "TRUNCATE"

# Read-only tools are allowed; a contradictory "read-only but destructive" tool is not.
is_read_only if {
	input.annotations.read_only == true
	not input.annotations.destructive == true
}

# ---------------------------------------------------------------------------------------
# Schemas

tables := object.get(input.action, "tables", [])

schemas := object.get(input.action, "schemas", [])

# The schema of "schema.table" (or "catalog.schema.table") is the part before the table.
table_schema(table) := parts[count(parts) - 2] if {
	parts := split(table, ".")
	count(parts) >= 2
}

# Compare case-insensitively: a protected schema must not escape by being spelled GOLD.
protected := {lower(s) | some s in data.steward.config.protected_schemas}

touched_schemas := {lower(table_schema(t)) | some t in tables} | {lower(s) | some s in schemas}

protected_touched := touched_schemas & protected

# A bare "orders" could resolve to any schema, protected or not: such statements are denied.
unqualified_tables := {t | some t in tables; not table_schema(t)}

# "DELETE on gold.orders" for reasons: the kind and the tables, else the schemas it names.
subject := sprintf("%s on %s", [kind, concat(", ", tables)]) if {
	count(tables) > 0
} else := sprintf("%s on %s", [kind, concat(", ", schemas)]) if {
	count(schemas) > 0
} else := kind

approver_group := sprintf("group:%s", [data.steward.config.default_approver_group])

# ---------------------------------------------------------------------------------------
# Level 1: deny

deny_reason := "privilege changes are not made through Steward" if {
	is_statement
	is_privilege_change
} else := "ownership changes (OWNER TO) are privilege changes and are not made through Steward" if {
	is_statement
	object.get(input.action, "changes_owner", false) == true
} else := sprintf("unknown tool %s", [input.tool]) if {
	not input.tool in known_tools
	not is_read_only
} else := "execute_statement needs action.statement_kind" if {
	is_statement
	not is_string(kind)
} else := sprintf("tables must be schema-qualified: %s", [concat(", ", sort(unqualified_tables))]) if {
	is_statement
	count(unqualified_tables) > 0
} else := sprintf("execute_statement does not run %s statements", [kind]) if {
	is_statement
	not is_write
}

# ---------------------------------------------------------------------------------------
# Level 2: two approvers, neither of them the person the agent acts for

two_person_reason := sprintf("%s in protected schema %s needs two approvers", [subject, names]) if {
	is_statement
	is_removal
	count(protected_touched) > 0
	names := concat(", ", sort(protected_touched))
} else := sprintf("%s with CASCADE can reach objects in any schema and needs two approvers", [subject]) if {
	is_statement
	object.get(input.action, "cascade", false) == true
} else := sprintf("%s renames or alters protected schema %s and needs two approvers", [subject, names]) if {
	is_statement
	startswith(kind, "ALTER SCHEMA")
	count(protected_touched) > 0
	names := concat(", ", sort(protected_touched))
}

# ---------------------------------------------------------------------------------------
# Level 3: one approver from the default group. Every statement, human or agent, lands here
# at least: nothing below allows a write.

approval_reason := sprintf("%s needs approval from %s", [subject, approver_group]) if {
	is_statement
	is_write
}

# ---------------------------------------------------------------------------------------
# Level 4: allow

allow_reason := "read-only tool" if {
	is_read_only
} else := "starts a diagnosis whose tool calls are each decided by policy" if {
	input.tool in orchestrators
	not input.annotations.destructive == true
}

# ---------------------------------------------------------------------------------------
# Decision documents: every decision carries every field.

deny(reason) := {
	"effect": "deny",
	"reason": reason,
	"approvers": [],
	"min_approvals": 0,
	"ttl_seconds": 0,
	"independent_approvers": false,
}

allow(reason) := {
	"effect": "allow",
	"reason": reason,
	"approvers": [],
	"min_approvals": 0,
	"ttl_seconds": 0,
	"independent_approvers": false,
}

approval(reason) := {
	"effect": "require_approval",
	"reason": reason,
	"approvers": [approver_group],
	"min_approvals": 1,
	"ttl_seconds": 3600,
	"independent_approvers": false,
}

two_person_approval(reason) := {
	"effect": "require_approval",
	"reason": reason,
	"approvers": [approver_group],
	"min_approvals": 2,
	"ttl_seconds": 3600,
	"independent_approvers": true,
}
