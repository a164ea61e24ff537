"""Typed settings: one frozen dataclass per configuration section, built once from the validated configuration.

Each stage package declares the sections it reads in its own ``settings`` module (``ddlcore.train.settings``
holds :class:`~ddlcore.train.settings.TrainSettings`, and so on); the ``ddl`` CLI builds them from the
configuration and passes them to the stage's functions. A section class names its section (``SECTION``) and has
one field per property of that section in the schema (``tests/test_settings.py`` checks both ways): a field reads
the key of its own name, or the ``config_key`` of its metadata where the key is not a Python name
(``train.lambda``). Values are the configuration's, unconverted (an integer stays an integer), except that lists
become tuples, a nested section (``detect.bgsub``) its own dataclass and a free mapping (``deployment.sources``) a
read-only mapping.

:meth:`Section.as_config` gives a section back exactly as the configuration holds it: settings fingerprints and
the settings a model records are computed from it, so typing the settings changes none of them.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, TypeVar

from .errors import DDLError

S = TypeVar("S", bound="Section")


def config_key(field: Any) -> str:
    """The configuration key a dataclass field reads: its ``config_key`` metadata, else its name."""
    return str(field.metadata.get("config_key", field.name))


@dataclass(frozen=True)
class Section:
    """Base of the section dataclasses: building from and giving back the configuration's mapping."""

    SECTION: ClassVar[str] = ""

    @classmethod
    def from_config(cls: type[S], config: Mapping[str, Any]) -> S:
        """The section ``cls.SECTION`` of a validated, default-filled configuration (``ddlcore.config.load_config``)."""
        if cls.SECTION not in config:
            raise DDLError(f"config: section '{cls.SECTION}' is missing (load the configuration with ddlcore.config.load_config)")
        return cls.from_section(config[cls.SECTION], cls.SECTION)

    @classmethod
    def from_section(cls: type[S], values: Mapping[str, Any], where: str | None = None) -> S:
        """The settings of one section's mapping ``values``; ``where`` names it in errors (default ``SECTION``).

        Raises :class:`DDLError` naming the keys missing from or unknown to the section.
        """
        where = where or cls.SECTION
        if not isinstance(values, Mapping):
            raise DDLError(f"config: section '{where}' must be a mapping, not {type(values).__name__}")
        hints = typing.get_type_hints(cls)
        known = {config_key(f): f for f in fields(cls)}
        missing = sorted(set(known) - set(values))
        unknown = sorted(set(values) - set(known))
        if missing or unknown:
            parts = ([f"missing key(s) {', '.join(missing)}"] if missing else []) + \
                    ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
            raise DDLError(f"config: section '{where}': {'; '.join(parts)}")
        return cls(**{f.name: _frozen(values[key], hints[f.name], f"{where}.{key}") for key, f in known.items()})

    def as_config(self) -> dict[str, Any]:
        """The section as the configuration holds it (lists, dicts, nested sections as mappings)."""
        return {config_key(f): _thawed(getattr(self, f.name)) for f in fields(self)}


def _section_type(hint: Any) -> type[Section] | None:
    """The :class:`Section` subclass a field's type hint names, if it names one."""
    return hint if isinstance(hint, type) and issubclass(hint, Section) else None


def _frozen(value: Any, hint: Any, where: str) -> Any:
    """``value`` made immutable: a nested section as its dataclass, lists as tuples, mappings read-only."""
    nested = _section_type(hint)
    if nested is not None:
        return nested.from_section(value, where)
    if isinstance(value, list):
        return tuple(_frozen(v, None, where) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v, None, where) for k, v in value.items()})
    return value


def _thawed(value: Any) -> Any:
    """The inverse of :func:`_frozen`: the configuration's plain lists and dicts."""
    if isinstance(value, Section):
        return value.as_config()
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    return value
