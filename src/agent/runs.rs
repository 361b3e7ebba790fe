//! Persistence of diagnosis runs: the run row (transcript, usage, cost, state, report) saved
//! after every model turn, and one row per tool step keyed by its tool_use id, so a resumed run
//! reuses finished steps and never repeats a side effect.

use rand::Rng;
use serde_json::Value;
use sqlx::PgPool;

use super::claude::{InputMessage, Usage};
use crate::principal::Principal;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    WaitingApproval,
    Completed,
    BudgetExhausted,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::WaitingApproval => "waiting_approval",
            Self::Completed => "completed",
            Self::BudgetExhausted => "budget_exhausted",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "waiting_approval" => Self::WaitingApproval,
            "completed" => Self::Completed,
            "budget_exhausted" => Self::BudgetExhausted,
            "failed" => Self::Failed,
            _ => Self::Running,
        }
    }

    /// A run in this state will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::BudgetExhausted | Self::Failed)
    }
}

/// A run as stored.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub table: String,
    pub description: String,
    pub principal: String,
    pub groups: Vec<String>,
    pub state: RunState,
    /// "claude" or "runbook".
    pub path: String,
    pub path_note: Option<String>,
    pub model: Option<String>,
    pub messages: Vec<InputMessage>,
    pub usage: Usage,
    pub cost_usd: f64,
    pub steps: i32,
    pub attempts: Vec<Value>,
    pub report: Option<Value>,
    /// The instant checks are evaluated at (RFC 3339); now when absent.
    pub as_of: Option<String>,
}

/// One tool step as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: String,
    pub approval_id: Option<String>,
    pub result: Option<String>,
    pub is_error: Option<bool>,
}

/// A step with what the report needs.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub step: i32,
    pub tool: String,
    pub input: Value,
    pub state: String,
    pub decision: Option<String>,
    pub approval_id: Option<String>,
    pub result: Option<String>,
    pub is_error: Option<bool>,
}

type StepStateRow = (String, Option<String>, Option<String>, Option<bool>);

type StepRow = (
    i32,
    String,
    sqlx::types::Json<Value>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no diagnosis run {0:?}; list runs with `steward diagnose --list`")]
    NotFound(String),
    #[error("storage error: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("stored run is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct RunStore {
    pool: PgPool,
}

type RunRow = (
    String,
    String,
    String,
    String,
    Vec<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    sqlx::types::Json<Value>,
    sqlx::types::Json<Value>,
    f64,
    i32,
    sqlx::types::Json<Value>,
    Option<sqlx::types::Json<Value>>,
    Option<String>,
);

impl RunStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Creates a running run whose conversation starts with `first`; its id is `run_` + 16
    /// hex digits.
    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        table: &str,
        description: &str,
        human: &Principal,
        path: &str,
        path_note: Option<&str>,
        as_of: Option<&str>,
        first: InputMessage,
    ) -> Result<Run, RunError> {
        let run = Run {
            id: format!("run_{:016x}", rand::rng().random::<u64>()),
            table: table.into(),
            description: description.into(),
            principal: human.id.clone(),
            groups: human.groups.clone(),
            state: RunState::Running,
            path: path.into(),
            path_note: path_note.map(Into::into),
            model: None,
            messages: vec![first],
            usage: Usage::default(),
            cost_usd: 0.0,
            steps: 0,
            attempts: Vec::new(),
            report: None,
            as_of: as_of.map(Into::into),
        };
        sqlx::query(
            "INSERT INTO steward.agent_runs (id, table_name, description, principal, groups, \
             state, path, path_note, as_of, messages) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&run.id)
        .bind(&run.table)
        .bind(&run.description)
        .bind(&run.principal)
        .bind(&run.groups)
        .bind(run.state.as_str())
        .bind(&run.path)
        .bind(&run.path_note)
        .bind(&run.as_of)
        .bind(sqlx::types::Json(&run.messages))
        .execute(&self.pool)
        .await?;
        Ok(run)
    }

    pub async fn load(&self, id: &str) -> Result<Run, RunError> {
        let row: Option<RunRow> = sqlx::query_as(
            "SELECT id, table_name, description, principal, groups, state, path, path_note, \
             model, messages, usage, cost_usd, steps, attempts, report, as_of \
             FROM steward.agent_runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let row = row.ok_or_else(|| RunError::NotFound(id.to_string()))?;
        Ok(Run {
            id: row.0,
            table: row.1,
            description: row.2,
            principal: row.3,
            groups: row.4,
            state: RunState::parse(&row.5),
            path: row.6,
            path_note: row.7,
            model: row.8,
            messages: serde_json::from_value(row.9.0)?,
            usage: serde_json::from_value(row.10.0)?,
            cost_usd: row.11,
            steps: row.12,
            attempts: serde_json::from_value(row.13.0)?,
            report: row.14.map(|r| r.0),
            as_of: row.15,
        })
    }

    /// Saves everything that changes during a run.
    pub async fn save(&self, run: &Run) -> Result<(), RunError> {
        sqlx::query(
            "UPDATE steward.agent_runs SET state = $2, path = $3, path_note = $4, model = $5, \
             messages = $6, usage = $7, cost_usd = $8, steps = $9, attempts = $10, report = $11, \
             updated_at = now() WHERE id = $1",
        )
        .bind(&run.id)
        .bind(run.state.as_str())
        .bind(&run.path)
        .bind(&run.path_note)
        .bind(&run.model)
        .bind(sqlx::types::Json(&run.messages))
        .bind(sqlx::types::Json(run.usage))
        .bind(run.cost_usd)
        .bind(run.steps)
        .bind(sqlx::types::Json(&run.attempts))
        .bind(run.report.as_ref().map(sqlx::types::Json))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest runs: `(id, state, path, table, created_at)`.
    pub async fn list(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String, String)>, RunError> {
        Ok(sqlx::query_as(
            "SELECT id, state, path, table_name, \
             to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM steward.agent_runs ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every step of a run, in order.
    pub async fn steps(&self, run: &str) -> Result<Vec<StepRecord>, RunError> {
        let rows: Vec<StepRow> = sqlx::query_as(
            "SELECT step, tool, input, state, decision, approval_id, result, is_error \
             FROM steward.agent_steps WHERE run_id = $1 ORDER BY step, started_at",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StepRecord {
                step: r.0,
                tool: r.1,
                input: r.2.0,
                state: r.3,
                decision: r.4,
                approval_id: r.5,
                result: r.6,
                is_error: r.7,
            })
            .collect())
    }

    pub async fn step(&self, run: &str, tool_use_id: &str) -> Result<Option<Step>, RunError> {
        let row: Option<StepStateRow> = sqlx::query_as(
            "SELECT state, approval_id, result, is_error FROM steward.agent_steps \
             WHERE run_id = $1 AND tool_use_id = $2",
        )
        .bind(run)
        .bind(tool_use_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(state, approval_id, result, is_error)| Step {
            state,
            approval_id,
            result,
            is_error,
        }))
    }

    /// Records that a step is about to run (before any side effect).
    pub async fn start_step(
        &self,
        run: &str,
        tool_use_id: &str,
        step: i32,
        tool: &str,
        input: &Value,
    ) -> Result<(), RunError> {
        sqlx::query(
            "INSERT INTO steward.agent_steps (run_id, tool_use_id, step, tool, input, state) \
             VALUES ($1, $2, $3, $4, $5, 'started') ON CONFLICT (run_id, tool_use_id) DO NOTHING",
        )
        .bind(run)
        .bind(tool_use_id)
        .bind(step)
        .bind(tool)
        .bind(sqlx::types::Json(input))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn waiting_step(
        &self,
        run: &str,
        tool_use_id: &str,
        approval_id: &str,
    ) -> Result<(), RunError> {
        sqlx::query(
            "UPDATE steward.agent_steps SET state = 'waiting_approval', approval_id = $3, \
             decision = 'require_approval' WHERE run_id = $1 AND tool_use_id = $2",
        )
        .bind(run)
        .bind(tool_use_id)
        .bind(approval_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_step(
        &self,
        run: &str,
        tool_use_id: &str,
        decision: &str,
        result: &str,
        is_error: bool,
        duration_ms: i64,
    ) -> Result<(), RunError> {
        sqlx::query(
            "UPDATE steward.agent_steps SET state = 'done', decision = $3, result = $4, \
             is_error = $5, duration_ms = $6, finished_at = now() \
             WHERE run_id = $1 AND tool_use_id = $2",
        )
        .bind(run)
        .bind(tool_use_id)
        .bind(decision)
        .bind(result)
        .bind(is_error)
        .bind(duration_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
