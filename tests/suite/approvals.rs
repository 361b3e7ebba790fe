//! The approval gate end to end on real Postgres: policy decides, people approve through the
//! pipeline, approved actions run exactly once and only as approved, and every refusal leaves
//! the warehouse unchanged.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use steward::app::App;
use steward::approvals::ApprovalError;
use steward::pipeline::{CallError, Caller, Outcome, PendingApproval};
use steward::principal::{Channel, Principal};

use crate::common::TestDb;

const DELETE_CANCELLED: &str = "DELETE FROM gold.orders WHERE status = 'cancelled'";

fn oncall(id: &str) -> Principal {
    Principal::human(id, vec!["data-oncall".into()])
}

fn cli(principal: Principal) -> Caller {
    Caller::new(principal, Channel::Cli)
}

fn agent_for(human: &Principal) -> Caller {
    Caller::new(
        Principal::agent_for("mcp:claude-code", human),
        Channel::McpStdio,
    )
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&db.pool().await)
        .await
        .unwrap()
}

async fn pending(app: &App, caller: &Caller, sql: &str) -> PendingApproval {
    match app
        .pipeline
        .call(caller, "execute_statement", json!({ "sql": sql }))
        .await
        .unwrap()
    {
        Outcome::PendingApproval(p) => p,
        other => panic!("expected pending approval, got {other:?}"),
    }
}

async fn completed(app: &App, caller: &Caller, tool: &str, args: Value) -> Value {
    match app.pipeline.call(caller, tool, args).await.unwrap() {
        Outcome::Completed(v) => v,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn approval_error(error: CallError) -> ApprovalError {
    match error {
        CallError::Approval(e) => e,
        other => panic!("expected an approval error, got {other:?}"),
    }
}

#[tokio::test]
async fn approved_delete_runs_exactly_once() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = cli(oncall("alice"));
    let cancelled = count(
        &db,
        "SELECT count(*) FROM gold.orders WHERE status = 'cancelled'",
    )
    .await;
    assert!(cancelled > 0);

    let request = pending(&app, &alice, DELETE_CANCELLED).await;
    assert_eq!(request.status, "pending_approval");
    assert_eq!(request.approvers, vec!["group:data-oncall"]);
    assert_eq!((request.min_approvals, request.approvals_given), (1, 0));
    // Asking again does not open a second request.
    assert_eq!(
        pending(&app, &alice, DELETE_CANCELLED).await.approval_id,
        request.approval_id
    );

    let stored = app
        .pipeline
        .approvals()
        .get(&request.approval_id)
        .await
        .unwrap();
    assert_eq!(stored.action["statement_kind"], "DELETE");
    assert_eq!(stored.action["tables"], json!(["gold.orders"]));
    assert_eq!(
        stored.action["rows_estimate"].as_i64().map(|r| r > 0),
        Some(true)
    );

    let decided = app
        .pipeline
        .vote(
            &request.approval_id,
            &oncall("bob"),
            true,
            Some("checked"),
            "cli",
        )
        .await
        .unwrap();
    assert_eq!(decided.state, "approved");

    let out = completed(
        &app,
        &alice,
        "execute_statement",
        json!({ "sql": DELETE_CANCELLED }),
    )
    .await;
    assert_eq!(
        out,
        json!({"statement_kind": "DELETE", "tables": ["gold.orders"], "rows_affected": cancelled})
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM gold.orders WHERE status = 'cancelled'"
        )
        .await,
        0
    );

    // Replaying the executed approval is refused.
    let replay = app
        .pipeline
        .execute_approved(
            &alice,
            &request.approval_id,
            "execute_statement",
            json!({ "sql": DELETE_CANCELLED }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        approval_error(replay),
        ApprovalError::NotApproved {
            id: request.approval_id.clone(),
            state: "executed".into()
        }
    );
    assert_eq!(
        app.pipeline
            .approvals()
            .get(&request.approval_id)
            .await
            .unwrap()
            .state,
        "executed"
    );
}

#[tokio::test]
async fn changed_arguments_or_caller_do_not_match_the_approval() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = cli(oncall("alice"));
    let before = db.fingerprint().await;
    let request = pending(&app, &alice, DELETE_CANCELLED).await;
    app.pipeline
        .vote(&request.approval_id, &oncall("bob"), true, None, "cli")
        .await
        .unwrap();
    let one_byte_changed = "DELETE FROM gold.orders WHERE status = 'cancelleD'";
    let tampered = app
        .pipeline
        .execute_approved(
            &alice,
            &request.approval_id,
            "execute_statement",
            json!({ "sql": one_byte_changed }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        approval_error(tampered),
        ApprovalError::ActionMismatch {
            id: request.approval_id.clone()
        }
    );
    let other_caller = app
        .pipeline
        .execute_approved(
            &cli(oncall("mallory")),
            &request.approval_id,
            "execute_statement",
            json!({ "sql": DELETE_CANCELLED }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        approval_error(other_caller),
        ApprovalError::ActionMismatch {
            id: request.approval_id.clone()
        }
    );
    assert_eq!(db.fingerprint().await, before);
    assert_eq!(
        app.pipeline
            .approvals()
            .get(&request.approval_id)
            .await
            .unwrap()
            .state,
        "approved"
    );
}

#[tokio::test]
async fn approver_rules_are_enforced() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let before = db.fingerprint().await;
    let alice = oncall("alice");
    let request = pending(&app, &cli(alice.clone()), DELETE_CANCELLED).await;
    let id = request.approval_id.clone();
    let vote = |who: Principal| {
        let pipeline = app.pipeline.clone();
        let id = id.clone();
        async move {
            pipeline
                .vote(&id, &who, true, None, "cli")
                .await
                .map_err(approval_error)
        }
    };
    assert_eq!(
        vote(alice.clone()).await.unwrap_err(),
        ApprovalError::SelfApproval {
            id: id.clone(),
            approver: "alice".into()
        }
    );
    assert_eq!(
        vote(Principal::human("eve", vec!["analysts".into()]))
            .await
            .unwrap_err(),
        ApprovalError::NotAnApprover {
            id: id.clone(),
            approver: "eve".into(),
            allowed: vec!["group:data-oncall".into()]
        }
    );
    assert_eq!(
        app.pipeline
            .vote("apr_missing", &oncall("bob"), true, None, "cli")
            .await
            .map_err(approval_error)
            .unwrap_err(),
        ApprovalError::NotFound("apr_missing".into())
    );
    // A deny decides; approving afterwards is refused.
    let denied = app
        .pipeline
        .vote(
            &id,
            &oncall("bob"),
            false,
            Some("not during business hours"),
            "cli",
        )
        .await
        .unwrap();
    assert_eq!(denied.state, "denied");
    assert_eq!(
        vote(oncall("carol")).await.unwrap_err(),
        ApprovalError::NotPending {
            id: id.clone(),
            state: "denied".into(),
            verb: "approved"
        }
    );
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn the_human_an_agent_acts_for_may_approve() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = oncall("alice");
    let agent = agent_for(&alice);
    let request = pending(
        &app,
        &agent,
        "UPDATE gold.orders SET items = items + 1 WHERE order_id = 1",
    )
    .await;
    // The agent itself cannot approve what it asked for.
    let agent_vote = app
        .pipeline
        .vote(&request.approval_id, &agent.principal, true, None, "cli")
        .await
        .unwrap_err();
    assert_eq!(
        approval_error(agent_vote),
        ApprovalError::SelfApproval {
            id: request.approval_id.clone(),
            approver: "mcp:claude-code".into()
        }
    );
    let decided = app
        .pipeline
        .vote(&request.approval_id, &alice, true, None, "mcp-elicitation")
        .await
        .unwrap();
    assert_eq!(decided.state, "approved");
    let out = completed(
        &app,
        &agent,
        "execute_statement",
        json!({"sql": "UPDATE gold.orders SET items = items + 1 WHERE order_id = 1"}),
    )
    .await;
    assert_eq!(out["rows_affected"], 1);
}

#[tokio::test]
async fn protected_schema_drop_needs_two_independent_approvers() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = oncall("alice");
    let agent = agent_for(&alice);
    let drop = "DROP TABLE gold.customer_features";
    let request = pending(&app, &agent, drop).await;
    assert_eq!(request.min_approvals, 2);
    let id = request.approval_id.clone();
    assert_eq!(
        approval_error(
            app.pipeline
                .vote(&id, &alice, true, None, "cli")
                .await
                .unwrap_err()
        ),
        ApprovalError::NotIndependent {
            id: id.clone(),
            approver: "alice".into()
        }
    );
    let first = app
        .pipeline
        .vote(&id, &oncall("bob"), true, None, "cli")
        .await
        .unwrap();
    assert_eq!(
        (first.state.as_str(), first.approvals_given()),
        ("pending", 1)
    );
    assert_eq!(
        approval_error(
            app.pipeline
                .vote(&id, &oncall("bob"), true, None, "cli")
                .await
                .unwrap_err()
        ),
        ApprovalError::AlreadyVoted {
            id: id.clone(),
            approver: "bob".into()
        }
    );
    // Not approved yet: calling again stays pending and nothing is dropped.
    assert_eq!(pending(&app, &agent, drop).await.approval_id, id);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'customer_features'"
        )
        .await,
        1
    );
    let second = app
        .pipeline
        .vote(&id, &oncall("carol"), true, None, "cli")
        .await
        .unwrap();
    assert_eq!(second.state, "approved");
    completed(&app, &agent, "execute_statement", json!({ "sql": drop })).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'customer_features'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn expired_requests_cannot_be_approved_or_run() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let before = db.fingerprint().await;
    let alice = cli(oncall("alice"));
    let request = pending(&app, &alice, DELETE_CANCELLED).await;
    sqlx::query(
        "UPDATE steward.approvals SET expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(&request.approval_id)
    .execute(&app.storage)
    .await
    .unwrap();
    let err = app
        .pipeline
        .vote(&request.approval_id, &oncall("bob"), true, None, "cli")
        .await
        .map_err(approval_error)
        .unwrap_err();
    assert!(
        matches!(&err, ApprovalError::Expired { id, .. } if *id == request.approval_id),
        "{err:?}"
    );
    assert_eq!(
        app.pipeline
            .approvals()
            .get(&request.approval_id)
            .await
            .unwrap()
            .state,
        "expired"
    );
    // A new call opens a fresh request instead of reviving the expired one.
    assert_ne!(
        pending(&app, &alice, DELETE_CANCELLED).await.approval_id,
        request.approval_id
    );
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn pending_approval_survives_a_restart_and_runs_once() {
    let db = TestDb::new().await;
    let alice = cli(oncall("alice"));
    let first = App::start(db.config()).await.unwrap();
    let request = pending(&first, &alice, DELETE_CANCELLED).await;
    drop(first);

    let second = App::start(db.config()).await.unwrap();
    second
        .pipeline
        .vote(&request.approval_id, &oncall("bob"), true, None, "cli")
        .await
        .unwrap();
    drop(second);

    let third = App::start(db.config()).await.unwrap();
    let out = completed(
        &third,
        &alice,
        "execute_statement",
        json!({ "sql": DELETE_CANCELLED }),
    )
    .await;
    assert!(out["rows_affected"].as_i64().unwrap() > 0);
    // Same call again: the approval is used up, so it asks for a new one.
    let again = pending(&third, &alice, DELETE_CANCELLED).await;
    assert_ne!(again.approval_id, request.approval_id);
}

#[tokio::test]
async fn reads_run_denials_and_unknown_tools_are_refused_and_everything_is_audited() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let before = db.fingerprint().await;
    let agent = agent_for(&oncall("alice"));
    let out = completed(
        &app,
        &agent,
        "query_warehouse",
        json!({"sql": "select 1 as one"}),
    )
    .await;
    assert_eq!(out["rows"], json!([[1]]));
    let grant = app
        .pipeline
        .call(
            &agent,
            "execute_statement",
            json!({"sql": "GRANT ALL ON gold.orders TO public"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&grant, CallError::Denied { reason } if reason.contains("privilege")),
        "{grant:?}"
    );
    let unknown = app
        .pipeline
        .call(&agent, "drop_everything", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown tool \"drop_everything\"; available tools: list_tables, describe_table, \
         query_warehouse, execute_statement, approval_status, run_checks, profile_column, \
         compare_distributions, retrieve, answer, diagnose_anomaly"
    );
    let read_only = app
        .pipeline
        .call(&agent, "execute_statement", json!({"sql": "SELECT 1"}))
        .await
        .unwrap_err();
    assert_eq!(
        read_only.to_string(),
        "refused: this statement is read-only; use query_warehouse"
    );
    assert_eq!(db.fingerprint().await, before);

    let rows = app.pipeline.audit().tail(10).await.unwrap();
    let outcomes: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.event.event.clone(),
                r.event.tool.clone(),
                r.event.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("tool_call".into(), "query_warehouse".into(), "ok".into()),
            (
                "tool_call".into(),
                "execute_statement".into(),
                "denied".into()
            ),
            (
                "tool_call".into(),
                "drop_everything".into(),
                "unknown_tool".into()
            ),
            (
                "tool_call".into(),
                "execute_statement".into(),
                "refused".into()
            ),
        ]
    );
    assert_eq!(rows[0].event.principal, "mcp:claude-code");
    assert_eq!(rows[0].event.on_behalf_of.as_deref(), Some("alice"));
    assert_eq!(rows[1].event.decision.as_ref().unwrap()["effect"], "deny");
}

#[tokio::test]
async fn a_broken_policy_stops_the_server_from_starting() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.rego"),
        "package steward\n\ndecision := {\n",
    )
    .unwrap();
    let mut config = db.config();
    config.policy.dir = Some(dir.path().to_path_buf());
    let err = match App::start(config).await {
        Ok(_) => panic!("a broken policy must stop the start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("broken.rego"), "{err}");
    assert!(
        err.contains(":3") || err.contains("line 3") || err.contains(":4"),
        "{err}"
    );
}

/// What the pipeline did with one call, for the scenario table.
#[derive(Debug, PartialEq)]
enum Seen {
    Ran,
    Pending { min_approvals: i32 },
    Denied,
}

#[tokio::test]
async fn scenario_table_against_the_real_warehouse() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let before = db.fingerprint().await;
    let human = cli(oncall("alice"));
    let agent = agent_for(&oncall("alice"));
    let sql = |s: &str| json!({ "sql": s });
    let cases: Vec<(&str, &Caller, &str, Value, Seen)> = vec![
        (
            "read, human",
            &human,
            "query_warehouse",
            sql("SELECT count(*) FROM gold.orders"),
            Seen::Ran,
        ),
        (
            "read, agent",
            &agent,
            "query_warehouse",
            sql("SELECT count(*) FROM gold.orders"),
            Seen::Ran,
        ),
        (
            "list, agent",
            &agent,
            "list_tables",
            json!({"schema": "gold"}),
            Seen::Ran,
        ),
        (
            "insert, human",
            &human,
            "execute_statement",
            sql("INSERT INTO gold.orders (order_id) VALUES (-1)"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "update, agent",
            &agent,
            "execute_statement",
            sql("UPDATE gold.orders SET items = 0"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "delete, agent",
            &agent,
            "execute_statement",
            sql("DELETE FROM gold.orders"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "create table, human",
            &human,
            "execute_statement",
            sql("CREATE TABLE public.scratch (id int)"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "alter table, agent",
            &agent,
            "execute_statement",
            sql("ALTER TABLE gold.orders ADD COLUMN note text"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "drop unprotected, agent",
            &agent,
            "execute_statement",
            sql("DROP TABLE public.nothing_here"),
            Seen::Pending { min_approvals: 1 },
        ),
        (
            "drop protected, human",
            &human,
            "execute_statement",
            sql("DROP TABLE gold.orders"),
            Seen::Pending { min_approvals: 2 },
        ),
        (
            "truncate protected, agent",
            &agent,
            "execute_statement",
            sql("TRUNCATE gold.customers CASCADE"),
            Seen::Pending { min_approvals: 2 },
        ),
        (
            "owner change, human",
            &human,
            "execute_statement",
            sql("ALTER TABLE gold.orders OWNER TO postgres"),
            Seen::Denied,
        ),
        (
            "cascade, agent",
            &agent,
            "execute_statement",
            sql("DROP TABLE public.nothing_here CASCADE"),
            Seen::Pending { min_approvals: 2 },
        ),
        (
            "alter protected schema, agent",
            &agent,
            "execute_statement",
            sql("ALTER SCHEMA gold RENAME TO silver"),
            Seen::Pending { min_approvals: 2 },
        ),
        (
            "grant, human",
            &human,
            "execute_statement",
            sql("GRANT SELECT ON gold.orders TO public"),
            Seen::Denied,
        ),
        (
            "create role, agent",
            &agent,
            "execute_statement",
            sql("CREATE ROLE intruder"),
            Seen::Denied,
        ),
    ];
    let mut seen = Vec::new();
    for (label, caller, tool, args, _) in &cases {
        let outcome = match app.pipeline.call(caller, tool, args.clone()).await {
            Ok(Outcome::Completed(_)) => Seen::Ran,
            Ok(Outcome::PendingApproval(p)) => Seen::Pending {
                min_approvals: p.min_approvals,
            },
            Err(CallError::Denied { .. }) => Seen::Denied,
            Err(other) => panic!("{label}: unexpected {other}"),
        };
        seen.push((*label, outcome));
    }
    let expected: Vec<(&str, Seen)> = cases
        .into_iter()
        .map(|(label, _, _, _, want)| (label, want))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        db.fingerprint().await,
        before,
        "nothing ran without approval"
    );
}

/// A policy whose decision lacks fields fails closed: the write is denied with the reason, and
/// nothing reaches the warehouse.
#[tokio::test]
async fn a_malformed_decision_denies_and_changes_nothing() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sloppy.rego"),
        "package steward\n\ndecision := {\"effect\": \"require_approval\", \"reason\": \"check\"}\n",
    )
    .unwrap();
    let mut config = db.config();
    config.policy.dir = Some(dir.path().to_path_buf());
    let app = App::start(config).await.unwrap();
    let before = db.fingerprint().await;
    let err = app
        .pipeline
        .call(
            &cli(oncall("alice")),
            "execute_statement",
            json!({ "sql": DELETE_CANCELLED }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "denied by policy: policy error: require_approval decision has no approvers"
    );
    assert_eq!(db.fingerprint().await, before);
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM steward.approvals")
        .fetch_one(&app.storage)
        .await
        .unwrap();
    assert_eq!(open, 0);
}

/// A tool that cannot say what it would do is denied before it runs.
#[tokio::test]
async fn a_tool_without_a_description_is_denied() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use steward::approvals::Approvals;
    use steward::audit::AuditLedger;
    use steward::pipeline::Pipeline;
    use steward_tools::{Annotations, CallContext, Tool, ToolError, ToolSpec};

    struct Mute {
        spec: ToolSpec,
        ran: Arc<AtomicBool>,
    }

    #[async_trait::async_trait]
    impl Tool for Mute {
        fn spec(&self) -> &ToolSpec {
            &self.spec
        }
        async fn describe(&self, _: &CallContext, _: &Value) -> Result<Option<Value>, ToolError> {
            Ok(None)
        }
        async fn call(&self, _: &CallContext, _: Value) -> Result<Value, ToolError> {
            self.ran.store(true, Ordering::SeqCst);
            Ok(json!({}))
        }
    }

    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let mute = Mute {
        spec: ToolSpec {
            name: "list_tables",
            title: "mute",
            description: "says nothing about itself",
            input_schema: Default::default(),
            output_schema: Default::default(),
            annotations: Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
        },
        ran: ran.clone(),
    };
    let pipeline = Pipeline::new(
        vec![Arc::new(mute)],
        steward::app::load_policies(&app.config).unwrap(),
        Approvals::new(app.storage.clone()),
        AuditLedger::new(app.storage.clone()),
        "test".into(),
    );
    let err = pipeline
        .call(&cli(oncall("alice")), "list_tables", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "denied by policy: tool list_tables does not describe its action"
    );
    assert!(!ran.load(Ordering::SeqCst));
}

/// What review found, kept found: each way to make the approved facts differ from what runs
/// is refused before an approval is even asked for.
#[tokio::test]
async fn statements_whose_effect_differs_from_their_text_are_refused() {
    let db = TestDb::new().await;
    sqlx::raw_sql(
        "CREATE TABLE public.junk (id int);
         CREATE RULE junk_also AS ON DELETE TO public.junk DO ALSO DELETE FROM gold.orders;",
    )
    .execute(&db.pool().await)
    .await
    .unwrap();
    let app = App::start(db.config()).await.unwrap();
    let before = db.fingerprint().await;
    let alice = cli(oncall("alice"));
    let refusal = |sql: &'static str| {
        let pipeline = app.pipeline.clone();
        let alice = alice.clone();
        async move {
            pipeline
                .call(&alice, "execute_statement", json!({ "sql": sql }))
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert_eq!(
        refusal("WITH a AS (SELECT 2 >--'\n+1), d AS (DELETE FROM gold.orders RETURNING 1), e AS (SELECT 2 >--'\n+1) DELETE FROM public.junk").await,
        "refused: operator `>--` is read differently by the database (`--` and `/*` start comments there); put a space before them"
    );
    assert_eq!(
        refusal("DELETE FROM public.junk").await,
        "refused: the database would also modify gold.orders, which this statement's text does not name as a target"
    );
    assert_eq!(
        refusal("DROP TABLE junk").await,
        "refused: invalid table name \"junk\": name its schema (e.g. public.junk); unqualified names \
         resolve through search_path, which can change between approval and execution"
    );
    let internal = "refused: schema steward belongs to the database system or to Steward itself \
                    (approvals, audit ledger) and is never changed through execute_statement";
    assert_eq!(refusal("TRUNCATE steward.audit_ledger").await, internal);
    assert_eq!(
        refusal("UPDATE steward.approvals SET state = 'approved'").await,
        internal
    );
    assert_eq!(db.fingerprint().await, before);
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM steward.approvals")
        .fetch_one(&app.storage)
        .await
        .unwrap();
    assert_eq!(requests, 0, "nothing was put up for approval");
}

/// Identical calls at the same moment share one request: one approval, one run.
#[tokio::test]
async fn concurrent_identical_calls_share_one_request() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = cli(oncall("alice"));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let pipeline = app.pipeline.clone();
            let alice = alice.clone();
            tokio::spawn(async move {
                match pipeline
                    .call(
                        &alice,
                        "execute_statement",
                        json!({ "sql": DELETE_CANCELLED }),
                    )
                    .await
                    .unwrap()
                {
                    Outcome::PendingApproval(p) => p.approval_id,
                    other => panic!("expected pending, got {other:?}"),
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// Secrets in statements never reach the ledger in clear, even when the call is denied.
#[tokio::test]
async fn password_literals_are_redacted_in_the_ledger() {
    let db = TestDb::new().await;
    let app = App::start(db.config()).await.unwrap();
    let alice = cli(oncall("alice"));
    let denied = app
        .pipeline
        .call(
            &alice,
            "execute_statement",
            json!({"sql": "ALTER ROLE postgres PASSWORD 'hunter2'"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(denied, CallError::Denied { .. }), "{denied:?}");
    let rows = app.pipeline.audit().tail(1).await.unwrap();
    assert_eq!(
        rows[0].event.arguments,
        json!({"sql": "ALTER ROLE postgres PASSWORD '[REDACTED]'"})
    );
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM steward.audit_ledger a WHERE a::text LIKE '%hunter2%'",
    )
    .fetch_one(&app.storage)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
}
