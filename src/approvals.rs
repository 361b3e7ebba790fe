//! Human approvals for destructive actions, persisted in Postgres:
//! `pending -> approved | denied | expired`, then `approved -> executing -> executed | failed`.
//! Each request is bound to the SHA-256 of its exact action; execution claims it atomically, so
//! an approval runs once, only for those arguments, even across restarts.

use rand::RngCore;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::audit::redact;
use crate::canonical::canonical_json;
use crate::principal::{Channel, Principal};

/// Postgres NOTIFY channel announcing decided approvals (payload: the approval id).
pub const NOTIFY_CHANNEL: &str = "steward_approvals";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("approval {0} not found")]
    NotFound(String),
    #[error("approval {id} is {state}, not pending: it can no longer be {verb}")]
    NotPending {
        id: String,
        state: String,
        verb: &'static str,
    },
    #[error("approval {id} expired at {expires_at}")]
    Expired { id: String, expires_at: String },
    #[error("{approver} requested {id} and cannot approve their own request")]
    SelfApproval { id: String, approver: String },
    #[error(
        "{approver} cannot approve {id}: the two-person rule needs approvers other than the person the agent acts for"
    )]
    NotIndependent { id: String, approver: String },
    #[error("{approver} may not decide {id}; allowed approvers: {}", allowed.join(", "))]
    NotAnApprover {
        id: String,
        approver: String,
        allowed: Vec<String>,
    },
    #[error("{approver} already voted on {id}")]
    AlreadyVoted { id: String, approver: String },
    #[error(
        "approval {id} does not match this call: the arguments or caller differ from what was approved"
    )]
    ActionMismatch { id: String },
    #[error("approval {id} is {state}; only an approved request can be executed")]
    NotApproved { id: String, state: String },
    #[error("approvals storage: {0}")]
    Storage(String),
}

impl From<sqlx::Error> for ApprovalError {
    fn from(e: sqlx::Error) -> Self {
        ApprovalError::Storage(e.to_string())
    }
}

/// What the policy asked for, copied onto the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub reason: String,
    pub approvers: Vec<String>,
    pub min_approvals: u32,
    pub ttl_seconds: u64,
    pub independent_approvers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vote {
    pub approver: String,
    pub approve: bool,
    pub comment: Option<String>,
    pub channel: String,
    pub voted_at: String,
}

/// One approval request as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRequest {
    pub id: String,
    pub state: String,
    pub created_at: String,
    pub expires_at: String,
    pub tool: String,
    pub arguments: Value,
    pub action: Value,
    pub action_hash: String,
    pub principal: String,
    pub principal_kind: String,
    pub on_behalf_of: Option<String>,
    pub channel: String,
    pub reason: String,
    pub approvers: Vec<String>,
    pub min_approvals: i32,
    pub independent_approvers: bool,
    pub error: Option<String>,
    pub votes: Vec<Vote>,
}

impl ApprovalRequest {
    pub fn approvals_given(&self) -> usize {
        self.votes.iter().filter(|v| v.approve).count()
    }

    /// Whether `person` may cast a vote on this request (identity and group rules only).
    pub fn check_approver(&self, person: &Principal) -> Result<(), ApprovalError> {
        if person.id == self.principal {
            return Err(ApprovalError::SelfApproval {
                id: self.id.clone(),
                approver: person.id.clone(),
            });
        }
        if self.independent_approvers && self.on_behalf_of.as_deref() == Some(person.id.as_str()) {
            return Err(ApprovalError::NotIndependent {
                id: self.id.clone(),
                approver: person.id.clone(),
            });
        }
        let allowed = self
            .approvers
            .iter()
            .any(|entry| match entry.split_once(':') {
                Some(("user", id)) => id == person.id,
                Some(("group", group)) => person.groups.iter().any(|g| g == group),
                _ => false,
            });
        if !allowed {
            return Err(ApprovalError::NotAnApprover {
                id: self.id.clone(),
                approver: person.id.clone(),
                allowed: self.approvers.clone(),
            });
        }
        if self.votes.iter().any(|v| v.approver == person.id) {
            return Err(ApprovalError::AlreadyVoted {
                id: self.id.clone(),
                approver: person.id.clone(),
            });
        }
        Ok(())
    }
}

/// SHA-256 over the canonical JSON of (tool, arguments, principal) plus what the tool said it
/// would do and what the policy required: an approval binds to all of it, so a change in how
/// the statement resolves, or in the policy, needs a new approval.
pub fn action_hash(
    tool: &str,
    arguments: &Value,
    principal: &Principal,
    action: &Value,
    requirement: &Requirement,
) -> String {
    let document = serde_json::json!({
        "tool": tool,
        "arguments": arguments,
        "principal": {
            "id": principal.id,
            "kind": principal.kind.as_str(),
            "on_behalf_of": principal.on_behalf_of,
        },
        "action": action,
        "requirement": requirement,
    });
    hex::encode(Sha256::digest(canonical_json(&document).as_bytes()))
}

#[derive(Clone)]
pub struct Approvals {
    pool: PgPool,
}

/// `SELECT <all request columns> FROM steward.approvals <tail>`, as a static string.
macro_rules! select_requests {
    ($tail:literal) => {
        concat!(
            "SELECT id, state, created_at::text, expires_at::text, tool, arguments, action,
             action_hash, principal, principal_kind, on_behalf_of, channel, reason, approvers,
             min_approvals, independent_approvers, error FROM steward.approvals ",
            $tail
        )
    };
}

impl Approvals {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The open request for this exact action, or a new pending one: `(request, created)`.
    /// A unique index makes concurrent identical calls share one request.
    pub async fn open_or_create(
        &self,
        tool: &str,
        arguments: &Value,
        action: &Value,
        principal: &Principal,
        channel: Channel,
        requirement: &Requirement,
    ) -> Result<(ApprovalRequest, bool), ApprovalError> {
        let hash = action_hash(tool, arguments, principal, action, requirement);
        self.expire_due().await?;
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let id = format!("apr_{}", hex::encode(bytes));
        // Stored redacted: people read these rows; the hash binds the exact arguments.
        let inserted = sqlx::query(
            "INSERT INTO steward.approvals (id, expires_at, state, tool, arguments, action,
                action_hash, principal, principal_kind, on_behalf_of, channel, reason, approvers,
                min_approvals, independent_approvers)
             VALUES ($1, now() + make_interval(secs => $2), 'pending', $3, $4, $5, $6, $7, $8,
                $9, $10, $11, $12, $13, $14)
             ON CONFLICT (action_hash) WHERE state IN ('pending', 'approved', 'executing')
             DO NOTHING RETURNING id",
        )
        .bind(&id)
        .bind(requirement.ttl_seconds as f64)
        .bind(tool)
        .bind(redact(arguments))
        .bind(redact(action))
        .bind(&hash)
        .bind(&principal.id)
        .bind(principal.kind.as_str())
        .bind(&principal.on_behalf_of)
        .bind(channel.as_str())
        .bind(&requirement.reason)
        .bind(&requirement.approvers)
        .bind(requirement.min_approvals as i32)
        .bind(requirement.independent_approvers)
        .fetch_optional(&self.pool)
        .await?;
        if inserted.is_some() {
            return Ok((self.get(&id).await?, true));
        }
        let row = sqlx::query(select_requests!(
            "WHERE action_hash = $1 AND state IN ('pending', 'approved', 'executing')"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            ApprovalError::Storage("an open request vanished while it was read".into())
        })?;
        Ok((self.with_votes(from_row(&row)?).await?, false))
    }

    pub async fn get(&self, id: &str) -> Result<ApprovalRequest, ApprovalError> {
        self.expire_due().await?;
        let row = sqlx::query(select_requests!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        self.with_votes(from_row(&row)?).await
    }

    /// Requests in the given states (all when empty), newest first.
    pub async fn list(&self, states: &[&str]) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        self.expire_due().await?;
        let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        let rows = sqlx::query(select_requests!(
            "WHERE cardinality($1::text[]) = 0 OR state = ANY($1) ORDER BY created_at DESC"
        ))
        .bind(&states)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.with_votes(from_row(&row)?).await?);
        }
        Ok(out)
    }

    /// Records one person's decision. Any deny decides the request; enough distinct approvals
    /// approve it. Checked under a row lock so concurrent votes cannot both count.
    pub async fn vote(
        &self,
        id: &str,
        person: &Principal,
        approve: bool,
        comment: Option<&str>,
        channel: &str,
    ) -> Result<ApprovalRequest, ApprovalError> {
        self.expire_due().await?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(select_requests!("WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        let mut request = from_row(&row)?;
        request.votes = votes(&mut tx, id).await?;
        let verb = if approve { "approved" } else { "denied" };
        match request.state.as_str() {
            "pending" => {}
            "expired" => {
                return Err(ApprovalError::Expired {
                    id: id.to_string(),
                    expires_at: request.expires_at,
                });
            }
            state => {
                return Err(ApprovalError::NotPending {
                    id: id.to_string(),
                    state: state.to_string(),
                    verb,
                });
            }
        }
        request.check_approver(person)?;
        sqlx::query(
            "INSERT INTO steward.approval_votes (approval_id, approver, approve, comment, channel)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&person.id)
        .bind(approve)
        .bind(comment)
        .bind(channel)
        .execute(&mut *tx)
        .await?;
        let approvals = request.approvals_given() + usize::from(approve);
        let new_state = if !approve {
            Some("denied")
        } else if approvals >= request.min_approvals.max(1) as usize {
            Some("approved")
        } else {
            None
        };
        if let Some(state) = new_state {
            sqlx::query(
                "UPDATE steward.approvals SET state = $2, decided_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(state)
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get(id).await
    }

    /// Moves an approved request to `executing` if, and only if, it is still approved,
    /// unexpired and bound to `action_hash`. Exactly one caller can win this.
    pub async fn claim(
        &self,
        id: &str,
        action_hash: &str,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let claimed = sqlx::query(
            "UPDATE steward.approvals SET state = 'executing'
             WHERE id = $1 AND state = 'approved' AND action_hash = $2 AND expires_at > now()
             RETURNING id",
        )
        .bind(id)
        .bind(action_hash)
        .fetch_optional(&self.pool)
        .await?;
        let request = self.get(id).await?;
        if claimed.is_some() {
            return Ok(request);
        }
        if request.action_hash != action_hash {
            return Err(ApprovalError::ActionMismatch { id: id.to_string() });
        }
        if request.state == "approved" {
            return Err(ApprovalError::Expired {
                id: id.to_string(),
                expires_at: request.expires_at,
            });
        }
        Err(ApprovalError::NotApproved {
            id: id.to_string(),
            state: request.state,
        })
    }

    /// Records how the claimed execution ended.
    pub async fn finish(&self, id: &str, error: Option<&str>) -> Result<(), ApprovalError> {
        sqlx::query(
            "UPDATE steward.approvals SET state = $2, error = $3, finished_at = now()
             WHERE id = $1 AND state = 'executing'",
        )
        .bind(id)
        .bind(if error.is_some() {
            "failed"
        } else {
            "executed"
        })
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Waits until `id` is no longer pending (a vote from any process wakes it through
    /// LISTEN/NOTIFY; a slow poll covers expiry), or until `timeout` passes. Returns the request
    /// as last seen.
    pub async fn wait_decided(
        &self,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        loop {
            let request = self.get(id).await?;
            let now = tokio::time::Instant::now();
            if request.state != "pending" || now >= deadline {
                return Ok(request);
            }
            let tick = (deadline - now).min(std::time::Duration::from_secs(2));
            // Any notification (for this id or another) just triggers a re-read.
            let _ = tokio::time::timeout(tick, listener.recv()).await;
        }
    }

    /// Pending or approved requests past their TTL become `expired`.
    async fn expire_due(&self) -> Result<(), ApprovalError> {
        sqlx::query(
            "UPDATE steward.approvals SET state = 'expired', decided_at = coalesce(decided_at, now())
             WHERE state IN ('pending', 'approved') AND expires_at <= now()",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn with_votes(
        &self,
        mut request: ApprovalRequest,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let mut conn = self.pool.acquire().await?;
        request.votes = votes(&mut conn, &request.id).await?;
        Ok(request)
    }
}

async fn votes(conn: &mut sqlx::PgConnection, id: &str) -> Result<Vec<Vote>, ApprovalError> {
    let rows = sqlx::query(
        "SELECT approver, approve, comment, channel, voted_at::text
         FROM steward.approval_votes WHERE approval_id = $1 ORDER BY voted_at, approver",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Vote {
                approver: row.try_get(0)?,
                approve: row.try_get(1)?,
                comment: row.try_get(2)?,
                channel: row.try_get(3)?,
                voted_at: row.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ApprovalError::from)
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<ApprovalRequest, ApprovalError> {
    Ok(ApprovalRequest {
        id: row.try_get(0)?,
        state: row.try_get(1)?,
        created_at: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        tool: row.try_get(4)?,
        arguments: row.try_get(5)?,
        action: row.try_get(6)?,
        action_hash: row.try_get(7)?,
        principal: row.try_get(8)?,
        principal_kind: row.try_get(9)?,
        on_behalf_of: row.try_get(10)?,
        channel: row.try_get(11)?,
        reason: row.try_get(12)?,
        approvers: row.try_get(13)?,
        min_approvals: row.try_get(14)?,
        independent_approvers: row.try_get(15)?,
        error: row.try_get(16)?,
        votes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn request(approvers: &[&str], independent: bool) -> ApprovalRequest {
        ApprovalRequest {
            id: "apr_1".into(),
            state: "pending".into(),
            created_at: String::new(),
            expires_at: String::new(),
            tool: "execute_statement".into(),
            arguments: json!({}),
            action: json!({}),
            action_hash: String::new(),
            principal: "agent:claude".into(),
            principal_kind: "agent".into(),
            on_behalf_of: Some("alice".into()),
            channel: "mcp-stdio".into(),
            reason: String::new(),
            approvers: approvers.iter().map(|s| s.to_string()).collect(),
            min_approvals: 1,
            independent_approvers: independent,
            error: None,
            votes: vec![],
        }
    }

    #[test]
    fn approver_rules() {
        let oncall = |id: &str| Principal::human(id, vec!["data-oncall".into()]);
        let r = request(&["group:data-oncall"], false);
        assert_eq!(r.check_approver(&oncall("alice")), Ok(()));
        assert_eq!(r.check_approver(&oncall("bob")), Ok(()));
        assert_eq!(
            r.check_approver(&Principal::human(
                "agent:claude",
                vec!["data-oncall".into()]
            )),
            Err(ApprovalError::SelfApproval {
                id: "apr_1".into(),
                approver: "agent:claude".into()
            })
        );
        assert_eq!(
            r.check_approver(&Principal::human("eve", vec!["analysts".into()])),
            Err(ApprovalError::NotAnApprover {
                id: "apr_1".into(),
                approver: "eve".into(),
                allowed: vec!["group:data-oncall".into()]
            })
        );
        let two_person = request(&["group:data-oncall"], true);
        assert_eq!(
            two_person.check_approver(&oncall("alice")),
            Err(ApprovalError::NotIndependent {
                id: "apr_1".into(),
                approver: "alice".into()
            })
        );
        let by_user = request(&["user:carol"], false);
        assert_eq!(
            by_user.check_approver(&Principal::human("carol", vec![])),
            Ok(())
        );
    }

    #[test]
    fn action_hash_binds_tool_arguments_principal_action_and_requirement() {
        let alice = Principal::human("alice", vec![]);
        let action = json!({"statement_kind": "DELETE", "tables": ["public.t"]});
        let one = Requirement {
            reason: "r".into(),
            approvers: vec!["group:data-oncall".into()],
            min_approvals: 1,
            ttl_seconds: 60,
            independent_approvers: false,
        };
        let hash = |sql: &str, who: &Principal, action: &Value, req: &Requirement| {
            action_hash(
                "execute_statement",
                &json!({ "sql": sql }),
                who,
                action,
                req,
            )
        };
        let a = hash("DELETE FROM t", &alice, &action, &one);
        assert_eq!(a, hash("DELETE FROM t", &alice, &action, &one));
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash("DELETE FROM u", &alice, &action, &one));
        assert_ne!(
            a,
            hash(
                "DELETE FROM t",
                &Principal::human("bob", vec![]),
                &action,
                &one
            )
        );
        let elsewhere = json!({"statement_kind": "DELETE", "tables": ["gold.t"]});
        assert_ne!(a, hash("DELETE FROM t", &alice, &elsewhere, &one));
        let two = Requirement {
            min_approvals: 2,
            ..one.clone()
        };
        assert_ne!(a, hash("DELETE FROM t", &alice, &action, &two));
    }
}
