"""The admin tab's groups, onboarding and devices sections in headless Chromium: an admin moves
a user between groups, downloads a device's connection package and shows its enrollment QR
code, and disconnects a TAK-like device on a raw TCP socket; each test saves a screenshot."""

from typing import Any

import pytest

from tests.browser.conftest import CommandPost, password, until
from tests.interop.clients import TakClient, eventually, pli_xml

HOST = "tak.example.org"


@pytest.fixture
def web_overrides() -> dict[str, Any]:
    """TLS streaming and enrollment on, so packages and QR codes have somewhere to point."""
    return {"tls_port": 0, "enrollment_port": 0, "hostnames": f"{HOST},127.0.0.1"}


async def admin_page(command_post: CommandPost) -> Any:
    identities = command_post.server.context.identities
    assert identities is not None
    identities.add_user("root", password("root"), ["admin"])
    page = await command_post.page("root")
    await page.click("nav.tabs [data-tab=admin]")
    return page


async def test_an_admin_changes_groups_and_onboards_a_device(command_post: CommandPost) -> None:
    page = await admin_page(command_post)
    identities = command_post.server.context.identities
    assert identities is not None
    await until(page, "!!document.querySelector('#admin-groups [data-group=red] [data-member=eve]')")
    await page.select_option("#admin-group-user", "eve")
    await page.fill("#admin-group-name", "blue")
    await page.click("#admin-group-add button[type=submit]")
    await until(page, "!!document.querySelector('#admin-groups [data-group=blue] [data-member=eve]')")
    await page.click("#admin-groups [data-group=red] [data-member=eve] button.remove")
    await until(page, "!document.querySelector('#admin-groups [data-group=red] [data-member=eve]')")
    eve = identities.user("eve")
    assert eve is not None
    assert eve.groups == {"blue"}
    await until(page, "document.querySelector('#admin-users [data-user=eve]').innerText.includes('blue')")

    await page.select_option("#admin-onboard-user", "alice")
    await page.click("#admin-package")
    await until(page, "!!document.getElementById('admin-package-link')")
    assert len(await page.text_content("#admin-package-password") or "") >= 12
    async with page.expect_download() as download:
        await page.click("#admin-package-link")
    assert (await download.value).suggested_filename == "alice.zip"

    await page.fill("#admin-onboard-password", password("alice"))
    await page.click("#admin-qr")
    await until(page, "document.getElementById('admin-qr-image')?.naturalWidth > 0")
    assert await page.input_value("#admin-onboard-password") == "", "the password is not left in the form"
    assert "clients that scan the code use 8446" in await page.inner_text("#admin-onboarding-result")
    await page.evaluate("document.getElementById('admin-onboarding-section').scrollIntoView()")
    await command_post.screenshot(page)
    assert [r.user for r in identities.certificates("alice")] == ["alice"], "the package's certificate"
    assert page.errors == []  # type: ignore[attr-defined]


async def test_an_admin_sees_the_connected_devices_and_disconnects_one(command_post: CommandPost) -> None:
    alpha = await TakClient.connect(command_post.ports.tcp, "alpha")
    bravo = await TakClient.connect(command_post.ports.tcp, "bravo")
    await alpha.send(pli_xml("ALPHA-1", "ALPHA", lat=48.137, lon=11.575))
    await bravo.send(pli_xml("BRAVO-1", "BRAVO", lat=48.139, lon=11.58))
    router = command_post.server.context.router
    await eventually(lambda: router.registry.by_uid("ALPHA-1") and router.registry.by_uid("BRAVO-1"))
    page = await admin_page(command_post)
    row = "#admin-devices li[data-uid='{}']"
    await until(page, f'!!document.querySelector("{row.format("BRAVO-1")}[data-connected=true]")')
    text = await page.inner_text(row.format("ALPHA-1"))
    assert "ALPHA" in text
    assert "127.0.0.1:" in text
    assert "__ANON__" in text

    await page.click(f"{row.format('ALPHA-1')} button.disconnect")
    assert await alpha.closed_by_server()
    await eventually(lambda: (d := router.devices.get("ALPHA-1")) is not None and not d.connected)
    await page.click("#admin-devices-refresh")
    await until(page, f'!!document.querySelector("{row.format("ALPHA-1")}[data-connected=false]")')
    assert await page.locator(f"{row.format('BRAVO-1')}[data-connected=true] button.disconnect").count() == 1
    await page.evaluate("document.getElementById('admin-devices-section').scrollIntoView()")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]
    await alpha.close()
    await bravo.close()
