"""MCP conformance of `steward serve`, checked with an independent client: the official Python
MCP SDK. Every protocol check runs over stdio and streamable HTTP, and in both protocol eras the
SDK speaks (the `initialize` handshake and the 2026-07-28 `server/discover` envelope). The
HTTP-only checks (bearer authentication, /healthz) use raw HTTP requests.

Expected values never come from the server under test: row counts are read with psql, the
version with `steward --version`.

    eval "$(scripts/dev-services env)"
    $STEWARD_DEV_PYTHON -m pytest -q tests/conformance
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import jsonschema
import pytest
from mcp import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

pytestmark = pytest.mark.anyio

TOOLS = {
    "list_tables",
    "describe_table",
    "query_warehouse",
    "execute_statement",
    "approval_status",
    "run_checks",
    "profile_column",
    "compare_distributions",
    "diagnose_anomaly",
    "retrieve",
    "answer",
}
READ_ONLY_ANNOTATIONS = {
    "read_only_hint": True,
    "destructive_hint": False,
    "idempotent_hint": True,
    "open_world_hint": False,
}
DESTRUCTIVE_ANNOTATIONS = {
    "read_only_hint": False,
    "destructive_hint": True,
    "idempotent_hint": False,
    "open_world_hint": False,
}
ORCHESTRATOR_ANNOTATIONS = {
    "read_only_hint": False,
    "destructive_hint": False,
    "idempotent_hint": False,
    "open_world_hint": True,
}
ANNOTATIONS = {name: READ_ONLY_ANNOTATIONS for name in TOOLS} | {
    "execute_statement": DESTRUCTIVE_ANNOTATIONS,
    "diagnose_anomaly": ORCHESTRATOR_ANNOTATIONS,
    # Reads only, but asks a language model when one is configured.
    "answer": READ_ONLY_ANNOTATIONS | {"open_world_hint": True},
}
REFUSAL_PREFIX = "refused: DELETE is not read-only"


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


# ---------------------------------------------------------------------------------------------
# Protocol checks: stdio and HTTP, initialize and discover.


async def test_handshake(connection, steward) -> None:
    async with connection.session() as session:
        # The SDK offers its newest version of the era; the server must accept it as is.
        assert session.protocol_version == connection.expected_version
        if connection.era == "initialize":
            result = session.initialize_result
            assert result is not None and result.protocol_version == LATEST_HANDSHAKE_VERSION
        else:
            result = session.discover_result
            assert result is not None
            assert LATEST_MODERN_VERSION in result.supported_versions
            assert LATEST_HANDSHAKE_VERSION in result.supported_versions
            assert set(result.supported_versions) <= set(HANDSHAKE_PROTOCOL_VERSIONS) | {LATEST_MODERN_VERSION}

        info = session.server_info
        assert info is not None
        assert info.name == "steward"
        assert info.version == steward.version

        capabilities = session.server_capabilities
        assert capabilities is not None and capabilities.tools is not None

        instructions = session.instructions or ""
        assert "warehouse" in instructions
        for tool in sorted(TOOLS):
            assert f"`{tool}`" in instructions, f"instructions do not mention {tool}"


async def test_tools_list(connection) -> None:
    async with connection.session() as session:
        listing = await session.list_tools()
    assert listing.next_cursor is None
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == TOOLS and len(listing.tools) == len(TOOLS)

    for name, tool in tools.items():
        assert tool.title, name
        assert tool.description, name
        assert tool.input_schema.get("type") == "object", (name, tool.input_schema)
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object", name
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert tool.annotations is not None, name
        hints = tool.annotations.model_dump(include=set(READ_ONLY_ANNOTATIONS))
        assert hints == ANNOTATIONS[name], name

    assert tools["query_warehouse"].input_schema.get("required") == ["sql"]
    assert tools["describe_table"].input_schema.get("required") == ["table"]
    assert not tools["list_tables"].input_schema.get("required")


async def test_call_success(connection, steward) -> None:
    expected = steward.scalar_int("select count(*) from gold.customers")
    assert expected > 0, "gold.customers is empty; reseed the demo warehouse"

    async with connection.session() as session:
        result = await session.call_tool("query_warehouse", {"sql": "select count(*) as n from gold.customers"})

    assert result.is_error is False, text_of(result)
    structured = result.structured_content
    assert structured is not None
    assert structured["columns"] == [{"name": "n", "type": "int8"}]
    assert structured["rows"] == [[expected]]
    assert structured["row_count"] == 1
    assert structured["truncated"] is False
    # The text block carries the same JSON, for clients that ignore structuredContent.
    assert json.loads(text_of(result)) == structured


async def test_data_quality_tools(connection, steward) -> None:
    expected = steward.scalar_int("select count(distinct status) from gold.orders")
    async with connection.session() as session:
        # call_tool validates structuredContent against the listed outputSchema.
        profile = await session.call_tool("profile_column", {"table": "gold.orders", "column": "status"})
        compared = await session.call_tool(
            "compare_distributions",
            {"column": "channel", "reference": {"table": "gold.orders"}, "current": {"table": "gold.orders"}},
        )
        unconfigured = await session.call_tool("run_checks", {})

    assert profile.is_error is False, text_of(profile)
    assert profile.structured_content["distinct"] == expected
    assert profile.structured_content["nulls"] == 0
    assert compared.is_error is False, text_of(compared)
    assert compared.structured_content["psi"] == 0
    assert compared.structured_content["band"] == "stable"
    assert unconfigured.is_error is True
    assert text_of(unconfigured).startswith("no data-quality checks are configured"), text_of(unconfigured)


async def test_diagnosis_prompt_and_tool_with_progress(connection) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async with connection.session() as session:
        prompts = await session.list_prompts()
        prompt = await session.get_prompt(
            "diagnose_anomaly", {"table": "gold.orders", "description": "volume dropped 60%"}
        )
        missing = None
        try:
            await session.get_prompt("diagnose_anomaly", {"table": "gold.orders"})
        except Exception as error:  # the SDK raises McpError for a JSON-RPC error
            missing = str(error)
        result = await session.call_tool(
            "diagnose_anomaly",
            {"table": "gold.orders", "description": "volume dropped 60%"},
            progress_callback=on_progress,
        )

    assert [p.name for p in prompts.prompts] == ["diagnose_anomaly"]
    assert [a.name for a in prompts.prompts[0].arguments] == ["table", "description"]
    text = prompt.messages[0].content.text
    assert "- Table: `gold.orders`\n- Reported: volume dropped 60%" in text
    assert "Never invent numbers" in text
    assert missing is not None and "needs a non-empty `description` argument" in missing

    assert result.is_error is False, text_of(result)
    report = result.structured_content
    # No API key in the server's environment: the deterministic runbook, said so.
    assert report["path"] == "runbook"
    assert report["status"] == "completed"
    assert report["path_note"].startswith("no API key in ANTHROPIC_API_KEY")
    assert [e["tool"] for e in report["evidence"]] == ["describe_table", "query_warehouse", "retrieve"]
    # One notification per step, numbered in order, after the run's first line.
    assert [value for value, _ in progress] == [1.0, 2.0, 3.0, 4.0], progress
    assert progress[1][1].startswith("step 1: describe_table"), progress


async def test_structured_content_matches_output_schema(connection) -> None:
    async with connection.session() as session:
        schemas = {tool.name: tool.output_schema for tool in (await session.list_tools()).tools}
        # call_tool also makes the SDK validate structuredContent against the listed outputSchema.
        tables = await session.call_tool("list_tables", {"schema": "gold"})
        described = await session.call_tool("describe_table", {"table": "gold.orders", "sample_rows": 2})

    assert tables.is_error is False, text_of(tables)
    jsonschema.validate(tables.structured_content, schemas["list_tables"])
    names = {(t["schema"], t["name"]) for t in tables.structured_content["tables"]}
    assert {("gold", "customers"), ("gold", "orders"), ("gold", "customer_features")} <= names
    assert {schema for schema, _ in names} == {"gold"}

    assert described.is_error is False, text_of(described)
    jsonschema.validate(described.structured_content, schemas["describe_table"])
    assert json.loads(text_of(described)) == described.structured_content


async def test_refused_sql_is_a_tool_error_and_changes_nothing(connection, steward) -> None:
    count_orders = "select count(*) from gold.orders"
    count_cancelled = "select count(*) from gold.orders where status = 'cancelled'"
    before = (steward.scalar_int(count_orders), steward.scalar_int(count_cancelled))
    assert before[1] > 0, "the seed has cancelled orders, so a DELETE that ran would show"

    async with connection.session() as session:
        result = await session.call_tool(
            "query_warehouse", {"sql": "DELETE FROM gold.orders WHERE status = 'cancelled'"}
        )
        # A tool error is a normal result: the session keeps working.
        follow_up = await session.call_tool("query_warehouse", {"sql": "select 1 as one"})

    assert result.is_error is True
    assert text_of(result).startswith(REFUSAL_PREFIX), text_of(result)
    assert result.structured_content is None
    assert (steward.scalar_int(count_orders), steward.scalar_int(count_cancelled)) == before
    assert follow_up.is_error is False and follow_up.structured_content["rows"] == [[1]]


async def test_unknown_tool_is_invalid_params(connection) -> None:
    async with connection.session() as session:
        with pytest.raises(MCPError) as caught:
            await session.call_tool("nope", {})
        # A protocol error must not end the session.
        still_up = await session.call_tool("query_warehouse", {"sql": "select 1 as one"})

    assert caught.value.code == INVALID_PARAMS
    message = caught.value.message
    assert message.startswith('unknown tool "nope"'), message
    for tool in TOOLS:
        assert tool in message, f"the error should list the available tools: {message}"
    assert still_up.is_error is False


async def test_wrong_argument_type_is_invalid_params(connection) -> None:
    async with connection.session() as session:
        with pytest.raises(MCPError) as caught:
            await session.call_tool("query_warehouse", {"sql": 42})
        still_up = await session.call_tool("query_warehouse", {"sql": "select 1 as one"})

    assert caught.value.code == INVALID_PARAMS
    assert caught.value.message == (
        "invalid arguments for query_warehouse: sql: invalid type: integer `42`, expected a string"
    )
    assert still_up.is_error is False


# ---------------------------------------------------------------------------------------------
# HTTP only: authentication on /mcp, /healthz. Raw requests, so nothing hides a status code.

MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": LATEST_HANDSHAKE_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "conformance-raw", "version": "0"},
    },
}


def sse_messages(body: str) -> list[dict[str, Any]]:
    """JSON-RPC messages in an SSE body (events with empty data, e.g. priming events, skipped)."""
    messages = []
    for event in body.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:"))
        if data.strip():
            messages.append(json.loads(data))
    return messages


def response_messages(response: httpx2.Response) -> list[dict[str, Any]]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return sse_messages(response.text)
    return [response.json()]


@pytest.fixture
def raw_session(http_server) -> Iterator[tuple[httpx2.Client, str]]:
    """An authenticated, initialized MCP session made by hand: (client, Mcp-Session-Id)."""
    with httpx2.Client(base_url=http_server.base_url, timeout=30) as client:
        init = client.post("/mcp", headers={**MCP_ACCEPT, **http_server.auth_headers()}, json=INITIALIZE)
        assert init.status_code == 200, init.text
        session_id = init.headers.get("mcp-session-id")
        assert session_id, init.headers
        [message] = response_messages(init)
        assert message["result"]["protocolVersion"] == LATEST_HANDSHAKE_VERSION
        initialized = client.post(
            "/mcp",
            headers={
                **MCP_ACCEPT,
                **http_server.auth_headers(),
                "Mcp-Session-Id": session_id,
                "Mcp-Protocol-Version": LATEST_HANDSHAKE_VERSION,
            },
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )
        assert initialized.status_code == 202, initialized.text
        yield client, session_id
        client.delete("/mcp", headers={**http_server.auth_headers(), "Mcp-Session-Id": session_id})


BAD_CREDENTIALS = [
    pytest.param(None, None, id="no-authorization"),
    pytest.param("Bearer stw_" + "0" * 64, "invalid_token", id="wrong-token"),
    pytest.param("Basic Y29uZm9ybWFuY2U6eA==", "invalid_request", id="not-bearer"),
]


@pytest.mark.parametrize(("authorization", "oauth_error"), BAD_CREDENTIALS)
def test_http_rejects_bad_credentials_before_any_tool_runs(
    http_server, raw_session, steward, authorization, oauth_error
) -> None:
    client, session_id = raw_session
    canary = f"canary-{uuid.uuid4().hex}"
    arguments = {"sql": f"select '{canary}' as marker"}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "query_warehouse", "arguments": arguments},
    }
    base_headers = {**MCP_ACCEPT, "Mcp-Session-Id": session_id, "Mcp-Protocol-Version": LATEST_HANDSHAKE_VERSION}
    bad = {} if authorization is None else {"Authorization": authorization}

    # A valid session id does not stand in for credentials, and neither does skipping the session.
    for label, response in [
        ("tools/call in a live session", client.post("/mcp", headers={**base_headers, **bad}, json=call)),
        ("initialize", client.post("/mcp", headers={**MCP_ACCEPT, **bad}, json=INITIALIZE)),
        ("GET stream", client.get("/mcp", headers={"Accept": "text/event-stream", **bad})),
    ]:
        assert response.status_code == 401, (label, response.status_code, response.text)
        challenge = response.headers.get("www-authenticate", "")
        assert challenge.startswith('Bearer realm="steward"'), (label, challenge)
        if oauth_error is None:
            # RFC 6750 3.1: no error code when the request carried no credentials at all.
            assert "error=" not in challenge, (label, challenge)
        else:
            assert f'error="{oauth_error}"' in challenge, (label, challenge)
        assert canary not in response.text, (label, response.text)
        body = response.json()
        assert set(body) == {"error"} and isinstance(body["error"], str), (label, body)
    assert steward.audited_calls(arguments) == [], "a rejected request reached the tool registry"

    # Control: the very same request with the right token runs the tool and is audited, so the
    # two checks above would have seen it.
    good = client.post("/mcp", headers={**base_headers, **http_server.auth_headers()}, json=call)
    assert good.status_code == 200, good.text
    [reply] = [m for m in response_messages(good) if m.get("id") == 2]
    assert reply["result"]["structuredContent"]["rows"] == [[canary]]
    assert steward.audited_calls(arguments) == [
        {
            "channel": "mcp-http",
            "on_behalf_of": http_server.principal,
            "principal_kind": "agent",
            "tool": "query_warehouse",
            "outcome": "ok",
        }
    ]


def test_healthz_needs_no_token(http_server) -> None:
    response = httpx2.get(f"{http_server.base_url}/healthz", timeout=30)
    assert response.status_code == 200, response.text
    assert response.text.strip() == "ok"
