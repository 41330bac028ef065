"""Swagger UI at /docs works in a real headless browser against a real server.

Debian's `chromium`, driven by Playwright for Python launched on that executable: open
/docs, *Authorize* with the OAuth2 password flow (email, password, the tenant's slug as
client_id, sent as Swagger sends it by default: HTTP Basic), then "Try it out" on
`GET /users/me` with the tenant's UUID in X-Tenant-ID, and see 200 with the user.
Without chromium the test skips, except with CI=true, where it fails (`.ci/run`
installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers.service_process import ServiceProcess

PASSWORD = "a long unusual passphrase"
SLUG = "swaggerco"
EMAIL = f"olive@{SLUG}.example.com"
TIMEOUT_MS = 30_000


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is needed (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("swagger") / "serve.log", workers=1)
    try:
        yield service
    finally:
        service.stop()


def test_authorize_then_try_get_users_me(server: ServiceProcess) -> None:
    executable = chromium()
    signed_up = httpx.post(
        f"{server.base_url}/api/v1/auth/signup",
        json={
            "tenant": {"name": "Swagger GmbH", "slug": SLUG},
            "owner": {"email": EMAIL, "password": PASSWORD, "full_name": "Olive Owner"},
        },
        timeout=30,
    )
    assert signed_up.status_code == 201, signed_up.text
    tenant_id = signed_up.json()["tenant"]["id"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{server.base_url}/docs")
            page.locator("button.authorize").first.click()
            dialog = page.locator(".auth-container", has_text="OAuth2Password")
            dialog.locator("#oauth_username").fill(EMAIL)
            dialog.locator("#oauth_password").fill(PASSWORD)
            dialog.get_by_label("client_id:").fill(SLUG)
            with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/token")) as token:
                dialog.locator("button.authorize").click()
            assert token.value.status == 200, token.value.text()
            expect(dialog).to_contain_text("Authorized")
            page.locator("button.close-modal").click()

            operation = page.locator("#operations-users-get_me")
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("input[placeholder='X-Tenant-ID']").fill(tenant_id)
            with page.expect_response(lambda r: r.url.endswith("/api/v1/users/me")) as me:
                operation.locator("button.execute").click()
            assert me.value.status == 200, me.value.text()
            assert me.value.json()["email"] == EMAIL
            assert me.value.request.headers["x-tenant-id"] == tenant_id
            shown = operation.locator(
                ".live-responses-table td.response-col_status:not(.col_header)"
            )
            expect(shown).to_have_text("200")
        finally:
            browser.close()
