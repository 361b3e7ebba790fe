#!/usr/bin/env python3
"""Checks the Rust Trino test server (tests/common/trino.rs) against the official Python client.

    $STEWARD_DEV_PYTHON tests/trino_fidelity.py --url http://127.0.0.1:PORT [--schema gold]

Runs, through `trino.dbapi` (trino==0.340.0, scripts/requirements-dev.txt): a SELECT of every
mapped type plus NULLs, a multi-page result, a syntax error, TABLE_NOT_FOUND, COLUMN_NOT_FOUND,
DDL, an INSERT (updatecount), a transaction rolled back and one committed, and a cancel. Every
HTTP exchange is observed through a `requests` hook, so the page sequence is checked too.

Prints one JSON document: {"ok": bool, "failures": [...], "checks": {name: observed}, "http": [...]}
and exits 0 when every check matched, 1 on a mismatch, 2 when the client could not run.
The SQL is Postgres-compatible Trino SQL, since the server passes statements to Postgres.
The scratch table it creates in the schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import traceback
import uuid
from decimal import Decimal
from urllib.parse import urlparse

try:
    import requests
    import trino
    from trino.dbapi import connect
    from trino.exceptions import TrinoUserError
    from trino.transaction import IsolationLevel
except ImportError as err:  # pragma: no cover - environment problem
    print(json.dumps({"ok": False, "failures": [f"cannot import trino: {err}"]}))
    sys.exit(2)

USER = "fidelity-user"
SOURCE = "steward-fidelity"
CATALOG = "postgres"

MIXED_COLUMNS = """
SELECT
    CAST(9007199254740993 AS bigint) AS c_bigint,
    CAST(-7 AS integer) AS c_integer,
    CAST(3 AS smallint) AS c_smallint,
    CAST(1.5 AS double precision) AS c_double,
    CAST(2.25 AS real) AS c_real,
    true AS c_boolean,
    CAST('héllo' AS varchar) AS c_varchar,
    CAST('ab' AS varchar(10)) AS c_varchar10,
    CAST('ab' AS char(5)) AS c_char,
    CAST(12.5 AS decimal(10,2)) AS c_decimal,
    DATE '2026-11-30' AS c_date,
    TIME '12:34:56.789' AS c_time,
    CAST(TIMESTAMP '2026-11-30 00:00:00' AS timestamp(3)) AS c_timestamp,
    CAST(TIMESTAMP WITH TIME ZONE '2026-11-30 01:02:03.5+00' AS timestamp(3) with time zone) AS c_timestamptz,
    CAST('\\x00ff10' AS bytea) AS c_varbinary,
    CAST('123e4567-e89b-12d3-a456-426614174000' AS uuid) AS c_uuid,
    CAST('{"b": [1, 2], "a": null}' AS jsonb) AS c_json,
    ARRAY[1, 2, NULL] AS c_array,
    ARRAY['x y', 'z'] AS c_array_varchar,
    jsonb_build_object('k', 'v', 'n', 1) AS c_map__map,
    json_build_object('x', 1, 'y', 'a', 'z', true) AS c_row__row
"""

# The same columns, all NULL, typed alike so that the UNION keeps precision and scale.
NULL_ROW = """
SELECT CAST(NULL AS bigint), CAST(NULL AS integer), CAST(NULL AS smallint),
       CAST(NULL AS double precision), CAST(NULL AS real), CAST(NULL AS boolean),
       CAST(NULL AS varchar), CAST(NULL AS varchar(10)), CAST(NULL AS char(5)),
       CAST(NULL AS decimal(10,2)), CAST(NULL AS date), CAST(NULL AS time),
       CAST(NULL AS timestamp(3)), CAST(NULL AS timestamp(3) with time zone),
       CAST(NULL AS bytea), CAST(NULL AS uuid), CAST(NULL AS jsonb), CAST(NULL AS integer[]),
       CAST(NULL AS text[]), CAST(NULL AS jsonb), CAST(NULL AS json)
"""

MIXED_SQL = MIXED_COLUMNS + "UNION ALL" + NULL_ROW

EXPECTED_TYPES = {
    "c_bigint": "bigint",
    "c_integer": "integer",
    "c_smallint": "smallint",
    "c_double": "double",
    "c_real": "real",
    "c_boolean": "boolean",
    "c_varchar": "varchar",
    "c_varchar10": "varchar(10)",
    "c_char": "char(5)",
    "c_decimal": "decimal(10, 2)",
    "c_date": "date",
    "c_time": "time(6)",
    "c_timestamp": "timestamp(3)",
    "c_timestamptz": "timestamp(3) with time zone",
    "c_varbinary": "varbinary",
    "c_uuid": "uuid",
    "c_json": "json",
    "c_array": "array(integer)",
    "c_array_varchar": "array(varchar)",
    "c_map": "map(varchar, varchar)",
    "c_row": "row(x bigint, y varchar, z boolean)",
}

EXPECTED_VALUES = {
    "c_bigint": 9007199254740993,
    "c_integer": -7,
    "c_smallint": 3,
    "c_double": 1.5,
    "c_real": 2.25,
    "c_boolean": True,
    "c_varchar": "héllo",
    "c_varchar10": "ab",
    "c_char": "ab   ",
    "c_decimal": Decimal("12.50"),
    "c_date": dt.date(2026, 11, 30),
    "c_time": dt.time(12, 34, 56, 789000),
    "c_timestamp": dt.datetime(2026, 11, 30, 0, 0, 0),
    "c_timestamptz": dt.datetime(2026, 11, 30, 1, 2, 3, 500000, tzinfo=dt.timezone.utc),
    "c_varbinary": b"\x00\xff\x10",
    "c_uuid": uuid.UUID("123e4567-e89b-12d3-a456-426614174000"),
    "c_json": '{"a":null,"b":[1,2]}',
    "c_array": [1, 2, None],
    "c_array_varchar": ["x y", "z"],
    "c_map": {"k": "v", "n": "1"},
    "c_row": (1, "a", True),
}


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checks: dict[str, object] = {}

    def expect(self, name: str, observed, expected) -> None:
        if observed != expected:
            self.failures.append(f"{name}: expected {expected!r}, observed {observed!r}")

    def true(self, name: str, condition: bool, detail) -> None:
        if not condition:
            self.failures.append(f"{name}: {detail!r}")


def jsonable(v):
    if isinstance(v, (dt.date, dt.time, dt.datetime, Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


class Recorder:
    """A requests response hook that keeps every exchange with its decoded body."""

    def __init__(self) -> None:
        self.exchanges: list[dict] = []

    def hook(self, response, *args, **kwargs):
        entry = {
            "method": response.request.method,
            "path": urlparse(response.url).path,
            "status": response.status_code,
            "user": response.request.headers.get("X-Trino-User"),
        }
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                entry["state"] = body.get("stats", {}).get("state")
                entry["columns"] = body.get("columns") is not None
                entry["rows"] = len(body["data"]) if isinstance(body.get("data"), list) else None
                entry["next"] = body.get("nextUri") is not None
                entry["body"] = body
        self.exchanges.append(entry)
        return response

    def mark(self) -> int:
        return len(self.exchanges)

    def since(self, mark: int) -> list[dict]:
        return self.exchanges[mark:]


def connection(args, recorder: Recorder, **kwargs):
    session = requests.Session()
    session.hooks["response"].append(recorder.hook)
    return connect(
        host=args.host,
        port=args.port,
        user=USER,
        source=SOURCE,
        catalog=CATALOG,
        schema=args.schema,
        http_scheme="http",
        http_session=session,
        **kwargs,
    )


def user_error(fn):
    try:
        fn()
    except TrinoUserError as err:
        return err
    return None


def error_summary(err) -> dict | None:
    if err is None:
        return None
    return {
        "class": type(err).__name__,
        "error_name": err.error_name,
        "error_type": err.error_type,
        "error_code": err.error_code,
        "error_location": list(err.error_location) if err.error_location else None,
        "message": err.message,
        "query_id": err.query_id,
    }


def check_protocol_shapes(c: Checker, exchanges: list[dict], name: str) -> None:
    """Every JSON page carries id, infoUri, stats and warnings; columns are repeated once seen."""
    seen_columns = False
    for e in exchanges:
        body = e.get("body")
        if body is None:
            continue
        for key in ("id", "infoUri", "stats", "warnings"):
            c.true(f"{name}.page_has_{key}", key in body, e["path"])
        if body.get("data") is not None:
            c.true(f"{name}.data_has_columns", body.get("columns") is not None, e["path"])
        if seen_columns and body.get("error") is None:
            c.true(f"{name}.columns_repeated", body.get("columns") is not None, e["path"])
        seen_columns = seen_columns or body.get("columns") is not None


def run(args) -> dict:
    c = Checker()
    recorder = Recorder()
    table = f"trino_fidelity_{uuid.uuid4().hex[:8]}"
    conn = connection(args, recorder)

    # 1. Every mapped type, then a row of NULLs.
    mark = recorder.mark()
    cur = conn.cursor()
    cur.execute(MIXED_SQL)
    rows = cur.fetchall()
    names = [d.name for d in cur.description]
    types = {d.name: d.type_code for d in cur.description}
    desc = {d.name: (d.internal_size, d.precision, d.scale) for d in cur.description}
    c.checks["mixed"] = {
        "columns": types,
        "description": desc,
        "row": dict(zip(names, jsonable(rows[0]))) if rows else None,
        "python_types": dict(zip(names, [type(v).__name__ for v in rows[0]])) if rows else None,
        "null_row": rows[1] if len(rows) > 1 else None,
    }
    c.expect("mixed.row_count", len(rows), 2)
    c.expect("mixed.column_types", types, EXPECTED_TYPES)
    if rows:
        for name, value in zip(names, rows[0]):
            c.expect(f"mixed.value.{name}", value, EXPECTED_VALUES.get(name))
        row_value = rows[0][names.index("c_row")] if "c_row" in names else None
        c.expect("mixed.row_field_names", getattr(row_value, "_names", None), ["x", "y", "z"])
        c.expect("mixed.row_field_x", getattr(row_value, "x", None), 1)
    if len(rows) > 1:
        c.expect("mixed.null_row", list(rows[1]), [None] * len(names))
    c.expect("mixed.decimal_description", desc.get("c_decimal"), (None, 10, 2))
    c.expect("mixed.char_description", desc.get("c_char"), (5, None, None))
    c.expect("mixed.timestamp_description", desc.get("c_timestamp"), (None, 3, None))
    c.expect("mixed.varchar_description", desc.get("c_varchar"), (2147483647, None, None))
    exchanges = recorder.since(mark)
    check_protocol_shapes(c, exchanges, "mixed")
    states = [e.get("state") for e in exchanges]
    c.checks["mixed"]["states"] = states
    c.expect("mixed.first_state", states[:1], ["QUEUED"])
    c.expect("mixed.last_state", states[-1:], ["FINISHED"])
    c.expect("mixed.user_header", {e["user"] for e in exchanges}, {USER})

    # 2. DDL: CREATE TABLE.
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {CATALOG}.{args.schema}.{table} (id bigint, name varchar)")
    c.expect("ddl.fetchall", cur.fetchall(), [])
    c.checks["ddl"] = {"update_type": cur.update_type, "rowcount": cur.rowcount}
    c.expect("ddl.update_type", cur.update_type, "CREATE TABLE")
    c.expect("ddl.rowcount", cur.rowcount, -1)

    # 3. INSERT returns the update count.
    mark = recorder.mark()
    cur = conn.cursor()
    values = ", ".join(f"({i}, 'name-{i}')" for i in range(1, 8))
    cur.execute(f"INSERT INTO {CATALOG}.{args.schema}.{table} VALUES {values}")
    inserted = cur.fetchall()
    c.checks["insert"] = {
        "update_type": cur.update_type,
        "rowcount": cur.rowcount,
        "rows": inserted,
        "description": [(d.name, d.type_code) for d in cur.description or []],
    }
    c.expect("insert.update_type", cur.update_type, "INSERT")
    c.expect("insert.rowcount", cur.rowcount, 7)
    c.expect("insert.rows", inserted, [[7]])
    check_protocol_shapes(c, recorder.since(mark), "insert")

    # 4. A result over several pages (2 rows a page by default).
    mark = recorder.mark()
    cur = conn.cursor()
    cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
    multi = cur.fetchall()
    exchanges = recorder.since(mark)
    data_pages = [e["rows"] for e in exchanges if e.get("rows")]
    c.checks["multi_page"] = {
        "row_count": len(multi),
        "data_pages": data_pages,
        "states": [e.get("state") for e in exchanges],
        "first": multi[:1],
        "last": multi[-1:],
    }
    c.expect("multi_page.rows", multi, [[i, f"name-{i}"] for i in range(1, 8)])
    c.true("multi_page.several_pages", len(data_pages) >= 2, data_pages)
    c.true(
        "multi_page.empty_running_page",
        any(e.get("state") == "RUNNING" and not e.get("rows") for e in exchanges),
        [e.get("state") for e in exchanges],
    )
    check_protocol_shapes(c, exchanges, "multi_page")

    # 5. Syntax error.
    err = user_error(lambda: conn.cursor().execute("SELECT id\nFORM orders"))
    c.checks["syntax_error"] = error_summary(err)
    c.true("syntax_error.raised", err is not None, "no TrinoUserError")
    if err is not None:
        c.expect("syntax_error.error_name", err.error_name, "SYNTAX_ERROR")
        c.expect("syntax_error.error_type", err.error_type, "USER_ERROR")
        c.expect("syntax_error.error_code", err.error_code, 1)
        # `FORM` parses as a column alias, so the error is at `orders`, as in Trino.
        c.expect("syntax_error.error_location", err.error_location, (2, 6))
        c.expect("syntax_error.exception", err.error_exception, "io.trino.sql.parser.ParsingException")

    # 6. Table not found (the catalog prefix is accepted).
    err = user_error(lambda: conn.cursor().execute(f"SELECT * FROM {CATALOG}.{args.schema}.no_such_table"))
    c.checks["table_not_found"] = error_summary(err)
    c.true("table_not_found.raised", err is not None, "no TrinoUserError")
    if err is not None:
        c.expect("table_not_found.error_name", err.error_name, "TABLE_NOT_FOUND")
        c.expect("table_not_found.error_code", err.error_code, 46)
        c.expect("table_not_found.error_location", err.error_location, (1, 15))
        c.true("table_not_found.message", f"'{CATALOG}.{args.schema}.no_such_table'" in err.message, err.message)

    # 7. Column not found.
    err = user_error(lambda: conn.cursor().execute(f"SELECT nope FROM {table}"))
    c.checks["column_not_found"] = error_summary(err)
    c.true("column_not_found.raised", err is not None, "no TrinoUserError")
    if err is not None:
        c.expect("column_not_found.error_name", err.error_name, "COLUMN_NOT_FOUND")
        c.expect("column_not_found.error_code", err.error_code, 47)
        c.expect("column_not_found.error_location", err.error_location, (1, 8))

    # 8. Transactions: a rolled-back insert leaves nothing, a committed one stays.
    tx_conn = connection(args, recorder, isolation_level=IsolationLevel.READ_COMMITTED)
    cur = tx_conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (100, 'rolled back')")
    cur.fetchall()
    transaction_id = tx_conn.transaction.id if tx_conn.transaction else None
    tx_conn.rollback()
    cur = tx_conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (101, 'committed')")
    cur.fetchall()
    tx_conn.commit()
    cur = conn.cursor()
    cur.execute(f"SELECT id FROM {table} WHERE id >= 100 ORDER BY id")
    after = cur.fetchall()
    c.checks["transaction"] = {"transaction_id": transaction_id, "rows_after": after}
    c.true("transaction.id", bool(transaction_id) and transaction_id != "NONE", transaction_id)
    c.expect("transaction.rows_after", after, [[101]])

    # 9. Cancel: DELETE on nextUri, then the query reports USER_CANCELED.
    mark = recorder.mark()
    cur = conn.cursor()
    cur.execute(f"SELECT id FROM {table} ORDER BY id")
    first = cur.fetchone()
    cur.cancel()
    err = user_error(cur.fetchall)
    exchanges = recorder.since(mark)
    deletes = [e for e in exchanges if e["method"] == "DELETE"]
    c.checks["cancel"] = {
        "first_row": first,
        "delete_status": [e["status"] for e in deletes],
        "after_cancel": error_summary(err),
    }
    c.expect("cancel.first_row", first, [1])
    c.expect("cancel.delete_status", [e["status"] for e in deletes], [204])
    c.true("cancel.raised", err is not None, "no TrinoUserError after cancel")
    if err is not None:
        c.expect("cancel.error_name", err.error_name, "USER_CANCELED")
        c.expect("cancel.error_type", err.error_type, "USER_ERROR")

    # Clean up.
    cur = conn.cursor()
    cur.execute(f"DROP TABLE {table}")
    cur.fetchall()
    c.expect("cleanup.update_type", cur.update_type, "DROP TABLE")

    return {
        "ok": not c.failures,
        "failures": c.failures,
        "client": f"trino {trino.__version__}",
        "checks": jsonable(c.checks),
        "http": [{k: v for k, v in e.items() if k != "body"} for e in recorder.exchanges],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT of the test server")
    parser.add_argument("--schema", default="gold", help="schema for the scratch table (default gold)")
    args = parser.parse_args()
    url = urlparse(args.url)
    args.host, args.port = url.hostname or "127.0.0.1", url.port or 8080
    try:
        report = run(args)
    except Exception as err:  # the client blew up: report it as data
        report = {"ok": False, "failures": [f"{type(err).__name__}: {err}"], "traceback": traceback.format_exc()}
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
