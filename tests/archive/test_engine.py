"""The engine seam: both adapters provide exactly what the Engine protocol states."""

from __future__ import annotations

import inspect

import pytest

from modelexport.archive import schema
from modelexport.archive.bolt_engine import BoltEngine
from modelexport.archive.engine import Engine
from modelexport.archive.ladybug_engine import LadybugEngine

MEMBERS = sorted(name for name, value in vars(Engine).items()
                 if inspect.isfunction(value) and not name.startswith("_"))


def test_the_protocol_names_the_eight_methods_the_archive_calls():
    assert MEMBERS == ["close", "delete", "disk_bytes", "load", "read_only", "release_memory",
                       "rows", "stream"]


@pytest.mark.parametrize("engine", [LadybugEngine, BoltEngine], ids=lambda c: c.__name__)
def test_each_engine_implements_the_protocol_with_its_signatures(engine):
    for name in MEMBERS:
        wanted = inspect.signature(getattr(Engine, name))
        got = inspect.signature(getattr(engine, name))
        assert list(got.parameters) == list(wanted.parameters), (engine.__name__, name)
        assert [p.kind for p in got.parameters.values()] == \
            [p.kind for p in wanted.parameters.values()], (engine.__name__, name)


def test_a_misspelled_property_is_refused_instead_of_stored_as_null():
    rows = schema.Rows(schema.node_columns(schema.MODEL))
    rows.add({"uid": "a/", "name": "m", "ops": 3})  # left-out columns are NULL
    with pytest.raises(KeyError, match="'opps'"):
        rows.add({"uid": "b/", "name": "m", "opps": 3})
    assert rows.count == 1


def test_what_list_shows_are_model_properties_of_the_schema():
    from dataclasses import fields

    from modelexport.archive import ModelInfo

    properties = {name for name, _typ in schema.node_columns(schema.MODEL)}
    assert {f.name for f in fields(ModelInfo)} <= properties
