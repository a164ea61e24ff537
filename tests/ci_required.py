"""Skips that CI does not allow: under ``DDL_CI=true`` (set by ``.ci/run``) a check that cannot run fails.

The oracle tests against the authors' code, the page test in Chromium and the MQTT tests against a Mosquitto
broker are what make ddl's claims checkable; in a user's clone without ``../shared``, Chromium or Mosquitto they
skip, in CI they must run.
"""

from __future__ import annotations

import os

import pytest

#: the environment variable ``.ci/run`` sets (not plain ``CI``, which every hosted CI service sets for any project)
CI_VARIABLE = "DDL_CI"


def in_ci() -> bool:
    """True when the tests run under ``.ci/run``."""
    return os.environ.get(CI_VARIABLE, "").lower() == "true"


def skip_unless_ci(reason: str, module: bool = False) -> None:
    """Skip with ``reason`` (the whole module when ``module``); fail instead when :func:`in_ci`."""
    if in_ci():
        pytest.fail(f"{reason}; CI ({CI_VARIABLE}=true) must run this check", pytrace=False)
    pytest.skip(reason, allow_module_level=module)
