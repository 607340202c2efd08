"""ExCheck (``/Marti/api/excheck/…``), the checklist API of ATAK's ExCheck plugin, mapped onto
the checklists of missions (:mod:`rallypoint.missions.checklists`).

TAK Server keeps templates as Enterprise Sync files listed in a mission named
``exchecktemplates`` and starts each checklist as a mission of its own. Here a template is a
checklist template on the ``exchecktemplates`` mission (made, with the caller's groups and
tool ``ExCheck``, by the first template posted), and a started checklist is an instance on
the mission of its template, so Data Sync's ``missions/exchecktemplates`` lists them and every
read and change is group-checked by the mission service exactly as the other checklist routes.
A caller outside the template mission's groups sees no template of it and cannot add one.

The XML follows TAK Server's ``excheck.xsd``: ``checklist`` = ``checklistDetails``,
``checklistColumns``, ``checklistTasks``. Our model keeps one text per task and three
states, so a task's ``value`` is its text, and its ``status`` maps ``Pending`` ↔ pending,
``Complete``/``Complete (late)`` → done, ``Late`` and any other → skipped (written back as
``Complete`` for done, ``Pending`` otherwise). A template's task uids are its item numbers.
"""

from lxml import etree
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import escape_attribute, hardened_parser
from rallypoint.errors import MissionConflict, MissionNotFound
from rallypoint.http.common.query import read_body
from rallypoint.http.marti.missions_common import actor_of, guarded
from rallypoint.missions import checklists
from rallypoint.missions.access import Actor
from rallypoint.missions.checklists import Checklist, check_template
from rallypoint.missions.model import Mission
from rallypoint.missions.requests import mission_fields
from rallypoint.missions.service import MissionService

TEMPLATES_MISSION = "exchecktemplates"
EXCHECK_TOOL = "ExCheck"
MAX_EXCHECK_BODY_BYTES = 256 * 1024
"""A checklist of the model's 200 tasks with their columns fits several times over."""
XML_MEDIA_TYPE = "application/xml"
STATUS_IN = {"pending": checklists.PENDING, "complete": checklists.DONE, "complete (late)": checklists.DONE}
STATUS_OUT = {checklists.PENDING: "Pending", checklists.DONE: "Complete", checklists.SKIPPED: "Late"}
_PARSER = hardened_parser(remove_blank_text=True)


def _element(tag: str, text: str | int | None) -> str:
    return f"<{tag}>{escape_attribute('' if text is None else str(text))}</{tag}>"


def task_xml(item: checklists.Item, number: int) -> str:
    parts = [
        _element("lineBreak", "false"),
        _element("bgColor", ""),
        _element("number", number),
        _element("uid", item.id),
        _element("value", item.text),
        _element("status", STATUS_OUT[item.status]),
    ]
    if item.by is not None:
        parts.append(_element("completeBy", item.by))
    if item.time:
        parts.append(_element("completeDTG", format_time(item.time)))
    return "<checklistTask>" + "".join(parts) + "</checklistTask>"


def checklist_xml(checklist: Checklist, mission: Mission, template_name: str) -> str:
    """One checklist (template or started) as ``excheck.xsd`` writes it."""
    details = "".join(
        (
            _element("name", checklist.name),
            _element("uid", checklist.id),
            _element("description", ""),
            _element("startTime", format_time(checklist.created)),
            _element("templateName", template_name),
            _element("creatorUid", checklist.creator),
            _element("creatorCallsign", ""),
            f"<missions>{_element('mission', mission.name)}</missions>",
        )
    )
    column = (
        "<checklistColumn><columnName>Task</columnName><columnType>LongString</columnType>"
        "<columnWidth>300</columnWidth><columnBgColor></columnBgColor><columnTextColor></columnTextColor>"
        "<columnEditable>false</columnEditable></checklistColumn>"
    )
    tasks = "".join(task_xml(item, number) for number, item in enumerate(checklist.items, 1))
    return (
        f"<checklist><checklistDetails>{details}</checklistDetails>"
        f"<checklistColumns>{column}</checklistColumns><checklistTasks>{tasks}</checklistTasks></checklist>"
    )


def parse_xml(body: bytes, root_tag: str) -> etree._Element:
    """A hardened parse of a client's XML whose root must be ``root_tag``."""
    if b"<!" in body:
        raise HTTPException(400, "DOCTYPE and entity declarations are refused")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise HTTPException(400, f"not well-formed XML: {exc}") from exc
    if root.tag != root_tag:
        raise HTTPException(400, f"the body must be <{root_tag}>")
    return root


def template_of(root: etree._Element) -> tuple[str, tuple[str, ...]]:
    """The name and task texts of a posted ``<checklist>``, checked as the model requires
    (an ``InvalidMissionRequest`` is answered 400 by :func:`guarded`)."""
    name = root.findtext("checklistDetails/name") or ""
    texts = [task.findtext("value") or "" for task in root.iterfind("checklistTasks/checklistTask")]
    return check_template({"name": name, "items": texts})


class _ExCheck:
    def __init__(self, service: MissionService) -> None:
        self.service = service

    async def _xml(self, request: Request, root_tag: str) -> etree._Element:
        return parse_xml(await read_body(request, MAX_EXCHECK_BODY_BYTES), root_tag)

    def _find(self, actor: Actor, checklist_id: str, *, template: bool) -> tuple[Mission, Checklist]:
        """The checklist ``checklist_id`` on a mission the actor can see (404 otherwise)."""
        for mission in self.service.visible_missions(actor):
            found = mission.checklists.get(checklist_id)
            if found is not None and found.is_template == template:
                return mission, found
        raise HTTPException(404, f"no {'template' if template else 'checklist'} {checklist_id!r}")

    def _template_name(self, mission: Mission, checklist: Checklist) -> str:
        source = mission.checklists.get(checklist.template or checklist.id)
        return source.name if source is not None else ""

    def _answer(self, mission: Mission, checklist: Checklist) -> Response:
        xml = checklist_xml(checklist, mission, self._template_name(mission, checklist))
        return Response(xml, media_type=XML_MEDIA_TYPE)

    async def _templates_mission(self, actor: Actor) -> Mission:
        """``exchecktemplates``, made in the caller's groups if no one has made it yet."""
        try:
            return self.service.find(actor, name=TEMPLATES_MISSION)
        except MissionNotFound:
            pass
        try:
            fields = mission_fields(
                actor, TEMPLATES_MISSION, tool=EXCHECK_TOOL, description="ExCheck templates"
            )
            return await self.service.create(actor, fields)
        except MissionConflict as exc:  # it exists, in groups the caller is not in
            raise HTTPException(403, "the ExCheck templates belong to other groups") from exc

    async def post_template(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        name, items = template_of(await self._xml(request, "checklist"))
        mission = await self._templates_mission(actor)
        template = await self.service.desk.add_template(mission, actor, name, items)
        return PlainTextResponse(template.id)

    async def list_templates(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        rows = [
            checklist_xml(checklist, mission, checklist.name)
            for mission in self.service.visible_missions(actor)
            for checklist in mission.checklists.values()
            if checklist.is_template
        ]
        inner = "".join(
            f"<template>{row.removeprefix('<checklist>').removesuffix('</checklist>')}</template>"
            for row in rows
        )
        return Response(f"<templates>{inner}</templates>", media_type=XML_MEDIA_TYPE)

    async def get_template(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        return self._answer(*self._find(actor, request.path_params["uid"], template=True))

    async def start(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission, template = self._find(actor, request.path_params["uid"], template=True)
        name = request.query_params.get("name") or None
        started = await self.service.desk.start_checklist(mission, actor, template.id, name)
        return self._answer(self.service.find(actor, guid=mission.guid), started)

    async def get_checklist(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        return self._answer(*self._find(actor, request.path_params["uid"], template=False))

    async def active(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        rows = [
            checklist_xml(checklist, mission, self._template_name(mission, checklist))
            for mission in self.service.visible_missions(actor)
            for checklist in mission.checklists.values()
            if not checklist.is_template and not checklist.complete
        ]
        return Response("<checklists>" + "".join(rows) + "</checklists>", media_type=XML_MEDIA_TYPE)

    async def status(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        _mission, checklist = self._find(actor, request.path_params["uid"], template=False)
        counts = {label: 0 for label in STATUS_OUT.values()}
        for item in checklist.items:
            counts[STATUS_OUT[item.status]] += 1
        rows = "".join(
            f'<statusCount status="{status}" count="{count}"/>' for status, count in counts.items()
        )
        uid, name = escape_attribute(checklist.id), escape_attribute(checklist.name)
        attributes = f'checklistUid="{uid}" checklistName="{name}"'
        return Response(f"<checklistStatus {attributes}>{rows}</checklistStatus>", media_type=XML_MEDIA_TYPE)

    async def get_task(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        _mission, checklist = self._find(actor, request.path_params["uid"], template=False)
        for number, item in enumerate(checklist.items, 1):
            if item.id == request.path_params["task"]:
                return Response(task_xml(item, number), media_type=XML_MEDIA_TYPE)
        raise HTTPException(404, "no such task")

    async def put_task(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        root = await self._xml(request, "checklistTask")
        task = request.path_params["task"]
        if (root.findtext("uid") or "") != task:
            raise HTTPException(400, "the task's uid differs from the path")
        mission, checklist = self._find(actor, request.path_params["uid"], template=False)
        status = STATUS_IN.get((root.findtext("status") or "").strip().lower(), checklists.SKIPPED)
        await self.service.desk.set_item(mission, actor, checklist.id, task, status)
        return Response(status_code=200)


def excheck_routes(service: MissionService) -> list[BaseRoute]:
    """The ExCheck routes, over ``service``'s missions and their checklists."""
    handlers = _ExCheck(service)
    prefix = "/Marti/api/excheck"
    return [
        Route(f"{prefix}/template", guarded(handlers.post_template), methods=["POST"]),
        Route(f"{prefix}/templates", guarded(handlers.list_templates), methods=["GET"]),
        Route(f"{prefix}/template/{{uid}}", guarded(handlers.get_template), methods=["GET"]),
        Route(f"{prefix}/{{uid}}/start", guarded(handlers.start), methods=["POST"]),
        Route(f"{prefix}/checklist/active", guarded(handlers.active), methods=["GET"]),
        Route(f"{prefix}/checklist/{{uid}}", guarded(handlers.get_checklist), methods=["GET"]),
        Route(f"{prefix}/checklist/{{uid}}/status", guarded(handlers.status), methods=["GET"]),
        Route(f"{prefix}/checklist/{{uid}}/task/{{task}}", guarded(handlers.get_task), methods=["GET"]),
        Route(f"{prefix}/checklist/{{uid}}/task/{{task}}", guarded(handlers.put_task), methods=["PUT"]),
    ]
