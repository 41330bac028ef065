"""The `http` benchmark's ceiling and floor approve as the app approves.

`POST /invoices/{id}/approve` of bench/ceiling.py (bare Starlette + asyncpg) and of
bench/floor.py (FastAPI + the app's session) must send the statements the app sends for
`POST /api/v1/invoices/{id}/approve`, in its order, write the same rows (approval,
history, audit, journal entry and lines, balances, event) and answer the same invoice,
on submitted invoices of the kind the benchmark seeds; otherwise the benchmark's ratios
compare different work. (Their speed is measured by `make bench BENCH=http`, never here.)
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from bench.seed import INVOICE_COLUMNS, LINE_COLUMNS, Shape, invoice_rows, shapes

from ledgerline.config import Settings
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.database import owner_sql
from tests.helpers.http import problem_code
from tests.helpers.identity import Account
from tests.helpers.invoices import API, vendor
from tests.test_bench_ceiling_create import servers, traced

SERVERS = ("app", "ceiling", "floor")
ISSUED = date(2025, 3, 14)
# Differ between two approvals of like invoices by nature: ids, numbers, vendors, times.
OWN_TO_EACH = ("id", "vendor_id", "number", "created_at", "updated_at")

__all__ = ["servers"]  # the fixture, shared with the create's test


def approve_path(server: str, invoice_id: str) -> str:
    prefix = API if server == "app" else ""
    return f"{prefix}/invoices/{invoice_id}/approve"


def insert_statement(table: str, columns: list[str]) -> str:
    """An INSERT of the seed's columns (its own names: nothing from outside)."""
    values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


async def seed_submitted(
    settings: Settings,
    tenant: UUID,
    vendor_id: str,
    count: int,
    prefix: str,
    line_shapes: list[Shape] | None = None,
) -> list[str]:
    """`count` submitted two-line invoices of the vendor at version 2, as the benchmark
    seeds them (bench.seed.invoice_rows), written as the owner under row security; with
    `line_shapes`, lines drawn from those alike for every prefix."""
    rng = random.Random(prefix if line_shapes is None else 0)  # noqa: S311 (not a secret)
    rows = list(
        invoice_rows(
            rng,
            tenant,
            [(UUID(vendor_id), "EUR")],
            count,
            line_shapes or shapes(rng),
            [(ISSUED, ISSUED)],
            lines=2,
            status="submitted",
            version=2,
            prefix=prefix,
        )
    )
    connection = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        async with connection.transaction():
            await connection.execute(f"SET LOCAL app.tenant_id = '{tenant}'")
            await connection.executemany(
                insert_statement("invoices", INVOICE_COLUMNS),
                [invoice for invoice, _ in rows],
            )
            await connection.executemany(
                insert_statement("invoice_lines", LINE_COLUMNS),
                [line for _, lines in rows for line in lines],
            )
    finally:
        await connection.close()
    return [str(invoice[1]) for invoice, _ in rows]


async def approve(
    http: httpx.AsyncClient, server: str, owner: Account, invoice_id: str, if_match: str = '"2"'
) -> httpx.Response:
    return await http.post(
        approve_path(server, invoice_id), headers={**owner.headers, "If-Match": if_match}
    )


async def test_ceiling_and_floor_send_the_apps_statements_in_its_order(
    servers: dict[str, httpx.AsyncClient],
    owner: Account,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vendor_id = await vendor(servers["app"], owner)
    invoices = await seed_submitted(settings, owner.tenant_id, vendor_id, 6, "TRC")
    statements = {}
    for n, (server, http) in enumerate(servers.items()):
        # Once untraced: the balance rows exist after the first approval, and the first
        # statements of a process may prepare what later ones reuse.
        warm = await approve(http, server, owner, invoices[2 * n])
        assert warm.status_code == 200, warm.text
        with traced(monkeypatch) as sent:
            answer = await approve(http, server, owner, invoices[2 * n + 1])
        assert answer.status_code == 200, answer.text
        statements[server] = sent

    app = statements["app"]
    assert app[0] == f"BEGIN; SET LOCAL app.tenant_id = '{owner.tenant_id}'"
    assert app[-1] == "COMMIT"
    assert statements["ceiling"] == app
    # BEGIN, caller, invoice locked, near duplicates, policy, approvers, approval, invoice
    # update, history, lines, vendor's expense account, asset lines, account ids, audit,
    # accounts, parties, closed periods, entry, balances, journal lines, the event's lock
    # and row, COMMIT.
    assert len(app) == 23
    assert statements["floor"] == app


async def test_ceiling_and_floor_write_and_answer_what_the_app_does(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    # Like invoices (the same lines, total and day) of a vendor each: no near duplicates.
    line_shapes = shapes(random.Random(3))[:2]  # noqa: S311
    invoices = {}
    for server in SERVERS:
        vendor_id = await vendor(servers["app"], owner, name=f"Vendor {server}")
        (invoices[server],) = await seed_submitted(
            settings, owner.tenant_id, vendor_id, 1, f"W{server}", line_shapes
        )
    answers = {}
    for server, http in servers.items():
        answer = await approve(http, server, owner, invoices[server])
        assert answer.status_code == 200, answer.text
        assert answer.headers["etag"] == '"3"'
        answers[server] = answer.json()

    expected = answers["app"]
    assert expected["status"] == "approved"
    assert len(expected["lines"]) == 2
    for server in ("ceiling", "floor"):
        got = answers[server]
        assert got.keys() == expected.keys()
        assert {k: v for k, v in got.items() if k not in OWN_TO_EACH} == {
            k: v for k, v in expected.items() if k not in OWN_TO_EACH
        }
        assert got["id"] == invoices[server]

    async def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in await owner_sql(settings, owner.tenant_id, sql, *args)]

    stored = {}
    for server in SERVERS:
        invoice_id = UUID(invoices[server])
        (entry,) = await rows("SELECT * FROM journal_entries WHERE source_id = $1", invoice_id)
        stored[server] = {
            "invoice": await rows("SELECT * FROM invoices WHERE id = $1", invoice_id),
            "approvals": await rows(
                "SELECT * FROM invoice_approvals WHERE invoice_id = $1", invoice_id
            ),
            "history": await rows(
                "SELECT * FROM invoice_status_history WHERE invoice_id = $1", invoice_id
            ),
            "audit": await rows("SELECT * FROM audit_events WHERE target_id = $1", invoice_id),
            "events": await rows("SELECT * FROM domain_events WHERE subject_id = $1", invoice_id),
            "entry": [entry],
            "lines": await rows(
                "SELECT l.*, a.code FROM journal_lines l"
                " JOIN ledger_accounts a ON a.id = l.account_id"
                " WHERE l.entry_id = $1 ORDER BY a.code",
                entry["id"],
            ),
        }

    own = {
        *OWN_TO_EACH,
        "invoice_id",
        "target_id",
        "subject_id",
        "source_id",
        "entry_id",
        "occurred_at",
        "submitted_at",
        "approved_at",
        "posted_at",
        "request_id",
        "user_agent",
        "number_key",
        "memo",
        "changes",
        "channels",
        "data",
        "account_seq",  # each approval's place in its accounts' sequences: checked below
        "balance_after",
    }

    def comparable(found: dict[str, list[dict[str, Any]]]) -> Any:
        return {
            table: [{k: v for k, v in row.items() if k not in own} for row in table_rows]
            for table, table_rows in found.items()
        }

    for server in ("ceiling", "floor"):
        theirs, ours = comparable(stored[server]), comparable(stored["app"])
        for table, table_rows in ours.items():
            for row, their_row in zip(table_rows, theirs[table], strict=True):
                differing = {k: (v, their_row[k]) for k, v in row.items() if their_row[k] != v}
                assert not differing, (server, table, differing)
    for server in SERVERS:
        found = stored[server]
        assert [len(found[table]) for table in found] == [1, 1, 1, 1, 1, 1, 3]
        (entry,) = found["entry"]
        assert entry["memo"] == f"Invoice W{server}-000001"
        assert {line["code"] for line in found["lines"]} == {"1400", "2000", "6000"}
        (audit,) = found["audit"]
        assert json.loads(audit["changes"]) == {
            "status": {"before": "submitted", "after": "approved"},
            "journal_entry_id": str(entry["id"]),
        }
        (event,) = found["events"]
        assert event["type"] == "invoice.approved"
        assert event["channels"] == ["invoices", f"invoice:{invoices[server]}", "dashboard"]
        assert json.loads(event["data"]) == {
            **json.loads(stored["app"]["events"][0]["data"]),
            "number": f"W{server}-000001",
        }

    # The three approvals moved the same balances one after the other: each line's place
    # in its account's sequence and the balance after it follow on from the one before,
    # and the balance rows hold what the lines add up to.
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for server in SERVERS:
        for line in stored[server]["lines"]:
            by_account[line["code"]].append(line)
    balances = {
        row["code"]: row
        for row in await rows(
            "SELECT a.code, b.* FROM ledger_balances b JOIN ledger_accounts a"
            " ON a.id = b.account_id"
        )
    }
    for code, lines in by_account.items():
        assert [line["account_seq"] for line in lines] == [1, 2, 3], code
        running = Decimal("0.00")
        for line in lines:
            running += line["debit"] - line["credit"]
            assert line["balance_after"] == running, code
        assert balances[code]["balance"] == running
        assert balances[code]["line_count"] == 3


async def test_ceiling_and_floor_refuse_as_the_app_does(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    vendor_id = await vendor(servers["app"], owner)
    invoices = await seed_submitted(settings, owner.tenant_id, vendor_id, 3, "REF")
    for server, invoice_id in zip(SERVERS, invoices, strict=True):
        http = servers[server]
        stale = await approve(http, server, owner, invoice_id, if_match='"1"')
        assert stale.status_code == 412, (server, stale.text)
        assert problem_code(stale) == "version_conflict"
        assert stale.json()["current_etag"] == '"2"'
        unconditional = await http.post(approve_path(server, invoice_id), headers=owner.headers)
        assert unconditional.status_code == 428, (server, unconditional.text)
        assert problem_code(unconditional) == "if_match_required"
        unknown = await approve(http, server, owner, str(owner.user_id))
        assert unknown.status_code == 404, (server, unknown.text)
        assert problem_code(unknown) == "invoice_not_found"
    # Nothing was written by the refusals.
    assert await owner_sql(settings, owner.tenant_id, "SELECT count(*) FROM journal_entries") == [
        (0,)
    ]
    assert await owner_sql(settings, owner.tenant_id, "SELECT count(*) FROM invoice_approvals") == [
        (0,)
    ]

    # Approved once by the app, then again by each: not submitted any more.
    first = await approve(servers["app"], "app", owner, invoices[0])
    assert first.status_code == 200, first.text
    for server, http in servers.items():
        again = await approve(http, server, owner, invoices[0], if_match='"3"')
        assert again.status_code == 409, (server, again.text)
        assert problem_code(again) == "illegal_transition"
        assert again.json()["current_status"] == "approved"
    assert await owner_sql(settings, owner.tenant_id, "SELECT count(*) FROM journal_entries") == [
        (1,)
    ]


async def test_ceiling_and_floor_refuse_possible_duplicates_as_the_app_does(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    # Two like invoices (the same lines, total and day) of one vendor: each the other's twin.
    line_shapes = shapes(random.Random(5))[:2]  # noqa: S311
    vendor_id = await vendor(servers["app"], owner)
    (first,) = await seed_submitted(settings, owner.tenant_id, vendor_id, 1, "DUPA", line_shapes)
    (second,) = await seed_submitted(settings, owner.tenant_id, vendor_id, 1, "DUPB", line_shapes)
    for server, http in servers.items():
        twin = await approve(http, server, owner, first)
        assert twin.status_code == 409, (server, twin.text)
        assert problem_code(twin) == "possible_duplicate"
        assert twin.json()["possible_duplicate_of"] == [second]
    counted = (
        "SELECT (SELECT count(*) FROM invoice_approvals)"
        " + (SELECT count(*) FROM audit_events WHERE target_id = $1)"
    )
    assert await owner_sql(settings, owner.tenant_id, counted, UUID(first)) == [(0,)]


async def test_what_the_ceiling_does_not_do_it_refuses_and_writes_nothing(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    """A policy asking for two approvals: the app records the first and leaves the
    invoice submitted; the ceiling and the floor, which only do the approval that posts,
    refuse rather than answer otherwise."""
    current = await servers["app"].get(f"{API}/approval-policy", headers=owner.headers)
    changed = await servers["app"].put(
        f"{API}/approval-policy",
        json={"thresholds": [{"min_amount": "0.00", "approvals": 2}]},
        headers={**owner.headers, "If-Match": current.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    vendor_id = await vendor(servers["app"], owner)
    invoices = await seed_submitted(settings, owner.tenant_id, vendor_id, 3, "TWO")
    for server, invoice_id in zip(SERVERS, invoices, strict=True):
        answer = await approve(servers[server], server, owner, invoice_id)
        if server == "app":
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "submitted"
        else:
            assert answer.status_code == 409, (server, answer.text)
            assert problem_code(answer) == "outside_the_ceiling"
    approvals = await owner_sql(
        settings, owner.tenant_id, "SELECT invoice_id FROM invoice_approvals"
    )
    assert [str(row["invoice_id"]) for row in approvals] == [invoices[0]]
