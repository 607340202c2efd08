"""ExCheck (``/Marti/api/excheck``) as ATAK's ExCheck plugin calls it, on a real server over
mutual TLS: a template posted as TAK's checklist XML, started, read, its tasks updated, and
what another group gets. Data Sync lists the templates mission the way TAK clients look for it."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https
from tests.settings import listening

TEMPLATE = b"""<checklist><checklistDetails><name>Casualty triage</name><uid></uid>
<description>MASCAL drill</description><startTime></startTime><templateName>Casualty triage</templateName>
<creatorUid>ANDROID-MIA</creatorUid><creatorCallsign>Mia</creatorCallsign><missions/></checklistDetails>
<checklistColumns><checklistColumn><columnName>Task</columnName><columnType>LongString</columnType>
<columnWidth>300</columnWidth><columnBgColor/><columnTextColor/><columnEditable>false</columnEditable>
</checklistColumn></checklistColumns><checklistTasks>
<checklistTask><lineBreak>false</lineBreak><bgColor/><number>1</number><uid>t1</uid><value>Secure the scene</value></checklistTask>
<checklistTask><lineBreak>false</lineBreak><bgColor/><number>2</number><uid>t2</uid><value>Tag casualties</value></checklistTask>
</checklistTasks></checklist>"""
XML = {"content-type": "application/xml"}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


def task_status(checklist: ET.Element) -> list[tuple[str, str]]:
    return [(t.findtext("uid") or "", t.findtext("status") or "") for t in checklist.iter("checklistTask")]


async def test_an_excheck_checklist_from_template_to_completed_task(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    mia, max_ = pki.add_user("mia", "medics"), pki.add_user("max", "medics")
    mallory = pki.add_user("mallory", "outsiders")
    device = {"clientUid": "ANDROID-MIA"}
    async with https(tls_server, pki, mia) as client:
        posted = await client.post(
            "/Marti/api/excheck/template", params=device, content=TEMPLATE, headers=XML
        )
        template_uid = posted.text
        template = ET.fromstring(
            (await client.get(f"/Marti/api/excheck/template/{template_uid}", params=device)).content
        )
        started = await client.post(
            f"/Marti/api/excheck/{template_uid}/start",
            params={
                **device,
                "callsign": "Mia",
                "name": "Drill 1",
                "description": "d",
                "startTime": "2026-12-02T15:00:00.000Z",
            },
        )
        checklist = ET.fromstring(started.content)
        checklist_uid = checklist.findtext("checklistDetails/uid") or ""
        task = b"<checklistTask><uid>1</uid><value>Secure the scene</value><status>Complete</status></checklistTask>"
        updated = await client.put(
            f"/Marti/api/excheck/checklist/{checklist_uid}/task/1", params=device, content=task, headers=XML
        )
        mismatch = await client.put(
            f"/Marti/api/excheck/checklist/{checklist_uid}/task/2", params=device, content=task, headers=XML
        )
        templates_mission = await client.get("/Marti/api/missions/exchecktemplates")
    assert (posted.status_code, started.status_code, updated.status_code, mismatch.status_code) == (
        200,
        200,
        200,
        400,
    )
    assert template.findtext("checklistDetails/name") == "Casualty triage"
    assert [t.findtext("value") for t in template.iter("checklistTask")] == [
        "Secure the scene",
        "Tag casualties",
    ]
    assert checklist.findtext("checklistDetails/name") == "Drill 1"
    assert checklist.findtext("checklistDetails/templateName") == "Casualty triage"
    assert templates_mission.status_code == 200, "Data Sync lists the templates mission"
    assert templates_mission.json()["data"][0]["tool"] == "ExCheck"

    async with https(tls_server, pki, max_) as client:
        read = ET.fromstring(
            (
                await client.get(
                    f"/Marti/api/excheck/checklist/{checklist_uid}", params={"clientUid": "ANDROID-MAX"}
                )
            ).content
        )
        active = ET.fromstring(
            (
                await client.get("/Marti/api/excheck/checklist/active", params={"clientUid": "ANDROID-MAX"})
            ).content
        )
        status = ET.fromstring(
            (
                await client.get(
                    f"/Marti/api/excheck/checklist/{checklist_uid}/status",
                    params={"clientUid": "ANDROID-MAX"},
                )
            ).content
        )
        listed = ET.fromstring(
            (await client.get("/Marti/api/excheck/templates", params={"clientUid": "ANDROID-MAX"})).content
        )
    assert task_status(read) == [("1", "Complete"), ("2", "Pending")]
    assert read.find(".//checklistTask/completeBy") is not None
    assert [c.findtext("checklistDetails/uid") for c in active.iter("checklist")] == [checklist_uid]
    assert {s.get("status"): s.get("count") for s in status.iter("statusCount")} == {
        "Pending": "1",
        "Complete": "1",
        "Late": "0",
    }
    assert [t.findtext("checklistDetails/uid") for t in listed.iter("template")] == [template_uid]

    async with https(tls_server, pki, mallory) as client:
        theirs = {"clientUid": "ANDROID-MAL"}
        hidden = [
            (await client.get(f"/Marti/api/excheck/template/{template_uid}", params=theirs)).status_code,
            (await client.get(f"/Marti/api/excheck/checklist/{checklist_uid}", params=theirs)).status_code,
            (
                await client.put(
                    f"/Marti/api/excheck/checklist/{checklist_uid}/task/2",
                    params=theirs,
                    content=task.replace(b">1<", b">2<"),
                    headers=XML,
                )
            ).status_code,
            (await client.post(f"/Marti/api/excheck/{template_uid}/start", params=theirs)).status_code,
            (
                await client.post("/Marti/api/excheck/template", params=theirs, content=TEMPLATE, headers=XML)
            ).status_code,
        ]
        active = ET.fromstring(
            (await client.get("/Marti/api/excheck/checklist/active", params=theirs)).content
        )
    assert hidden == [404, 404, 404, 404, 403]
    assert list(active) == []


async def test_hostile_excheck_bodies_are_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    mia = pki.add_user("mia", "medics")
    too_many = TEMPLATE.replace(
        b"<checklistTasks>",
        b"<checklistTasks>" + b"<checklistTask><uid>x</uid><value>v</value></checklistTask>" * 300,
    )
    async with https(tls_server, pki, mia) as client:
        answers = [
            (
                await client.post(
                    "/Marti/api/excheck/template",
                    content=b'<!DOCTYPE c [<!ENTITY e "e">]><checklist/>',
                    headers=XML,
                )
            ).status_code,
            (
                await client.post("/Marti/api/excheck/template", content=b"<notachecklist/>", headers=XML)
            ).status_code,
            (await client.post("/Marti/api/excheck/template", content=too_many, headers=XML)).status_code,
            (
                await client.post(
                    "/Marti/api/excheck/template", content=b"<checklist>" * 100_000, headers=XML
                )
            ).status_code,
            (await client.get("/Marti/api/excheck/checklist/active")).status_code,
        ]
    assert answers == [400, 400, 400, 413, 200]
