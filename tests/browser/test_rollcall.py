"""The roll call (PAR) panel in headless Chromium: the commander starts a roll call from the page,
two TAK-like devices on raw TCP sockets receive the GeoChat request, one checks in by chat and
shows as answered, the other turns overdue and the alarm shows (banner, tab; a screenshot is
saved), until the commander accounts for it by hand; and a CoT reply answering while a member
without a recent position raises the no-position alarm."""

import re

from tests.browser.conftest import CommandPost, until
from tests.interop.clients import Message, TakClient, chat_xml, event_xml, eventually, pli_xml

OVERDUE_TIMEOUT_S = 60.0
"""The shortest deadline the form offers is 15 s; the alarm follows at the server's next tick."""
PLI_DETAIL = '<contact callsign="{}" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'


def is_request(message: Message) -> bool:
    return message.type == "b-t-f" and "ROLL CALL" in message.detail


async def test_start_a_roll_call_see_answers_and_the_overdue_alarm(command_post: CommandPost) -> None:
    alpha = await TakClient.connect(command_post.ports.tcp, "alpha")
    bravo = await TakClient.connect(command_post.ports.tcp, "bravo")
    await alpha.send(pli_xml("ALPHA-1", "ALPHA", lat=48.137, lon=11.575))
    await bravo.send(pli_xml("BRAVO-1", "BRAVO", lat=48.139, lon=11.58))
    registry = command_post.server.context.router.registry
    await eventually(
        lambda: registry.by_uid("ALPHA-1") is not None and registry.by_uid("BRAVO-1") is not None
    )
    page = await command_post.page("alice")
    await until(page, "window.rallypoint.contactCount() >= 2")

    await page.click("button.tab[data-tab=rollcall]")
    await page.select_option("#rollcall-team", "Cyan")
    await page.fill("#rollcall-form input[name=deadline]", "0.25")
    await page.click("#rollcall-start")
    await until(page, "document.querySelectorAll('#rollcall-table tbody tr').length === 2")
    request = await alpha.receive(is_request)
    await bravo.receive(is_request)

    code = await page.inner_text("#rollcall-code")
    assert code in request.detail
    await alpha.send(chat_xml("ALPHA-1", "ALPHA", "PAR", to_uid="rallypoint", to_callsign="Rallypoint"))
    await until(
        page, "!!document.querySelector('#rollcall-table tr[data-uid=\"ALPHA-1\"][data-status=answered]')"
    )

    await until(page, "!document.getElementById('rollcall-alarm').hidden", timeout=OVERDUE_TIMEOUT_S)
    assert "BRAVO" in await page.inner_text("#rollcall-alarm")
    assert await page.get_attribute("button.tab[data-tab=rollcall]", "data-alarm") == "on"
    assert await page.get_attribute('#rollcall-table tr[data-uid="BRAVO-1"]', "data-status") == "overdue"
    assert "1/2 answered, 1 overdue" in await page.inner_text("#rollcall-summary")
    await command_post.screenshot(page)

    await page.click('#rollcall-table tr[data-uid="BRAVO-1"] button.rollcall-account')  # by radio
    await until(
        page, "!!document.querySelector('#rollcall-table tr[data-uid=\"BRAVO-1\"][data-status=answered]')"
    )
    await until(page, "document.getElementById('rollcall-alarm').hidden")
    assert "2/2 answered" in await page.inner_text("#rollcall-summary")
    assert page.errors == []  # type: ignore[attr-defined]
    await alpha.close()
    await bravo.close()


async def test_a_cot_reply_answers_and_a_member_without_position_raises_the_alarm(
    command_post: CommandPost,
) -> None:
    """QUIET's last report is two minutes old when the roll call asks for one within a minute:
    the server's next look raises the no-position alarm. FRESH answers by CoT reply."""
    fresh = await TakClient.connect(command_post.ports.tcp, "fresh")
    quiet = await TakClient.connect(command_post.ports.tcp, "quiet")
    await fresh.send(pli_xml("FRESH-1", "FRESH", lat=48.137, lon=11.575))
    await quiet.send(
        event_xml("QUIET-1", "a-f-G-U-C", PLI_DETAIL.format("QUIET"), lat=48.14, lon=11.58, age_s=120)
    )
    registry = command_post.server.context.router.registry
    await eventually(
        lambda: registry.by_uid("FRESH-1") is not None and registry.by_uid("QUIET-1") is not None
    )
    page = await command_post.page("alice")
    await page.click("button.tab[data-tab=rollcall]")
    await page.fill("#rollcall-form input[name=noPosition]", "1")
    await page.click("#rollcall-start")
    request = await fresh.receive(is_request)
    tag = re.search(r"<__rollcall [^>]*/>", request.detail)
    assert tag is not None, request.detail
    reply = tag.group(0).replace('state="requested"', 'state="answered"')
    await fresh.send(
        event_xml("FRESH-1", "a-f-G-U-C", PLI_DETAIL.format("FRESH") + reply, lat=48.137, lon=11.575)
    )
    await until(
        page, "!!document.querySelector('#rollcall-table tr[data-uid=\"FRESH-1\"][data-status=answered]')"
    )
    await until(page, "!!document.querySelector('#rollcall-alarm [data-kind=no-position]')")
    alarm = await page.inner_text("#rollcall-alarm")
    assert "NO POSITION FOR 1 MIN" in alarm
    assert "QUIET" in alarm
    assert "FRESH" not in alarm
    assert await page.get_attribute("button.tab[data-tab=rollcall]", "data-alarm") == "on"
    await command_post.screenshot(page)
    await page.click("#rollcall-alarm [data-kind=no-position] button")
    await until(page, "document.getElementById('rollcall-alarm').hidden")
    assert page.errors == []  # type: ignore[attr-defined]
    await fresh.close()
    await quiet.close()
