"""Choosing the torch device a stage runs on."""

from __future__ import annotations

import torch

from .errors import DDLError


def resolve_device(name: str, key: str) -> torch.device:
    """``auto`` -> the first CUDA GPU when present, else the CPU; otherwise the device torch names ``name``.

    ``key`` is the config key the name came from (e.g. ``train.device``), named in the one-line
    DDLError raised for an unknown device or a CUDA device on a machine without one.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DDLError(f"config: key '{key}': {name!r} is not a torch device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DDLError(f"config: key '{key}' is {name!r} but no CUDA device is available")
    return device
