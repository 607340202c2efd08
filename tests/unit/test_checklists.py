"""Checklist templates and instances (pure values)."""

import pytest

from rallypoint.errors import InvalidMissionRequest, MissionNotFound
from rallypoint.missions import checklists as cl


def template() -> cl.Checklist:
    name, items = cl.check_template({"name": " Pre-op ", "items": ["Radios", "Water"]})
    return cl.new_template("t1", "g", name, items, author="cp", now=100)


def test_start_and_complete() -> None:
    instance = cl.start(template(), "c1", None, "cp", 200)
    assert instance.name == "Pre-op"
    assert instance.template == "t1"
    assert not instance.complete
    instance = cl.set_item(instance, "1", cl.DONE, "alpha", 300)
    instance = cl.set_item(instance, "2", cl.SKIPPED, "bravo", 400)
    assert instance.complete
    data = cl.checklist_json(instance)
    assert [(i["status"], i["by"], i["time"]) for i in data["items"]] == [
        ("done", "alpha", 300),
        ("skipped", "bravo", 400),
    ]


def test_template_items_have_no_status() -> None:
    with pytest.raises(InvalidMissionRequest):
        cl.set_item(template(), "1", cl.DONE, "a", 1)


def test_unknown_item_and_status() -> None:
    instance = cl.start(template(), "c1", "mine", "cp", 2)
    with pytest.raises(MissionNotFound):
        cl.set_item(instance, "9", cl.DONE, "a", 3)
    with pytest.raises(InvalidMissionRequest):
        cl.set_item(instance, "1", "maybe", "a", 3)


@pytest.mark.parametrize(
    "body",
    [{"items": ["a"]}, {"name": "x", "items": []}, {"name": "x", "items": [""]}, {"name": "x", "items": "a"}],
)
def test_bad_templates(body: dict[str, object]) -> None:
    with pytest.raises(InvalidMissionRequest):
        cl.check_template(body)
