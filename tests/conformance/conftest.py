"""Fixtures for the MCP conformance suite: a real `steward` binary driven by the official
Python MCP SDK (`mcp` 2.x) over stdio and streamable HTTP, against the local PostgreSQL with
the demo warehouse (`scripts/demo/warehouse.sql`) loaded.

Environment:
  STEWARD_DATABASE_URL  required; `eval "$(scripts/dev-services env)"` sets it
  STEWARD_BIN           the server binary (default ~/.cache/steward/target/debug/steward)
  STEWARD_PG_BIN        folder holding psql (set by dev-services; else psql from PATH)

Nothing is skipped: a missing prerequisite fails every test with a message saying what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.session import ElicitationFnT
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation
from mcp.types.version import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

if sys.version_info < (3, 11):  # BaseExceptionGroup and add_note
    raise RuntimeError("the conformance suite needs Python 3.11+")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = Path.home() / ".cache/steward/target/debug/steward"
BUILD_HINT = f"cd {REPO_ROOT} && CARGO_TARGET_DIR=$HOME/.cache/steward/target cargo build --bin steward"
SEED_HINT = f"cd {REPO_ROOT} && scripts/dev-services psql -v ON_ERROR_STOP=1 -q -f scripts/demo/warehouse.sql"

CLIENT_INFO = Implementation(name="steward-conformance", version="1")
# Seconds any single MCP request may take before the SDK gives up with an error.
REQUEST_TIMEOUT = 30.0
# Seconds the HTTP server gets to print its listening line.
STARTUP_TIMEOUT = 30.0

LISTENING_LINE = re.compile(r"steward: MCP over streamable HTTP at (http://\S+/mcp)")
TOKEN_LINE = re.compile(r"^token \(.*\): (stw_[0-9a-f]+)\s*$", re.MULTILINE)

# Which way the session negotiates its protocol version:
#   initialize - the handshake (ClientSession.initialize), newest handshake-era version
#   discover   - the 2026-07-28 per-request envelope (ClientSession.discover, server/discover)
ERAS = {"initialize": LATEST_HANDSHAKE_VERSION, "discover": LATEST_MODERN_VERSION}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# ---------------------------------------------------------------------------------------------
# The environment: binary, database, psql, seed.


@dataclass(frozen=True)
class Steward:
    """The binary under test and a psql channel to the same database, independent of MCP."""

    bin: Path
    database_url: str
    psql_bin: str
    version: str  # from `steward --version`

    def server_env(self) -> dict[str, str]:
        """A clean environment for a server process: nothing from the caller leaks in
        (no STEWARD_CONFIG, no STEWARD_* overrides) except the database URL."""
        env = {"STEWARD_DATABASE_URL": self.database_url, "LANG": "C.UTF-8"}
        for key in ("PATH", "HOME", "TMPDIR"):
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    def psql(self, sql: str) -> str:
        """Runs one statement with psql and returns its unaligned, tuples-only output."""
        proc = subprocess.run(
            [self.psql_bin, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.database_url, "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise AssertionError(f"psql failed ({proc.returncode}) on {sql!r}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def scalar_int(self, sql: str) -> int:
        return int(self.psql(sql))

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Runs `steward ARGS...` (e.g. `approvals approve ID --as bob`) in a clean environment
        plus `env` (e.g. STEWARD_PEOPLE__BOB__GROUPS), capturing its text output."""
        return subprocess.run(
            [str(self.bin), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**self.server_env(), **(env or {})},
        )

    def audited_calls(self, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        """Tool calls in the audit ledger (steward.audit_ledger) made with exactly these
        arguments. MCP calls are recorded as the client's agent acting for the token's human."""
        literal = json.dumps(arguments, ensure_ascii=False).replace("'", "''")
        out = self.psql(
            "select coalesce(json_agg(json_build_object("
            "'channel', channel, 'on_behalf_of', on_behalf_of, 'principal_kind', principal_kind, "
            "'tool', tool, 'outcome', outcome) order by seq), '[]') "
            f"from steward.audit_ledger where event = 'tool_call' and arguments = '{literal}'::jsonb"
        )
        return json.loads(out)


@pytest.fixture(scope="session")
def steward() -> Steward:
    database_url = os.environ.get("STEWARD_DATABASE_URL")
    if not database_url:
        pytest.fail(
            "STEWARD_DATABASE_URL is not set. Start the local services and load their environment:\n"
            f"    cd {REPO_ROOT} && scripts/dev-services start && eval \"$(scripts/dev-services env)\"",
            pytrace=False,
        )

    binary = Path(os.environ.get("STEWARD_BIN") or DEFAULT_BIN)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"steward binary not found at {binary} (STEWARD_BIN). Build it:\n    {BUILD_HINT}", pytrace=False)

    pg_bin = os.environ.get("STEWARD_PG_BIN")
    psql_bin = str(Path(pg_bin) / "psql") if pg_bin else shutil.which("psql")
    if not psql_bin or not os.access(psql_bin, os.X_OK):
        pytest.fail(
            "psql not found: set STEWARD_PG_BIN (eval \"$(scripts/dev-services env)\") or put psql on PATH",
            pytrace=False,
        )

    version_out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    match = re.fullmatch(r"steward (\S+)\s*", version_out.stdout)
    if version_out.returncode != 0 or not match:
        pytest.fail(f"`{binary} --version` failed: {version_out.stdout!r} {version_out.stderr!r}", pytrace=False)

    env = Steward(bin=binary, database_url=database_url, psql_bin=psql_bin, version=match.group(1))
    try:
        seeded = env.psql("select to_regclass('gold.customers') is not null and to_regclass('gold.orders') is not null")
    except AssertionError as e:
        pytest.fail(f"cannot reach the database in STEWARD_DATABASE_URL: {e}", pytrace=False)
    if seeded != "t":
        pytest.fail(f"the demo warehouse (schema gold) is not loaded. Seed it:\n    {SEED_HINT}", pytrace=False)
    return env


# ---------------------------------------------------------------------------------------------
# The HTTP server: one per test session, on an ephemeral port, with a fresh bearer token.


@dataclass
class HttpServer:
    url: str  # http://127.0.0.1:PORT/mcp
    token: str
    principal: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url.removesuffix("/mcp")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log_text(self) -> str:
        return "".join(self.log[-50:])


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def http_server(steward: Steward, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    principal = "conformance"
    minted = subprocess.run(
        [str(steward.bin), "token", "new", "--principal", principal, "--group", "data-oncall"],
        capture_output=True,
        text=True,
        timeout=30,
        env=steward.server_env(),
    )
    assert minted.returncode == 0, f"`steward token new` failed: {minted.stderr}"
    token_match = TOKEN_LINE.search(minted.stdout)
    assert token_match, f"no token line in `steward token new` output:\n{minted.stdout}"
    block = minted.stdout[minted.stdout.index("[[server.tokens]]") :]
    assert re.search(r'^sha256 = "[0-9a-f]{64}"$', block, re.MULTILINE), block
    assert token_match.group(1) not in block, "the config block must hold only the token's hash"

    config = tmp_path_factory.mktemp("steward-http") / "steward.toml"
    config.write_text(block)

    process = subprocess.Popen(
        [str(steward.bin), "serve", "--http", "127.0.0.1:0", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=steward.server_env(),
    )
    log: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump_stderr() -> None:
        # Keeps draining stderr for the server's whole life, so it can never block on a full pipe.
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if not found and (m := LISTENING_LINE.search(line)):
                found.append(m.group(1))
                ready.set()
        ready.set()  # EOF: the server exited

    pump = threading.Thread(target=pump_stderr, name="steward-http-stderr", daemon=True)
    pump.start()
    try:
        ready.wait(STARTUP_TIMEOUT)
        if not found:
            state = "exited with " + str(process.poll()) if process.poll() is not None else "still running"
            raise AssertionError(
                f"steward serve --http printed no listening line within {STARTUP_TIMEOUT:.0f}s "
                f"({state}); stderr:\n{''.join(log)}"
            )
        yield HttpServer(url=found[0], token=token_match.group(1), principal=principal, process=process, log=log)
    finally:
        _stop(process)
        pump.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


# ---------------------------------------------------------------------------------------------
# MCP sessions through the official SDK.


@dataclass
class Connection:
    """How a test reaches the server: transport (stdio | http) and era (initialize | discover)."""

    transport: str
    era: str
    steward: Steward
    http: HttpServer | None
    log_dir: Path
    # Extra environment for the stdio server, e.g. STEWARD_SERVER__STDIO_PRINCIPAL (HTTP ignores it).
    stdio_env: dict[str, str] = field(default_factory=dict)

    @property
    def expected_version(self) -> str:
        return ERAS[self.era]

    @asynccontextmanager
    async def session(self, *, elicitation_callback: ElicitationFnT | None = None) -> AsyncIterator[ClientSession]:
        """A ClientSession that has completed the era's negotiation (initialize or discover).

        With an elicitation_callback the client declares the elicitation capability and the
        callback answers the server's elicitation/create requests; without one it declares none.

        The SDK's task groups wrap whatever is raised inside them (a failed assertion in the
        test body included) in exception groups; a lone error is unwrapped so pytest reports it
        as is. Errors that are not assertions carry the server's stderr as a note.
        """
        server_log: list[str] = []
        try:
            if self.transport == "stdio":
                log_path = self.log_dir / f"stdio-{time.monotonic_ns()}.log"
                params = StdioServerParameters(
                    command=str(self.steward.bin),
                    args=["serve"],
                    env={**self.steward.server_env(), **self.stdio_env},
                )
                with log_path.open("w") as errlog:
                    try:
                        async with stdio_client(params, errlog=errlog) as (read, write):
                            async with ClientSession(
                                read,
                                write,
                                REQUEST_TIMEOUT,
                                elicitation_callback=elicitation_callback,
                                client_info=CLIENT_INFO,
                            ) as session:
                                await self._negotiate(session)
                                yield session
                    finally:
                        errlog.flush()
                        server_log.append(f"steward serve (stdio) stderr:\n{log_path.read_text()[-4000:]}")
            else:
                assert self.http is not None
                headers = self.http.auth_headers()
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(REQUEST_TIMEOUT)) as client,
                    streamable_http_client(self.http.url, http_client=client) as (read, write),
                    ClientSession(
                        read, write, REQUEST_TIMEOUT, elicitation_callback=elicitation_callback, client_info=CLIENT_INFO
                    ) as session,
                ):
                    await self._negotiate(session)
                    yield session
        except Exception as error:  # an ExceptionGroup is an Exception when its members are
            leaf = _lone_error(error)
            if not isinstance(leaf, AssertionError):
                if self.http is not None:
                    server_log.append(f"steward serve --http stderr (last lines):\n{self.http.log_text()}")
                for note in server_log:
                    leaf.add_note(note)
            if leaf is error:
                raise
            raise leaf from None

    async def _negotiate(self, session: ClientSession) -> None:
        if self.era == "initialize":
            await session.initialize()
        else:
            await session.discover()


def _lone_error(error: BaseException) -> BaseException:
    """The single error inside (possibly nested) exception groups, or the group itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@pytest.fixture(
    params=[
        pytest.param(("stdio", "initialize"), id="stdio-initialize"),
        pytest.param(("http", "initialize"), id="http-initialize"),
        pytest.param(("stdio", "discover"), id="stdio-discover"),
        pytest.param(("http", "discover"), id="http-discover"),
    ]
)
def connection(request: pytest.FixtureRequest, steward: Steward, tmp_path: Path) -> Connection:
    transport, era = request.param
    http = request.getfixturevalue("http_server") if transport == "http" else None
    return Connection(transport=transport, era=era, steward=steward, http=http, log_dir=tmp_path)

