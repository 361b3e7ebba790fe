#!/usr/bin/env python3
"""Scripted MCP session against Steward, for `make demo`.

Spawns `$STEWARD_BIN serve` (MCP over stdio) with the official Python MCP SDK and walks through
what a client sees: the handshake, the tool list, browsing the demo warehouse, one analytical
query, a DELETE that the read-only tool refuses, and the same DELETE through execute_statement:
held for approval, approved by an on-call engineer on the CLI, run exactly once, and audited.
Every step checks its outcome; the script exits 1 if any step is not what the demo expects
(e.g. the DELETE is not refused), 2 if it cannot start.

    eval "$(scripts/dev-services env)"
    $STEWARD_DEV_PYTHON scripts/demo/mcp_session.py

Environment: STEWARD_DATABASE_URL (required), STEWARD_BIN (default
~/.cache/steward/target/debug/steward). The demo warehouse must be loaded
(scripts/demo/warehouse.sql).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, Implementation, TextContent
from mcp.types.version import LATEST_HANDSHAKE_VERSION

DEFAULT_BIN = Path.home() / ".cache/steward/target/debug/steward"
CLIENT_INFO = Implementation(name="steward-demo", version="1")
WIDTH = 110  # widest line the demo prints
NUMERIC_TYPES = {"int2", "int4", "int8", "numeric", "float4", "float8"}

ORDERS_BY_STATUS_SQL = """\
select status, count(*) as orders,
       sum(amount) filter (where currency = 'USD') as revenue_usd,
       sum(amount) filter (where currency = 'EUR') as revenue_eur
from gold.orders where ordered_at >= date '2026-11-30' - 30
group by status order by orders desc"""
DELETE_SQL = "DELETE FROM gold.orders WHERE status = 'cancelled'"
COUNT_CANCELLED_SQL = "select count(*) from gold.orders where status = 'cancelled'"


class StepFailed(Exception):
    """A step's outcome is not what the demo expects."""


# ---------------------------------------------------------------------------------------------
# Rendering


def say(line: str = "") -> None:
    print(f"    {line}".rstrip() if line else "", flush=True)


def header(number: int, title: str) -> None:
    print(flush=True)
    print(f"[{number}] {title}", flush=True)


def request_line(method: str, detail: str = "") -> None:
    """The JSON-RPC request, on one line."""
    say(clip(f"-> {method} {detail}", WIDTH - 4))


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    right: frozenset[int] | set[int] = frozenset(),
    clip_last: bool = False,
) -> None:
    """A small text table; columns in `right` are right-aligned (numbers)."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]
    if clip_last:  # let the last column (e.g. a comment) take only what is left of the line
        room = WIDTH - 4 - sum(widths[:-1]) - 2 * (len(widths) - 1)
        widths[-1] = max(10, min(widths[-1], room))
        texts = [r[:-1] + [clip(r[-1], widths[-1])] for r in texts]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))
        return "  ".join(padded)

    say(line(headers))
    say(line(["-" * w for w in widths]))
    for r in texts:
        say(line(r))


def numeric_columns(columns: Sequence[dict[str, str]]) -> set[int]:
    return {i for i, c in enumerate(columns) if c["type"] in NUMERIC_TYPES}


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


# ---------------------------------------------------------------------------------------------
# Steps


async def call(
    session: ClientSession,
    tool: str,
    arguments: dict[str, Any],
    *,
    expect_error: bool = False,
    shown: str = "",
) -> CallToolResult:
    request_line("tools/call", f"{tool} {shown or json.dumps(arguments, ensure_ascii=False)}")
    try:
        result = await session.call_tool(tool, arguments)
    except MCPError as e:
        raise StepFailed(f"{tool}: JSON-RPC error {e.code}: {e.message}") from e
    if result.is_error and not expect_error:
        raise StepFailed(f"{tool} returned a tool error: {text_of(result)}")
    if expect_error and not result.is_error:
        raise StepFailed(f"{tool} was expected to be refused but succeeded: {clip(text_of(result), 300)}")
    if not expect_error and result.structured_content is None:
        raise StepFailed(f"{tool} returned no structuredContent")
    return result


async def step_initialize(session: ClientSession) -> None:
    header(1, "initialize: the handshake")
    client_info = CLIENT_INFO.model_dump(exclude_none=True)
    offer = {"protocolVersion": LATEST_HANDSHAKE_VERSION, "clientInfo": client_info}
    request_line("initialize", json.dumps(offer))
    result = await session.initialize()
    info = result.server_info
    if info.name != "steward":
        raise StepFailed(f"expected server name 'steward', got {info.name!r}")
    instructions = (result.instructions or "").strip()
    if not instructions:
        raise StepFailed("the server sent no instructions")
    say(f"server:       {info.name} {info.version}" + (f' ("{info.title}")' if info.title else ""))
    say(f"protocol:     {result.protocol_version}")
    say(f"capabilities: {', '.join(k for k, v in result.capabilities.model_dump(exclude_none=True).items())}")
    say("instructions (first line):")
    say(f"  {clip(instructions.splitlines()[0], WIDTH - 6)}")


DESTRUCTIVE_TOOLS = {"execute_statement"}
# Changes nothing itself; every tool call of the diagnosis it starts is decided on its own.
ORCHESTRATOR_TOOLS = {"diagnose_anomaly"}
READ_ONLY_TOOLS = {
    "list_tables",
    "describe_table",
    "query_warehouse",
    "approval_status",
    "run_checks",
    "profile_column",
    "compare_distributions",
    "retrieve",
    "answer",
}
EXPECTED_TOOLS = READ_ONLY_TOOLS | DESTRUCTIVE_TOOLS | ORCHESTRATOR_TOOLS


async def step_list_tools(session: ClientSession) -> None:
    header(2, "tools/list: what the server offers")
    request_line("tools/list")
    tools = (await session.list_tools()).tools
    if {t.name for t in tools} != EXPECTED_TOOLS:
        raise StepFailed(f"unexpected tools: {[t.name for t in tools]}")
    rows = []
    for t in tools:
        a = t.annotations
        destructive = t.name in DESTRUCTIVE_TOOLS
        read_only = t.name in READ_ONLY_TOOLS
        if a is None or a.read_only_hint is not read_only or a.destructive_hint is not destructive:
            raise StepFailed(f"{t.name} has the wrong annotations: {a}")
        rows.append([t.name, t.title or "", "yes" if read_only else "no", "yes" if destructive else "no"])
    table(["name", "title", "read-only", "destructive"], rows)


async def step_list_tables(session: ClientSession) -> None:
    header(3, "list_tables: the gold schema")
    result = await call(session, "list_tables", {"schema": "gold"})
    tables = result.structured_content["tables"]
    names = {t["name"] for t in tables}
    if not {"customers", "orders", "customer_features"} <= names:
        raise StepFailed(f"the demo tables are missing (seed scripts/demo/warehouse.sql): {sorted(names)}")
    say(f"{len(tables)} tables in schema gold:")
    table(
        ["table", "kind", "~rows", "comment"],
        [[t["name"], t["kind"], t["row_estimate"], t["comment"] or ""] for t in tables],
        right={2},
        clip_last=True,
    )


async def step_describe_table(session: ClientSession) -> None:
    header(4, "describe_table: gold.orders")
    result = await call(session, "describe_table", {"table": "gold.orders", "sample_rows": 3})
    d = result.structured_content
    sample = d["sample"]
    if len(sample["rows"]) != 3:
        raise StepFailed(f"expected 3 sample rows, got {len(sample['rows'])}")
    say(f"{d['kind']} gold.{d['name']}, ~{d['row_estimate']} rows, {len(d['columns'])} columns:")
    table(
        ["column", "type", "null?", "comment"],
        [[c["name"], c["type"], "yes" if c["nullable"] else "no", c["comment"] or ""] for c in d["columns"]],
        clip_last=True,
    )
    say("sample rows:")
    table([c["name"] for c in sample["columns"]], sample["rows"], right=numeric_columns(sample["columns"]))


async def step_orders_by_status(session: ClientSession) -> None:
    header(5, "query_warehouse: orders per status, last 30 days of the seed")
    result = await call(session, "query_warehouse", {"sql": ORDERS_BY_STATUS_SQL}, shown='{"sql": <below>}')
    q = result.structured_content
    for line in ORDERS_BY_STATUS_SQL.splitlines():
        say(f"  | {line}")
    statuses = {row[0] for row in q["rows"]}
    if not q["rows"] or not statuses <= {"placed", "shipped", "delivered", "cancelled", "refunded"}:
        raise StepFailed(f"unexpected result: {q['rows']}")
    if q["truncated"]:
        raise StepFailed("the result was truncated")
    table([c["name"] for c in q["columns"]], q["rows"], right=numeric_columns(q["columns"]))
    total = sum(int(row[1]) for row in q["rows"])
    say(f"{q['row_count']} rows, {total} orders since 2026-10-31. Amounts are summed per currency:")
    say("the warehouse does not convert them (see the amount column's comment).")


async def step_refused_delete(session: ClientSession) -> int:
    header(6, "query_warehouse: a DELETE, which must be refused")
    before = await call(session, "query_warehouse", {"sql": COUNT_CANCELLED_SQL})
    cancelled = int(before.structured_content["rows"][0][0])
    say(f"before: {cancelled} cancelled orders")
    result = await call(session, "query_warehouse", {"sql": DELETE_SQL}, expect_error=True)
    message = text_of(result)
    if not message.startswith("refused: DELETE is not read-only"):
        raise StepFailed(f"the DELETE failed, but not as a refusal: {message}")
    say("REFUSED (isError: true):")
    for line in textwrap.wrap(message, WIDTH - 8):
        say(f"  {line}")
    return cancelled


async def step_count_after(session: ClientSession, before: int) -> None:
    header(7, "query_warehouse: did anything change?")
    result = await call(session, "query_warehouse", {"sql": COUNT_CANCELLED_SQL})
    after = int(result.structured_content["rows"][0][0])
    if after != before:
        raise StepFailed(f"cancelled orders went from {before} to {after}: the DELETE changed data")
    say(f"cancelled orders: before {before}, after {after}: nothing was deleted")


def steward_cli(binary: Path, env: dict[str, str], *args: str) -> str:
    """Runs the operator's CLI (another process, as a colleague would) and returns its stdout."""
    say(f"$ steward {' '.join(args)}")
    done = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise StepFailed(f"steward {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    for line in done.stdout.strip().splitlines():
        say(f"  {line}")
    return done.stdout


async def step_held_for_approval(session: ClientSession) -> str:
    header(8, "execute_statement: the same DELETE, through the approval gate")
    result = await call(session, "execute_statement", {"sql": DELETE_SQL})
    pending = result.structured_content
    if pending.get("status") != "pending_approval":
        raise StepFailed(f"the DELETE was not held for approval: {pending}")
    say(f"HELD: {pending['approval_id']} needs {pending['min_approvals']} approval from "
        f"{', '.join(pending['approvers'])}")
    say(f"policy: {clip(pending['reason'], WIDTH - 12)}")
    return pending["approval_id"]


async def step_approve_and_run(
    session: ClientSession, binary: Path, env: dict[str, str], approval_id: str, cancelled: int
) -> None:
    header(9, "an on-call engineer approves on the CLI; the client runs it once")
    steward_cli(binary, env, "approvals", "approve", approval_id, "--as", "bob", "--comment", "demo")
    status = (await call(session, "approval_status", {"approval_id": approval_id})).structured_content
    say(f"approval_status: {status['state']}")
    result = (await call(session, "execute_statement", {"sql": DELETE_SQL})).structured_content
    if result.get("rows_affected") != cancelled:
        raise StepFailed(f"expected {cancelled} rows deleted, got {result}")
    say(f"EXECUTED: {result['statement_kind']} on {', '.join(result['tables'])}: {result['rows_affected']} rows")
    again = (await call(session, "execute_statement", {"sql": DELETE_SQL})).structured_content
    if again.get("status") != "pending_approval" or again.get("approval_id") == approval_id:
        raise StepFailed(f"a used approval ran again: {again}")
    say(f"the same call again needs a new approval ({again['approval_id']}): approvals run once")
    steward_cli(binary, env, "approvals", "deny", again["approval_id"], "--as", "bob", "--reason", "demo done")


def step_audit(binary: Path, env: dict[str, str]) -> None:
    header(10, "the audit ledger: every step, hash-chained")
    steward_cli(binary, env, "audit", "tail", "-n", "6")
    out = steward_cli(binary, env, "audit", "verify")
    if "intact" not in out:
        raise StepFailed(f"audit verify: {out}")


# ---------------------------------------------------------------------------------------------


def innermost(error: BaseException) -> BaseException:
    """The first real error inside the exception groups the SDK's task groups wrap errors in."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def run(binary: Path, database_url: str) -> int:
    env = {
        "STEWARD_DATABASE_URL": database_url,
        # The person at this MCP client, and a colleague who approves on the CLI.
        "STEWARD_SERVER__STDIO_PRINCIPAL": "alice",
        "STEWARD_SERVER__STDIO_GROUPS": '["analysts"]',
        "STEWARD_PEOPLE__BOB__GROUPS": '["data-oncall"]',
    }
    for key in ("STEWARD_LOG", "RUST_LOG"):
        if key in os.environ:
            env[key] = os.environ[key]
    params = StdioServerParameters(command=str(binary), args=["serve"], env=env)
    print(f"Steward MCP demo: official MCP Python SDK, stdio transport\nserver: {binary} serve")

    # The server logs to stderr; keep it out of the demo, show it only if something goes wrong.
    with tempfile.TemporaryFile("w+") as server_log:
        try:
            async with stdio_client(params, errlog=server_log) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=60, client_info=CLIENT_INFO) as session:
                    await step_initialize(session)
                    await step_list_tools(session)
                    await step_list_tables(session)
                    await step_describe_table(session)
                    await step_orders_by_status(session)
                    cancelled = await step_refused_delete(session)
                    await step_count_after(session, cancelled)
                    approval_id = await step_held_for_approval(session)
                    await step_approve_and_run(session, binary, env, approval_id, cancelled)
                    step_audit(binary, env)
        except Exception as e:  # noqa: BLE001 - every failure becomes a report and exit code 1
            failure = innermost(e)
            if isinstance(failure, StepFailed):
                reason = str(failure)
            elif isinstance(failure, MCPError):
                reason = f"JSON-RPC error {failure.code}: {failure.message}"
            else:
                reason = f"{type(failure).__name__}: {failure}"
            print(f"\nDEMO FAILED: {reason}", file=sys.stderr)
            server_log.seek(0)
            if log := server_log.read().strip():
                print("server stderr (last lines):\n" + "\n".join(log.splitlines()[-20:]), file=sys.stderr)
            return 1
    print("\nDemo OK: all 10 steps behaved as expected.")
    return 0


def main() -> int:
    database_url = os.environ.get("STEWARD_DATABASE_URL")
    if not database_url:
        print(
            'mcp_session.py: STEWARD_DATABASE_URL is not set; run: eval "$(scripts/dev-services env)"',
            file=sys.stderr,
        )
        return 2
    binary = Path(os.environ.get("STEWARD_BIN") or DEFAULT_BIN)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(
            f"mcp_session.py: no steward binary at {binary} (set STEWARD_BIN or build it: "
            "CARGO_TARGET_DIR=$HOME/.cache/steward/target cargo build --bin steward)",
            file=sys.stderr,
        )
        return 2
    return anyio.run(run, binary, database_url)


if __name__ == "__main__":
    sys.exit(main())
