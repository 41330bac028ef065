"""The dashboard's figures against values computed by hand on a seeded set.

The set, made through the API in one tenant (all issued 2026-01-01, in EUR, no tax),
read as of 2026-06-30:

    vendor  number  total    due          days past due  bucket
    Alpha   D-01     100.00  2026-07-15   -15            current
    Alpha   D-02     300.00  2026-06-29     1            1-30
    Alpha   D-03     500.00  2026-05-30    31            31-60
    Alpha   D-04     700.00  2026-04-30    61            61-90
    Alpha   D-05     900.00  2026-03-31    91            90+ (150.00 paid: 750.00 open)
    Alpha   D-06    1100.00  2026-02-01   149            90+
    Beta    D-07      50.00  2026-08-01   -32            current
    Beta    D-08     200.00  2026-06-30     0            current
    Beta    D-09     400.00  2026-05-31    30            1-30
    Beta    D-10     600.00  2026-05-01    60            31-60
    Beta    D-11     800.00  2026-04-01    90            61-90
    Beta    D-12    1000.00  2026-01-15   166            90+

and beside them: a draft (Alpha, 10.00), a submitted invoice (Alpha, 30.00, flagged as a
possible duplicate), a rejected one (Beta, 20.00) and a paid one (Alpha, P-13, 40.00).
Alpha has no tax id, email or bank account; Beta has a tax id and an email.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx

from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.http import API
from tests.helpers.identity import Account, signup

AS_OF = "2026-06-30"
ISSUED = "2026-01-01"
AGING_SET = [
    ("alpha", "D-01", "100.00", "2026-07-15"),
    ("alpha", "D-02", "300.00", "2026-06-29"),
    ("alpha", "D-03", "500.00", "2026-05-30"),
    ("alpha", "D-04", "700.00", "2026-04-30"),
    ("alpha", "D-05", "900.00", "2026-03-31"),
    ("alpha", "D-06", "1100.00", "2026-02-01"),
    ("beta", "D-07", "50.00", "2026-08-01"),
    ("beta", "D-08", "200.00", "2026-06-30"),
    ("beta", "D-09", "400.00", "2026-05-31"),
    ("beta", "D-10", "600.00", "2026-05-01"),
    ("beta", "D-11", "800.00", "2026-04-01"),
    ("beta", "D-12", "1000.00", "2026-01-15"),
]


async def _vendor(client: httpx.AsyncClient, who: Account, **fields: str) -> str:
    body = {"default_currency": "EUR", "payment_terms_days": 30} | fields
    response = await client.post(f"{API}/vendors", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _invoice(
    client: httpx.AsyncClient, who: Account, vendor_id: str, number: str, total: str, due: str
) -> tuple[str, str]:
    line = {"description": "Goods", "quantity": "1", "unit_price": total, "tax_rate": "0"}
    response = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": vendor_id,
            "number": number,
            "issue_date": ISSUED,
            "due_date": due,
            "lines": [line],
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), response.headers["etag"]


async def _act(
    client: httpx.AsyncClient,
    who: Account,
    invoice_id: str,
    etag: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> str:
    response = await client.post(
        f"{API}/invoices/{invoice_id}/{action}", json=body, headers=who.headers | {"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def seed(client: httpx.AsyncClient, owner: Account, settings: Settings) -> None:
    vendors = {
        "alpha": await _vendor(client, owner, name="Alpha Supplies"),
        "beta": await _vendor(
            client, owner, name="Beta Tools", tax_id="DE 123 456 789", email="ap@beta.example"
        ),
    }
    for vendor, number, total, due in AGING_SET:
        invoice_id, etag = await _invoice(client, owner, vendors[vendor], number, total, due)
        etag = await _act(client, owner, invoice_id, etag, "submit")
        etag = await _act(client, owner, invoice_id, etag, "approve")
        if number == "D-05":
            await _act(
                client,
                owner,
                invoice_id,
                etag,
                "pay",
                {"paid_on": "2026-06-15", "amount": "150.00"},
            )
    await _invoice(client, owner, vendors["alpha"], "X-DRAFT", "10.00", "2026-07-01")
    submitted, etag = await _invoice(
        client, owner, vendors["alpha"], "X-SUB", "30.00", "2026-07-01"
    )
    await _act(client, owner, submitted, etag, "submit")
    rejected, etag = await _invoice(client, owner, vendors["beta"], "X-REJ", "20.00", "2026-07-01")
    etag = await _act(client, owner, rejected, etag, "submit")
    await _act(client, owner, rejected, etag, "reject", {"reason": "wrong goods"})
    paid, etag = await _invoice(client, owner, vendors["alpha"], "P-13", "40.00", "2026-03-01")
    etag = await _act(client, owner, paid, etag, "submit")
    etag = await _act(client, owner, paid, etag, "approve")
    await _act(client, owner, paid, etag, "pay", {"paid_on": "2026-02-01", "amount": "40.00"})
    # Submitted at midnight, approved 1 to 13 hours later: the median is 7 hours.
    await owner_sql(
        settings,
        owner.tenant_id,
        """
        UPDATE invoice_status_history h
        SET occurred_at = timestamptz '2026-06-01 00:00:00+00'
            + CASE WHEN h.to_status = 'approved'
                   THEN substring(i.number FROM 3)::int * interval '1 hour'
                   ELSE interval '0' END
        FROM invoices i
        WHERE i.id = h.invoice_id AND h.to_status IN ('submitted', 'approved')
          AND i.number ~ '^[DP]-'
        """,
    )
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE invoices SET possible_duplicate_of = ARRAY[id] WHERE number = 'X-SUB'",
    )


async def _get(client: httpx.AsyncClient, who: Account, view: str, **params: str) -> Any:
    response = await client.get(f"{API}/dashboard/{view}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _csv(client: httpx.AsyncClient, who: Account, view: str, **params: str) -> list[Any]:
    response = await client.get(f"{API}/dashboard/{view}.csv", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _as_csv_cells(row: dict[str, Any]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in row.items()}


async def test_figures_on_the_seeded_set_and_zero_for_another_tenant(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await seed(client, owner, settings)

    aging = await _get(client, owner, "aging", as_of=AS_OF)
    by_vendor = {row["vendor_name"]: row for row in aging["rows"]}
    buckets = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90", "total")
    assert [by_vendor["Alpha Supplies"][b] for b in buckets] == [
        "100.00", "300.00", "500.00", "700.00", "1850.00", "3450.00",
    ]  # fmt: skip
    assert [by_vendor["Beta Tools"][b] for b in buckets] == [
        "250.00", "400.00", "600.00", "800.00", "1000.00", "3050.00",
    ]  # fmt: skip
    assert [by_vendor[None][b] for b in buckets] == [
        "350.00", "700.00", "1100.00", "1500.00", "2850.00", "6500.00",
    ]  # fmt: skip
    assert [row["invoices"] for row in aging["rows"]] == [6, 6, 12]
    assert [row["vendor_name"] for row in aging["rows"]] == ["Alpha Supplies", "Beta Tools", None]

    summary = await _get(client, owner, "summary", as_of=AS_OF, **{"from": ISSUED, "to": AS_OF})
    (eur,) = summary["rows"]
    assert summary["scope"] == {"from": ISSUED, "to": AS_OF, "currency": None, "as_of": AS_OF}
    assert {k: v for k, v in eur.items() if k.endswith(("_count", "_amount"))} == {
        "draft_count": 1, "draft_amount": "10.00",
        "submitted_count": 1, "submitted_amount": "30.00",
        "approved_count": 12, "approved_amount": "6650.00",
        "rejected_count": 1, "rejected_amount": "20.00",
        "paid_count": 1, "paid_amount": "40.00",
        "void_count": 0, "void_amount": "0.00",
        "overdue_count": 9, "overdue_amount": "6150.00",
        "payments_count": 2, "payments_amount": "190.00",
    }  # fmt: skip
    assert eur["currency"] == "EUR"
    assert eur["approval_rate"] == "0.9286"  # 13 approved (12 + the paid one) of 14 decided
    assert eur["median_submit_to_approve_hours"] == "7.00"  # of 1, 2, ..., 13 hours
    # 6500.00 open / 6690.00 bought (approved and paid) x 181 days (Jan 1 to Jun 30)
    assert eur["days_payable_outstanding"] == "175.9"

    # From June on: nothing was issued, one payment was made.
    (june,) = (await _get(client, owner, "summary", as_of=AS_OF, **{"from": "2026-06-01"}))["rows"]
    assert (june["approved_count"], june["overdue_amount"]) == (0, "0.00")
    assert (june["payments_count"], june["payments_amount"]) == (1, "150.00")

    vendors = await _get(client, owner, "vendors", as_of=AS_OF)
    alpha, beta = vendors["rows"]
    assert (alpha["vendor_name"], beta["vendor_name"]) == ("Alpha Supplies", "Beta Tools")
    # Alpha: 8 invoices (6 approved, submitted, paid); open 3450.00, overdue 3350.00;
    # no rejection; 1 of 8 flagged; tax id, email and bank account missing (3 of 3).
    assert {k: alpha[k] for k in ("invoices", "total_amount", "open_amount", "overdue_amount")} == {
        "invoices": 8, "total_amount": "3670.00", "open_amount": "3450.00",
        "overdue_amount": "3350.00",
    }  # fmt: skip
    parts = ("overdue_ratio", "rejection_rate", "duplicate_rate", "missing_data", "risk_score")
    # 100 x (0.4 x 0.9710 + 0.3 x 0 + 0.2 x 0.1250 + 0.1 x 1) = 51.34
    assert [alpha[p] for p in parts] == ["0.9710", "0.0000", "0.1250", "1.0000", "51.3"]
    # Beta: 7 invoices (6 approved, 1 rejected); overdue 2800.00 of 3050.00 open; 1 of 7
    # decisions rejected; bank account missing (1 of 3).
    # 100 x (0.4 x 0.9180 + 0.3 x 0.1429 + 0.2 x 0 + 0.1 x 0.3333) = 44.34
    assert [beta[p] for p in parts] == ["0.9180", "0.1429", "0.0000", "0.3333", "44.3"]
    assert (beta["invoices"], beta["rejected"], beta["missing_fields"]) == (7, 1, 1)

    cash = await _get(client, owner, "cash", as_of=AS_OF)
    bank = [row for row in cash["accounts"] if row["code"] == "1000"]
    assert [(row["currency"], row["balance"]) for row in bank] == [("EUR", "-190.00")]
    # 12 weeks from 2026-06-30 (a Tuesday): D-08 due that day (week of Monday 29 June),
    # D-01 on 15 July (week of 13 July), D-07 on 1 August (a Saturday: week of 27 July).
    assert [
        (row["week_start"], row["scheduled_payments"], row["financing_settlements"])
        for row in cash["weeks"]
    ] == [
        ("2026-06-29", "200.00", "0.00"),
        ("2026-07-13", "100.00", "0.00"),
        ("2026-07-27", "50.00", "0.00"),
    ]
    before_payment = await _get(client, owner, "cash", as_of="2026-06-14")
    bank = [row for row in before_payment["accounts"] if row["code"] == "1000"]
    assert [row["balance"] for row in bank] == ["-40.00"]

    # The CSV twins carry the JSON's rows, cell for cell.
    for view, params in (
        ("aging", {"as_of": AS_OF}),
        ("summary", {"as_of": AS_OF, "from": ISSUED, "to": AS_OF}),
        ("vendors", {"as_of": AS_OF}),
    ):
        document = await _get(client, owner, view, **params)
        assert await _csv(client, owner, view, **params) == [
            _as_csv_cells(row) for row in document["rows"]
        ], view
    cash_rows = await _csv(client, owner, "cash", as_of=AS_OF)
    accounts = [row for row in cash_rows if row["section"] == "account"]
    weeks = [row for row in cash_rows if row["section"] == "week"]
    assert [(r["code"], r["currency"], r["balance"]) for r in accounts] == [
        (r["code"], r["currency"], r["balance"]) for r in cash["accounts"]
    ]
    assert [(r["week_start"], r["scheduled_payments"]) for r in weeks] == [
        (r["week_start"], r["scheduled_payments"]) for r in cash["weeks"]
    ]

    # Another tenant sees none of it: every figure is 0.
    other = await signup(client, "othertenant")
    zero_summary = await _get(client, other, "summary", as_of=AS_OF, currency="EUR")
    (row,) = zero_summary["rows"]
    assert row["currency"] == "EUR"
    assert all(Decimal(value) == 0 for key, value in row.items() if key != "currency")
    zero_aging = await _get(client, other, "aging", as_of=AS_OF, currency="EUR")
    (total,) = zero_aging["rows"]
    assert total["vendor_id"] is None
    assert total["invoices"] == 0
    assert all(Decimal(total[b]) == 0 for b in buckets)
    assert (await _get(client, other, "summary", as_of=AS_OF))["rows"] == []
    assert (await _get(client, other, "vendors", as_of=AS_OF))["rows"] == []
    other_cash = await _get(client, other, "cash", as_of=AS_OF)
    assert other_cash["weeks"] == []
    assert all(Decimal(row["balance"]) == 0 for row in other_cash["accounts"])
    (processing,) = (await _get(client, other, "processing", as_of=AS_OF))["rows"]
    assert all(
        Decimal(value) == 0 for key, value in processing.items() if not key.startswith("window")
    )
    assert (await _get(client, other, "assets", as_of=AS_OF))["rows"] == []
    assert await _csv(client, other, "vendors", as_of=AS_OF) == []
