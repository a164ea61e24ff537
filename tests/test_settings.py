"""Typed settings (ddlcore.settings and each stage's settings module) against the schema and the configurations."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import typing
from pathlib import Path
from typing import Any

import pytest

import ddlcore
from ddlcore.config import load_config, load_schema
from ddlcore.errors import DDLError
from ddlcore.settings import Section, config_key
from ddlcore.train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[1]


def section_classes() -> list[type[Section]]:
    """Every top-level section class of the ``settings`` modules of ddlcore's packages (``ddlcore.live.outputs``
    included)."""
    found = []
    for info in pkgutil.walk_packages(ddlcore.__path__, "ddlcore."):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"{info.name}.settings")
        except ModuleNotFoundError:
            continue
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, Section) and obj.__module__ == module.__name__ and obj.SECTION]
    return found


def nested_keys(cls: type[Section]) -> dict[str, Any]:
    """{config key: nested key map or None} of a section class, following nested sections."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        out[config_key(f)] = nested_keys(hint) if isinstance(hint, type) and issubclass(hint, Section) else None
    return out


def schema_keys(node: dict[str, Any]) -> dict[str, Any]:
    """{key: nested key map or None} of a schema object, following objects with fixed properties."""
    return {k: schema_keys(v) if "properties" in v else None for k, v in node.get("properties", {}).items()}


def test_every_schema_section_has_exactly_one_settings_class_with_its_keys() -> None:
    schema = load_schema()["properties"]
    classes = section_classes()
    by_section = {}
    for cls in classes:
        assert cls.SECTION not in by_section, f"two classes for section {cls.SECTION}"
        by_section[cls.SECTION] = cls
    sections = {k for k, v in schema.items() if v.get("type") == "object"}
    assert set(by_section) == sections
    for name, cls in by_section.items():
        assert nested_keys(cls) == schema_keys(schema[name]), name


CONFIGS = [None] + sorted(str(p) for p in (REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: Path(p).name if p else "default")
def test_settings_give_back_the_configuration_exactly(path: str | None) -> None:
    config = load_config(path)
    for cls in section_classes():
        settings = cls.from_config(config)
        back = settings.as_config()
        assert back == config[cls.SECTION]
        assert json.dumps(back, sort_keys=True) == json.dumps(config[cls.SECTION], sort_keys=True)


def test_settings_are_frozen_tuples_and_named_by_python_names() -> None:
    config = load_config(None, json.dumps({"train": {"lambda": 0.25, "random_box_size": [0.1, 0.2]}}))
    train = TrainSettings.from_config(config)
    assert train.lambda_ == 0.25
    assert train.random_box_size == (0.1, 0.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.epochs = 3  # type: ignore[misc]
    assert train.as_config()["lambda"] == 0.25


def test_a_section_with_a_missing_or_unknown_key_is_one_clear_error() -> None:
    config = load_config(None)
    section = dict(config["train"])
    section.pop("epochs")
    section["epoch"] = 3
    with pytest.raises(DDLError, match=r"section 'train': missing key\(s\) epochs; unknown key\(s\) epoch"):
        TrainSettings.from_section(section)
    with pytest.raises(DDLError, match="section 'train' is missing"):
        TrainSettings.from_config({})
