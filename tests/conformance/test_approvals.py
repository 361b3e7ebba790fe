"""Human approval of destructive tool calls, checked with the official Python MCP SDK.

`execute_statement` on a write needs approval (default policy: one from group:data-oncall; a
DROP/TRUNCATE in the protected schema gold needs two, and never from the person the agent acts
for). Two ways to get it:

  elicitation  on `initialize` sessions whose client declared elicitation, the server asks the
               connected human with elicitation/create; approve runs the statement at once,
               deny/decline/cancel refuses it. 2026-07-28 (`discover`) sessions allow no
               server-to-client requests, so they always take the pending path.
  pending      otherwise the call answers `pending_approval`; someone approves with
               `steward approvals approve ID --as USER`, the client polls `approval_status` and
               repeats the identical call, which runs it once.

Over stdio the human is `alice` (STEWARD_SERVER__STDIO_PRINCIPAL, group data-oncall); over HTTP
it is the bearer token's principal (minted with --group data-oncall by the http_server fixture).
The MCP caller is the agent `mcp:<clientInfo.name>` acting for that human.

Every test writes only to tables it creates (public.approval_demo_<hex>, and for the
two-person rule gold.approval_probe_<hex>, which the server must not drop) and drops them at
the end; approvals a test leaves open are denied through the CLI. Expected values come from
psql and the policy, never from the server under test.

    eval "$(scripts/dev-services env)"
    $STEWARD_DEV_PYTHON -m pytest -q tests/conformance
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import jsonschema
import pytest
from conftest import CLIENT_INFO, Connection, Steward
from mcp.client.session import ClientRequestContext
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitRequestParams, ElicitResult, TextContent

pytestmark = pytest.mark.anyio

AGENT = f"mcp:{CLIENT_INFO.name}"
STDIO_HUMAN = "alice"
APPROVER_GROUP = "group:data-oncall"
# The stdio server's human, in the data-oncall group.
STDIO_ENV = {"STEWARD_SERVER__STDIO_PRINCIPAL": STDIO_HUMAN, "STEWARD_SERVER__STDIO_GROUPS": '["data-oncall"]'}
# bob approves from the CLI; eve has no [people] entry, so no groups.
BOB_ENV = {"STEWARD_PEOPLE__BOB__GROUPS": '["data-oncall"]'}
APPROVAL_ID = re.compile(r"apr_[0-9a-f]{16}")
PENDING_KEYS = {
    "status",
    "approval_id",
    "reason",
    "approvers",
    "min_approvals",
    "approvals_given",
    "expires_at",
    "next_steps",
}
TTL_SECONDS = 3600  # the default policy's approval lifetime

HANDSHAKE = [
    pytest.param(("stdio", "initialize"), id="stdio-initialize"),
    pytest.param(("http", "initialize"), id="http-initialize"),
]
ALL_ERAS = [
    *HANDSHAKE,
    pytest.param(("stdio", "discover"), id="stdio-discover"),
    pytest.param(("http", "discover"), id="http-discover"),
]

# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture
def via(request: pytest.FixtureRequest, steward: Steward, tmp_path) -> Connection:
    """How the test reaches the server (indirectly parametrized with (transport, era)); over
    stdio the human is alice of data-oncall."""
    transport, era = request.param
    http = request.getfixturevalue("http_server") if transport == "http" else None
    return Connection(
        transport=transport, era=era, steward=steward, http=http, log_dir=tmp_path, stdio_env=STDIO_ENV
    )


def human_of(via: Connection) -> str:
    return STDIO_HUMAN if via.http is None else via.http.principal


def channel_of(via: Connection) -> str:
    return "mcp-stdio" if via.http is None else "mcp-http"


def deny_open_approvals(steward: Steward, table: str) -> None:
    """Denies (as bob, through the CLI) approvals still open for statements on `table`."""
    ids = steward.psql(
        "select coalesce(string_agg(id, ' '), '') from steward.approvals "
        f"where state in ('pending', 'approved') and arguments->>'sql' like '%{table}%'"
    )
    for approval_id in ids.split():
        steward.cli("approvals", "deny", approval_id, "--as", "bob", "--reason", "conformance cleanup", env=BOB_ENV)


@pytest.fixture
def demo_table(steward: Steward) -> Iterator[str]:
    """public.approval_demo_<hex> holding ids 1..10; nothing else reads it."""
    table = f"public.approval_demo_{uuid.uuid4().hex[:12]}"
    steward.psql(f"create table {table} as select g as id from generate_series(1, 10) g")
    try:
        yield table
    finally:
        deny_open_approvals(steward, table)
        steward.psql(f"drop table if exists {table}")


@pytest.fixture
def gold_probe_table(steward: Steward) -> Iterator[str]:
    """A throwaway table in the protected schema gold, for the two-person rule."""
    table = f"gold.approval_probe_{uuid.uuid4().hex[:12]}"
    steward.psql(f"create table {table} as select g as id from generate_series(1, 3) g")
    try:
        yield table
    finally:
        deny_open_approvals(steward, table)
        steward.psql(f"drop table if exists {table}")


@dataclass
class HumanAtClient:
    """The person behind the MCP client: answers each elicitation with the next answer (cancel
    once they run out) and remembers what they were asked."""

    answers: list[ElicitResult]
    asked: list[ElicitRequestParams] = field(default_factory=list)

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        return self.answers.pop(0) if self.answers else ElicitResult(action="cancel")


def approve(comment: str | None = None) -> ElicitResult:
    content: dict[str, Any] = {"decision": "approve"}
    if comment is not None:
        content["comment"] = comment
    return ElicitResult(action="accept", content=content)


class ServerLog:
    """The server's stderr from now on: the test's stdio servers, or the shared HTTP server."""

    def __init__(self, via: Connection) -> None:
        self.via = via
        self.start = len(via.http.log) if via.http is not None else 0

    def text(self) -> str:
        if self.via.http is not None:
            return "".join(self.via.http.log[self.start :])
        return "".join(path.read_text() for path in sorted(self.via.log_dir.glob("stdio-*.log")))


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def sql_literal(value: Any) -> str:
    return "'" + json.dumps(value, ensure_ascii=False).replace("'", "''") + "'::jsonb"


def approvals_for(steward: Steward, arguments: dict[str, Any]) -> list[str]:
    """Ids of the approval requests for exactly these execute_statement arguments, oldest first."""
    out = steward.psql(
        "select coalesce(json_agg(id order by created_at), '[]') from steward.approvals "
        f"where tool = 'execute_statement' and arguments = {sql_literal(arguments)}"
    )
    return json.loads(out)


def stored_approval(steward: Steward, approval_id: str) -> dict[str, Any]:
    assert APPROVAL_ID.fullmatch(approval_id), approval_id
    out = steward.psql(
        "select row_to_json(a) from (select id, state, tool, arguments, principal, principal_kind, "
        "on_behalf_of, channel, reason, approvers, min_approvals, independent_approvers, "
        "extract(epoch from expires_at - created_at)::int as ttl_seconds "
        f"from steward.approvals where id = '{approval_id}') a"
    )
    assert out, f"approval {approval_id} is not in steward.approvals"
    return json.loads(out)


def stored_votes(steward: Steward, approval_id: str) -> list[dict[str, Any]]:
    out = steward.psql(
        "select coalesce(json_agg(json_build_object('approver', approver, 'approve', approve, "
        "'comment', comment, 'channel', channel) order by voted_at, approver), '[]') "
        f"from steward.approval_votes where approval_id = '{approval_id}'"
    )
    return json.loads(out)


def expires_matches(steward: Steward, approval_id: str, shown: str) -> bool:
    """Whether a timestamp the server showed is the request's stored expiry (any text format)."""
    same = f"select expires_at = '{shown}'::timestamptz from steward.approvals where id = '{approval_id}'"
    return steward.psql(same) == "t"


def ledger(steward: Steward, approval_id: str) -> list[dict[str, Any]]:
    """The audit ledger rows (steward.audit_ledger) about one approval request, in order.
    A rejected vote's `tool` is left out: the server records it as "" (the vote never loaded
    the request), which these tests neither require nor forbid."""
    out = steward.psql(
        "select coalesce(json_agg(json_build_object('event', event, 'outcome', outcome, "
        "'principal', principal, 'principal_kind', principal_kind, 'on_behalf_of', on_behalf_of, "
        "'channel', channel, 'tool', tool, 'arguments', arguments) order by seq), '[]') "
        f"from steward.audit_ledger where approval_id = '{approval_id}'"
    )
    rows = json.loads(out)
    for row in rows:
        if row["event"] == "approval_decided" and row["outcome"] == "rejected":
            del row["tool"]
    return rows


def agent_row(event: str, outcome: str, agent: str, human: str, channel: str, arguments: dict) -> dict[str, Any]:
    return {
        "event": event,
        "outcome": outcome,
        "principal": agent,
        "principal_kind": "agent",
        "on_behalf_of": human,
        "channel": channel,
        "tool": "execute_statement",
        "arguments": arguments,
    }


def vote_row(person: str, channel: str, approve: bool, comment: str | None, outcome: str) -> dict[str, Any]:
    """A person's vote; outcome approve or deny, or rejected when they may not vote."""
    row = {
        "event": "approval_decided",
        "outcome": outcome,
        "principal": person,
        "principal_kind": "human",
        "on_behalf_of": None,
        "channel": channel,
        "tool": "execute_statement",
        "arguments": {"approve": approve, "comment": comment},
    }
    if outcome == "rejected":
        del row["tool"]  # see ledger()
    return row


def assert_pending(result: CallToolResult, *, reason: str, min_approvals: int) -> dict[str, Any]:
    """A `pending_approval` answer: a normal result (not an error) with the policy's terms."""
    assert result.is_error is False, text_of(result)
    pending = result.structured_content
    assert pending is not None and set(pending) == PENDING_KEYS, pending
    assert pending["status"] == "pending_approval"
    assert APPROVAL_ID.fullmatch(pending["approval_id"]), pending
    assert pending["reason"] == reason
    assert pending["approvers"] == [APPROVER_GROUP]
    assert pending["min_approvals"] == min_approvals
    assert pending["approvals_given"] == 0
    assert f"steward approvals approve {pending['approval_id']}" in pending["next_steps"], pending
    assert json.loads(text_of(result)) == pending
    return pending


async def steward_cli(steward: Steward, *args: str, env: dict[str, str] | None = None):
    """`steward ARGS...` off the event loop, so the open MCP session keeps being served."""
    return await anyio.to_thread.run_sync(lambda: steward.cli(*args, env=env))


def one_approval_needed(table: str) -> str:
    return f"DELETE on {table} needs approval from {APPROVER_GROUP}"


# ---------------------------------------------------------------------------------------------
# Elicitation: the connected human decides in the MCP client (initialize sessions only).


@pytest.mark.parametrize("via", HANDSHAKE, indirect=True)
async def test_elicitation_approve_runs_the_statement_once(via, steward, demo_table) -> None:
    human, channel = human_of(via), channel_of(via)
    arguments = {"sql": f"DELETE FROM {demo_table} WHERE id <= 3"}
    before = steward.scalar_int(f"select count(*) from {demo_table}")
    matching = steward.scalar_int(f"select count(*) from {demo_table} where id <= 3")
    assert (before, matching) == (10, 3)
    # Approves the first request; declines the second, which must be a new request.
    person = HumanAtClient([approve("looks right"), ElicitResult(action="decline")])
    log = ServerLog(via)

    async with via.session(elicitation_callback=person) as session:
        result = await session.call_tool("execute_statement", arguments)
        after_first = steward.scalar_int(f"select count(*) from {demo_table}")
        again = await session.call_tool("execute_statement", arguments) if person.asked else None

    # The question the human saw: a form describing the action, the reason and the terms.
    assert len(person.asked) == 2, f"expected two elicitations, got {person.asked}\n{log.text()}"
    asked = person.asked[0]
    assert isinstance(asked, ElicitRequestFormParams), asked
    for expected in (AGENT, arguments["sql"], one_approval_needed(demo_table), APPROVER_GROUP):
        assert expected in asked.message, (expected, asked.message)
    schema = asked.requested_schema
    assert schema.get("type") == "object", schema
    assert schema["properties"]["decision"].get("type") == "string", schema
    assert sorted(schema["properties"]["decision"]["enum"]) == ["approve", "deny"], schema
    assert schema["properties"]["comment"].get("type") == "string", schema
    assert set(schema["properties"]) == {"decision", "comment"}, schema
    assert schema.get("required") == ["decision"], schema
    jsonschema.validate({"decision": "approve", "comment": "x"}, schema)
    jsonschema.validate({"decision": "deny"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"decision": "maybe"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"comment": "no decision"}, schema)

    # Approved: ran at once, exactly as shown.
    assert result.is_error is False, text_of(result)
    assert after_first == before - matching
    assert result.structured_content == {
        "statement_kind": "DELETE",
        "tables": [demo_table],
        "rows_affected": before - after_first,
    }
    assert json.loads(text_of(result)) == result.structured_content

    [first_id, second_id] = approvals_for(steward, arguments)
    # The form says when the request expires: the stored expiry.
    expiry = re.search(r"[Ee]xpires at (\S+ \S+?)\.?(?:\s|$)", asked.message)
    assert expiry and expires_matches(steward, first_id, expiry.group(1)), asked.message
    stored = stored_approval(steward, first_id)
    assert stored == {
        "id": first_id,
        "state": "executed",
        "tool": "execute_statement",
        "arguments": arguments,
        "principal": AGENT,
        "principal_kind": "agent",
        "on_behalf_of": human,
        "channel": channel,
        "reason": one_approval_needed(demo_table),
        "approvers": [APPROVER_GROUP],
        "min_approvals": 1,
        "independent_approvers": False,
        "ttl_seconds": TTL_SECONDS,
    }
    assert stored_votes(steward, first_id) == [
        {"approver": human, "approve": True, "comment": "looks right", "channel": "mcp-elicitation"}
    ]
    assert ledger(steward, first_id) == [
        agent_row("approval_requested", "pending_approval", AGENT, human, channel, arguments),
        vote_row(human, "mcp-elicitation", True, "looks right", "approve"),
        agent_row("approval_claimed", "executing", AGENT, human, channel, arguments),
        agent_row("approval_executed", "ok", AGENT, human, channel, arguments),
    ]

    # An approval runs once: the identical call is a new request, asked about again.
    assert second_id != first_id
    assert again is not None and again.is_error is True
    assert text_of(again) == (
        f"denied by policy: {human} denied approval {second_id}: declined in the MCP client"
    )
    assert again.structured_content is None
    assert steward.scalar_int(f"select count(*) from {demo_table}") == after_first
    assert stored_approval(steward, second_id)["state"] == "denied"


REFUSALS = [
    pytest.param(
        ElicitResult(action="accept", content={"decision": "deny", "comment": "not during the freeze"}),
        "not during the freeze",
        id="deny",
    ),
    pytest.param(ElicitResult(action="decline"), "declined in the MCP client", id="decline"),
    pytest.param(ElicitResult(action="cancel"), "cancelled in the MCP client", id="cancel"),
]


@pytest.mark.parametrize(("answer", "why"), REFUSALS)
@pytest.mark.parametrize("via", HANDSHAKE, indirect=True)
async def test_elicitation_refusal_is_a_denial_and_changes_nothing(via, steward, demo_table, answer, why) -> None:
    human, channel = human_of(via), channel_of(via)
    arguments = {"sql": f"DELETE FROM {demo_table} WHERE id > 5"}
    person = HumanAtClient([answer])
    log = ServerLog(via)

    async with via.session(elicitation_callback=person) as session:
        result = await session.call_tool("execute_statement", arguments)
        # A tool error is a normal result: the session keeps working.
        follow_up = await session.call_tool("query_warehouse", {"sql": f"select count(*) as n from {demo_table}"})

    assert steward.scalar_int(f"select count(*) from {demo_table}") == 10, "a refused statement ran"
    assert follow_up.is_error is False and follow_up.structured_content["rows"] == [[10]]
    [approval_id] = approvals_for(steward, arguments)

    assert len(person.asked) == 1, f"expected one elicitation, got {person.asked}\n{log.text()}"
    assert result.is_error is True
    assert text_of(result) == f"denied by policy: {human} denied approval {approval_id}: {why}"
    assert result.structured_content is None
    assert stored_approval(steward, approval_id)["state"] == "denied"
    assert stored_votes(steward, approval_id) == [
        {"approver": human, "approve": False, "comment": why, "channel": "mcp-elicitation"}
    ]
    assert ledger(steward, approval_id) == [
        agent_row("approval_requested", "pending_approval", AGENT, human, channel, arguments),
        vote_row(human, "mcp-elicitation", False, why, "deny"),
    ]


@pytest.mark.parametrize("via", HANDSHAKE, indirect=True)
async def test_two_person_rule_informs_the_human_and_stays_pending(via, steward, gold_probe_table) -> None:
    human, channel = human_of(via), channel_of(via)
    arguments = {"sql": f"DROP TABLE {gold_probe_table}"}
    reason = f"DROP TABLE on {gold_probe_table} in protected schema gold needs two approvers"
    # Whatever the human answers to a notice, it is not a vote.
    person = HumanAtClient([approve("I approve my own drop")])

    async with via.session(elicitation_callback=person) as session:
        result = await session.call_tool("execute_statement", arguments)

    exists = f"select to_regclass('{gold_probe_table}') is not null"
    assert steward.psql(exists) == "t", "the server dropped a gold table without two approvals"
    pending = assert_pending(result, reason=reason, min_approvals=2)
    approval_id = pending["approval_id"]
    assert approvals_for(steward, arguments) == [approval_id]
    assert expires_matches(steward, approval_id, pending["expires_at"])
    stored = stored_approval(steward, approval_id)
    assert (stored["state"], stored["min_approvals"], stored["independent_approvers"]) == ("pending", 2, True)
    assert (stored["principal"], stored["on_behalf_of"]) == (AGENT, human)
    assert stored_votes(steward, approval_id) == []

    # The human the agent acts for may not approve through the CLI either.
    own = await steward_cli(
        steward,
        "approvals",
        "approve",
        approval_id,
        "--as",
        human,
        env={f"STEWARD_PEOPLE__{human.upper()}__GROUPS": '["data-oncall"]'},
    )
    assert own.returncode == 1, (own.stdout, own.stderr)
    assert own.stdout == ""
    assert own.stderr == (
        f"error: {human} cannot approve {approval_id}: the two-person rule needs approvers "
        "other than the person the agent acts for\n"
    )
    assert steward.psql(exists) == "t"
    assert stored_approval(steward, approval_id)["state"] == "pending"
    assert ledger(steward, approval_id) == [
        agent_row("approval_requested", "pending_approval", AGENT, human, channel, arguments),
        vote_row(human, "cli", True, None, "rejected"),
    ]

    # The notice: an empty form saying who must approve, never a vote.
    assert len(person.asked) == 1, person.asked
    notice = person.asked[0]
    assert isinstance(notice, ElicitRequestFormParams), notice
    assert notice.requested_schema.get("type") == "object", notice.requested_schema
    assert not notice.requested_schema.get("properties"), notice.requested_schema
    assert not notice.requested_schema.get("required"), notice.requested_schema
    for expected in (approval_id, APPROVER_GROUP):
        assert expected in notice.message, (expected, notice.message)


@pytest.mark.parametrize("via", HANDSHAKE, indirect=True)
async def test_privilege_change_is_denied_without_asking(via, steward, demo_table) -> None:
    arguments = {"sql": f"GRANT SELECT ON {demo_table} TO PUBLIC"}
    grants = (
        "select count(*) from information_schema.role_table_grants "
        f"where table_schema || '.' || table_name = '{demo_table}' and grantee = 'PUBLIC'"
    )
    person = HumanAtClient([approve()])

    async with via.session(elicitation_callback=person) as session:
        result = await session.call_tool("execute_statement", arguments)

    assert result.is_error is True
    assert text_of(result) == "denied by policy: privilege changes are not made through Steward"
    assert person.asked == [], "a denied call must not ask anyone"
    assert approvals_for(steward, arguments) == []
    assert steward.scalar_int(grants) == 0
    assert steward.audited_calls(arguments) == [
        {
            "channel": channel_of(via),
            "on_behalf_of": human_of(via),
            "principal_kind": "agent",
            "tool": "execute_statement",
            "outcome": "denied",
        }
    ]


# ---------------------------------------------------------------------------------------------
# Pending path: clients without elicitation, and every 2026-07-28 session.


@pytest.mark.parametrize("via", ALL_ERAS, indirect=True)
async def test_pending_approval_cli_approve_then_run_once(via, steward, demo_table) -> None:
    human, channel = human_of(via), channel_of(via)
    arguments = {"sql": f"DELETE FROM {demo_table} WHERE id > 7"}
    count = f"select count(*) from {demo_table}"
    before = steward.scalar_int(count)
    matching = steward.scalar_int(f"{count} where id > 7")
    assert (before, matching) == (10, 3)
    # initialize: the client declares no elicitation. discover: it declares it, and must not
    # be asked anyway (2026-07-28 has no server-to-client requests).
    person = HumanAtClient([approve()]) if via.era == "discover" else None

    async with via.session(elicitation_callback=person) as session:
        first = await session.call_tool("execute_statement", arguments)
        pending = assert_pending(first, reason=one_approval_needed(demo_table), min_approvals=1)
        approval_id = pending["approval_id"]
        assert expires_matches(steward, approval_id, pending["expires_at"])
        assert steward.scalar_int(count) == before

        # While pending, the identical call is the same request, not a new one.
        repeat = await session.call_tool("execute_statement", arguments)
        assert assert_pending(repeat, reason=pending["reason"], min_approvals=1)["approval_id"] == approval_id

        status = await session.call_tool("approval_status", {"approval_id": approval_id})
        assert status.is_error is False, text_of(status)
        assert status.structured_content["approval_id"] == approval_id
        assert status.structured_content["state"] == "pending"
        assert status.structured_content["approvals_given"] == 0
        assert status.structured_content["votes"] == []

        # Someone outside the approver group cannot decide it.
        eve = await steward_cli(steward, "approvals", "approve", approval_id, "--as", "eve")
        assert eve.returncode == 1, (eve.stdout, eve.stderr)
        assert eve.stdout == ""
        assert eve.stderr == f"error: eve may not decide {approval_id}; allowed approvers: {APPROVER_GROUP}\n"

        bob = await steward_cli(steward, "approvals", "approve", approval_id, "--as", "bob", env=BOB_ENV)
        assert bob.returncode == 0, (bob.stdout, bob.stderr)
        assert bob.stdout == f"bob approved {approval_id}: now approved (1/1 approvals)\n"

        status = await session.call_tool("approval_status", {"approval_id": approval_id})
        assert status.is_error is False, text_of(status)
        assert status.structured_content["state"] == "approved"
        assert status.structured_content["approvals_given"] == 1
        assert status.structured_content["votes"] == [{"approver": "bob", "approve": True, "comment": None}]
        assert steward.scalar_int(count) == before, "approving must not run the statement by itself"

        # The identical call now runs it.
        ran = await session.call_tool("execute_statement", arguments)
        assert ran.is_error is False, text_of(ran)
        after = steward.scalar_int(count)
        assert after == before - matching
        assert ran.structured_content == {
            "statement_kind": "DELETE",
            "tables": [demo_table],
            "rows_affected": before - after,
        }

        status = await session.call_tool("approval_status", {"approval_id": approval_id})
        assert status.structured_content["state"] == "executed"

        # Once: the next identical call is a new request.
        third = await session.call_tool("execute_statement", arguments)
        assert assert_pending(third, reason=pending["reason"], min_approvals=1)["approval_id"] != approval_id
        assert steward.scalar_int(count) == after

    if person is not None:
        assert person.asked == [], "a 2026-07-28 session got a server-to-client elicitation"
    assert approvals_for(steward, arguments) == [approval_id, third.structured_content["approval_id"]]
    stored = stored_approval(steward, approval_id)
    assert stored["state"] == "executed"
    assert (stored["principal_kind"], stored["on_behalf_of"], stored["channel"]) == ("agent", human, channel)
    assert stored_votes(steward, approval_id) == [
        {"approver": "bob", "approve": True, "comment": None, "channel": "cli"}
    ]
    # The agent's name is checked by test_agent_is_named_after_client_info; here it must
    # merely be the same agent throughout.
    agent = stored["principal"]
    assert agent.startswith("mcp:"), agent
    assert ledger(steward, approval_id) == [
        agent_row("approval_requested", "pending_approval", agent, human, channel, arguments),
        agent_row("tool_call", "pending_approval", agent, human, channel, arguments),
        vote_row("eve", "cli", True, None, "rejected"),
        vote_row("bob", "cli", True, None, "approve"),
        agent_row("approval_claimed", "executing", agent, human, channel, arguments),
        agent_row("approval_executed", "ok", agent, human, channel, arguments),
    ]


@pytest.mark.parametrize("via", ALL_ERAS, indirect=True)
async def test_agent_is_named_after_client_info(via, steward) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    arguments = {"sql": f"select '{canary}' as marker"}
    async with via.session() as session:
        result = await session.call_tool("query_warehouse", arguments)
    assert result.is_error is False, text_of(result)
    out = steward.psql(
        "select coalesce(json_agg(principal order by seq), '[]') from steward.audit_ledger "
        f"where event = 'tool_call' and arguments = {sql_literal(arguments)}"
    )
    principals = json.loads(out)
    assert principals == [AGENT]


# ---------------------------------------------------------------------------------------------
# The ledger stays verifiable after all of the above.


def test_audit_ledger_verifies(steward) -> None:
    rows = "select count(*) from steward.audit_ledger"
    before = steward.scalar_int(rows)
    verified = steward.cli("audit", "verify")
    after = steward.scalar_int(rows)
    assert verified.returncode == 0, (verified.stdout, verified.stderr)
    match = re.fullmatch(r"audit ledger intact: (\d+) rows, hash chain verified\n", verified.stdout)
    assert match, verified.stdout
    assert before <= int(match.group(1)) <= after
    assert before > 0
