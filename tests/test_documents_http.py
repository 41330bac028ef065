"""Uploaded invoice documents: content checks, limits, duplicates, download, batches."""

from __future__ import annotations

import httpx

from ledgerline.config import Settings
from tests.helpers.documents import JPEG, PNG, invoice_pdf, supplier_invoice_pdf, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup


async def test_each_file_makes_a_draft_with_its_document(
    client: httpx.AsyncClient, owner: Account
) -> None:
    pdf = supplier_invoice_pdf()
    answer = await upload(client, owner, ("march.pdf", pdf), ("scan.jpg", JPEG))
    assert answer.status_code == 201, answer.text
    first, second = answer.json()["files"]
    assert (first["outcome"], first["processing_status"]) == ("created", "queued")
    draft = (
        await client.get(f"{API}/invoices/{first['invoice_id']}", headers=owner.headers)
    ).json()
    assert (draft["status"], draft["source"], draft["number"], draft["total"]) == (
        "draft",
        "upload",
        None,
        "0.00",
    )
    download = await client.get(
        f"{API}/invoices/{first['invoice_id']}/document", headers=owner.headers
    )
    assert download.status_code == 200
    assert download.content == pdf
    assert download.headers["content-type"] == "application/pdf"
    assert 'filename="march.pdf"' in download.headers["content-disposition"]
    image = await client.get(
        f"{API}/invoices/{second['invoice_id']}/document", headers=owner.headers
    )
    assert (image.content, image.headers["content-type"]) == (JPEG, "image/jpeg")
    document = await client.get(f"{API}/documents/{first['document_id']}", headers=owner.headers)
    assert document.json()["sha256"] == first["sha256"]
    assert document.json()["size_bytes"] == len(pdf)


async def test_the_type_is_judged_by_content_not_by_name(
    client: httpx.AsyncClient, owner: Account
) -> None:
    html = await upload(client, owner, ("invoice.pdf", b"<html><script>x</script></html>"))
    assert problem_code(html) == "unsupported_document_type"
    assert html.status_code == 415
    assert html.json()["filename"] == "invoice.pdf"
    exe = await upload(
        client,
        owner,
        ("ok.png", PNG),
        ("invoice.pdf", b"MZ\x90\x00"),
        content_type="application/pdf",
    )
    assert exe.status_code == 415
    # Nothing of a refused upload is kept, not even its valid files.
    listed = await client.get(f"{API}/invoices", headers=owner.headers)
    assert listed.json()["items"] == []
    renamed = await upload(client, owner, ("photo.pdf", PNG))
    assert renamed.status_code == 201
    document_id = renamed.json()["files"][0]["document_id"]
    document = await client.get(f"{API}/documents/{document_id}", headers=owner.headers)
    assert document.json()["content_type"] == "image/png"
    nothing = await client.post(f"{API}/invoices/upload", headers=owner.headers)
    assert nothing.status_code == 422


async def test_files_past_the_size_limit_are_413(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    limit = settings.upload_max_file_bytes
    at_limit = b"%PDF-" + bytes(limit - 5)
    assert (await upload(client, owner, ("big.pdf", at_limit))).status_code == 201
    too_big = await upload(client, owner, ("bigger.pdf", at_limit + b"1"))
    assert too_big.status_code == 413
    assert problem_code(too_big) == "file_too_large"
    many = await upload(
        client,
        owner,
        *[(f"{n}.png", PNG + bytes([n])) for n in range(settings.upload_max_files + 1)],
    )
    assert problem_code(many) == "too_many_files"


async def test_an_upload_body_past_the_upload_limit_is_refused_unread(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    huge = await client.post(
        f"{API}/invoices/upload",
        content=b"x" * (settings.upload_max_body_bytes + 1),
        headers=owner.headers | {"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert huge.status_code == 413
    assert problem_code(huge) == "payload_too_large"
    # Other endpoints keep the ordinary limit.
    large_json = await client.post(
        f"{API}/vendors",
        content=b" " * (settings.max_request_body_bytes + 1),
        headers=owner.headers | {"Content-Type": "application/json"},
    )
    assert large_json.status_code == 413


async def test_a_file_uploaded_again_names_the_existing_invoice(
    client: httpx.AsyncClient, owner: Account
) -> None:
    pdf = invoice_pdf("Invoice No: 7")
    first = (await upload(client, owner, ("a.pdf", pdf))).json()["files"][0]
    again = await upload(client, owner, ("copy of a.pdf", pdf))
    assert again.status_code == 200
    duplicate = again.json()["files"][0]
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["invoice_id"] == first["invoice_id"]
    twice = await upload(client, owner, ("b.pdf", PNG), ("b2.pdf", PNG))
    assert [f["outcome"] for f in twice.json()["files"]] == ["created", "duplicate"]
    listed = await client.get(f"{API}/invoices", headers=owner.headers)
    assert len(listed.json()["items"]) == 2
    # Another tenant's identical file is its own: no hint of the first tenant's.
    other = await signup(client, "elsewhere")
    theirs = await upload(client, other, ("a.pdf", pdf))
    assert theirs.json()["files"][0]["outcome"] == "created"


async def test_batches_count_their_documents(client: httpx.AsyncClient, owner: Account) -> None:
    created = await client.post(
        f"{API}/batches", json={"name": "March post"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    batch_id = created.json()["id"]
    files = await upload(client, owner, ("1.png", PNG), ("2.jpg", JPEG), batch_id=batch_id)
    assert files.status_code == 201
    await upload(client, owner, ("outside.pdf", invoice_pdf("x")))
    batch = (await client.get(f"{API}/batches/{batch_id}", headers=owner.headers)).json()
    assert batch["name"] == "March post"
    assert batch["counts"]["processing"]["queued"] == 2
    assert batch["counts"]["invoices"]["draft"] == 2
    assert batch["counts"]["invoices"]["approved"] == 0
    listed = await client.get(f"{API}/batches", headers=owner.headers)
    assert [b["id"] for b in listed.json()["items"]] == [batch_id]
    in_batch = await client.get(
        f"{API}/documents", params={"batch_id": batch_id}, headers=owner.headers
    )
    assert len(in_batch.json()["items"]) == 2
    unknown = await upload(
        client, owner, ("3.png", PNG + b"3"), batch_id="00000000-0000-7000-8000-000000000000"
    )
    assert problem_code(unknown) == "batch_not_found"
    empty_name = await client.post(f"{API}/batches", json={"name": ""}, headers=owner.headers)
    assert empty_name.status_code == 422


async def test_assistants_upload_and_read(client: httpx.AsyncClient, owner: Account) -> None:
    assistant = await add_user(client, owner, "assistant@scanning.example.com", "ASSISTANT")
    answer = await upload(client, assistant, ("a.png", PNG))
    assert answer.status_code == 201
    invoice_id = answer.json()["files"][0]["invoice_id"]
    assert (
        await client.get(f"{API}/invoices/{invoice_id}/document", headers=assistant.headers)
    ).status_code == 200


async def test_another_tenants_documents_and_batches_do_not_exist(
    client: httpx.AsyncClient, owner: Account
) -> None:
    batch_id = (
        await client.post(f"{API}/batches", json={"name": "Mine"}, headers=owner.headers)
    ).json()["id"]
    mine = (await upload(client, owner, ("a.png", PNG), batch_id=batch_id)).json()["files"][0]
    intruder = await signup(client, "intruder")
    for path in (
        f"/invoices/{mine['invoice_id']}/document",
        f"/invoices/{mine['invoice_id']}",
        f"/documents/{mine['document_id']}",
        f"/batches/{batch_id}",
    ):
        answer = await client.get(f"{API}{path}", headers=intruder.headers)
        assert answer.status_code == 404, path
    into_theirs = await upload(client, intruder, ("b.png", PNG + b"b"), batch_id=batch_id)
    assert problem_code(into_theirs) == "batch_not_found"
    for path in ("/documents", "/batches"):
        listed = await client.get(f"{API}{path}", headers=intruder.headers)
        assert listed.json()["items"] == [], path


async def test_an_uploaded_draft_is_completed_before_it_is_submitted(
    client: httpx.AsyncClient, owner: Account
) -> None:
    invoice_id = (await upload(client, owner, ("a.png", PNG))).json()["files"][0]["invoice_id"]
    url = f"{API}/invoices/{invoice_id}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    submit = await client.post(f"{url}/submit", headers=owner.headers | {"If-Match": etag})
    assert problem_code(submit) == "invoice_incomplete"
    assert submit.json()["missing"] == ["vendor_id", "number", "issue_date", "due_date", "currency"]
    vendor_id = (
        await client.post(
            f"{API}/vendors",
            json={"name": "Paper GmbH", "default_currency": "EUR", "payment_terms_days": 10},
            headers=owner.headers,
        )
    ).json()["id"]
    patched = await client.patch(
        url,
        json={
            "vendor_id": vendor_id,
            "number": "P-9",
            "issue_date": "2026-04-01",
            "lines": [{"description": "Paper", "quantity": "1", "unit_price": "10.00"}],
        },
        headers=owner.headers | {"If-Match": etag},
    )
    assert patched.status_code == 200, patched.text
    # The vendor's currency and terms fill what was not given.
    assert (patched.json()["currency"], patched.json()["due_date"]) == ("EUR", "2026-04-11")
    submitted = await client.post(
        f"{url}/submit", headers=owner.headers | {"If-Match": patched.headers["etag"]}
    )
    assert submitted.status_code == 200, submitted.text


async def test_drafts_without_the_sort_key_come_last(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = (
        await client.post(
            f"{API}/vendors", json={"name": "V", "default_currency": "EUR"}, headers=owner.headers
        )
    ).json()["id"]
    for number, issued in (("A", "2026-01-01"), ("B", "2026-02-01")):
        await client.post(
            f"{API}/invoices",
            json={
                "vendor_id": vendor_id,
                "number": number,
                "issue_date": issued,
                "lines": [{"description": "x", "quantity": "1", "unit_price": "1"}],
            },
            headers=owner.headers,
        )
    await upload(client, owner, ("1.png", PNG + b"1"), ("2.png", PNG + b"2"))
    for sort, expected in (("issue_date", ["A", "B"]), ("-issue_date", ["B", "A"])):
        numbers: list[str | None] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 1} | ({"cursor": cursor} if cursor else {})
            page = (
                await client.get(f"{API}/invoices", params=params, headers=owner.headers)
            ).json()
            numbers += [item["number"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert numbers == [*expected, None, None], sort
