"""Load, validate and fill in a ddl configuration against ``ddlcore/schemas/config.schema.yaml``.

The Snakefile validates with ``snakemake.utils.validate`` (same schema); the ``ddl`` CLI uses
:func:`load_config` so that every stage can run without Snakemake.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from .errors import DDLError

#: the one schema: the ``ddl`` CLI and the Snakefile both validate against it (it ships inside the package)
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA_PATH = SCHEMAS / "config.schema.yaml"
#: settings that choose *which* jobs the workflow runs, not how one job runs: never part of a job's
#: settings (adding a model to ``train.models`` or a seed to ``train.seeds`` trains only it), nor of a
#: model's recorded training settings
JOB_SELECTORS: dict[str, tuple[str, ...]] = {"train": ("models", "ablation", "seeds"), "metrics": ("summary_datasets",)}
#: ``score`` settings an alarm calibration is made with and keeps: causal scores under a calibration take
#: them from it, never from the job's ``score`` section
FIXED_SCORE_KEYS = ("patch", "shifted_grid", "motion_weight")


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Return a JSON schema of ``ddlcore/schemas/`` as a dict (default: the configuration's)."""
    if not path.is_file():
        raise DDLError(f"schema not found at {path}: the ddlcore installation is incomplete (reinstall it)")
    return yaml.safe_load(path.read_text())


def _extend_with_default(validator_class: type) -> type:
    """A validator class that fills in each property's ``default`` before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = json.loads(json.dumps(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _extend_with_default(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError, what: str) -> str:
    """One line naming ``what`` (``config``, a file), the key at fault and what is wrong."""
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = key if key != "<top level>" else "top level"
        return f"{what}: unknown key {', '.join(repr(e) for e in extra)} in {where} (allowed: {', '.join(allowed)})"
    return f"{what}: key '{key}': {error.message}"


def validate_document(document: Any, schema: Mapping[str, Any], what: str) -> Any:
    """Validate ``document`` against the JSON ``schema`` in place, fill in its defaults, and return it.

    Raises :class:`DDLError`, one line naming ``what`` and the first offending key.
    """
    errors = sorted(_Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise DDLError(_describe(errors[0], what))
    return document


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` in place, fill in defaults, and return it.

    Raises :class:`DDLError` naming the first offending key.
    """
    validate_document(config, load_schema(), "config")
    _check_semantics(config)
    return config


def _check_semantics(config: Mapping[str, Any]) -> None:
    """Checks a JSON schema cannot express."""
    frames = config["model"]["frames"]
    if frames % 2 != 1:
        raise DDLError(f"config: key 'model.frames': clip length must be odd, got {frames}")
    model_input = config["model"]["input"]
    if model_input in ("neighbours", "coarse_middle") and frames < 3:
        raise DDLError(f"config: key 'model.input': '{model_input}' needs model.frames >= 3 (frames around the middle one), got {frames}")


#: what a YAML scalar must load as to stand for each JSON schema type
_YAML_TYPES: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "boolean": (bool,),
                                             "null": (type(None),), "array": (list,), "object": (dict,)}


def typed_strings(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with each string read as YAML where ``schema`` does not allow a string there but does allow what
    it reads as (``"2"`` -> 2 for an integer, ``"1e-3"`` -> 0.001 for a number, ``"null"`` -> None, ``"[0, 1]"``
    -> [0, 1]); everything else unchanged.

    Snakemake passes the values inside a nested ``--config key={...}`` as strings: this gives them the types the
    schema asks for before validation.
    """
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: typed_strings(v, properties.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [typed_strings(v, items) for v in value] if isinstance(items, dict) else value
    types = schema.get("type")
    allowed = [types] if isinstance(types, str) else list(types or [])
    if not isinstance(value, str) or not allowed or "string" in allowed:
        return value
    try:
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and "number" in allowed:  # YAML 1.1 reads 1e-3 as a string
            parsed = float(value)
    except (yaml.YAMLError, ValueError):
        return value
    fits = any(isinstance(parsed, _YAML_TYPES[t]) and not (t in ("integer", "number") and isinstance(parsed, bool))
               for t in allowed if t in _YAML_TYPES)
    return typed_strings(parsed, schema) if fits else value


def training_seeds(train_cfg: Mapping[str, Any]) -> list[int]:
    """The seeds the workflow trains each model with: ``train.seeds``, or ``[train.seed]`` when it is null."""
    return [int(s) for s in train_cfg["seeds"]] if train_cfg.get("seeds") else [int(train_cfg["seed"])]


def load_config(path: str | Path | None = None, settings_json: str | None = None) -> dict[str, Any]:
    """Read a YAML config file and/or a JSON string of sections, validate, fill defaults.

    ``settings_json`` (what the workflow passes to each stage) overrides sections of the file.
    Returns the complete configuration dict.
    """
    config: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DDLError(f"config file not found: {p}")
        try:
            config = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise DDLError(f"config file {p} is not valid YAML: {str(exc).splitlines()[0]}") from exc
        if not isinstance(config, dict):
            raise DDLError(f"config file {p} must hold a mapping of sections")
    if settings_json:
        try:
            extra = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise DDLError(f"--settings is not valid JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise DDLError(f"--settings must be a JSON object of config sections, e.g. '{{\"score\": {{\"patch\": 8}}}}', "
                           f"not {type(extra).__name__}")
        for section, value in extra.items():
            if isinstance(value, dict) and isinstance(config.get(section), dict):
                config[section] = {**config[section], **value}
            else:
                config[section] = value
    return validate_config(config)


def fingerprint(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable object (used to tag outputs with their settings)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]
