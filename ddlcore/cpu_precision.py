"""What this CPU offers for bf16, and the training precision ``train.autocast_cpu`` resolves to on it.

bf16 autocast on the CPU is 2-3x faster than float32 where the CPU computes bf16 natively (AVX512-BF16 or
AMX on x86) and 20-100x slower where oneDNN has to emulate it (AVX2-only CPUs: most laptops and desktops).
Native support needs both: the instructions (cpuinfo, as PyTorch reports it) and oneDNN allowed to use them
(``torch.ops.mkldnn._is_mkldnn_bf16_supported()``, which honours ``ONEDNN_MAX_CPU_ISA``). The instructions
alone are not enough: on an AVX-512 CPU without AVX512-BF16 oneDNN reports bf16 support but converts to
float32 for every kernel.
"""

from __future__ import annotations

import functools
import platform
import sys
from dataclasses import dataclass
from typing import Any

import torch

#: the values ``train.autocast_cpu`` takes
AUTOCAST_SETTINGS = (True, False, "auto")


@dataclass(frozen=True)
class CpuBf16Support:
    """What PyTorch reports about bf16 on this CPU.

    ``capability``: the vector instruction set ATen's kernels use (``torch.backends.cpu.get_cpu_capability()``,
    e.g. ``AVX512``, ``AVX2``; ``ATEN_CPU_CAPABILITY`` lowers it). ``bf16_instructions``: the CPU has
    AVX512-BF16 or AMX (x86; elsewhere: whatever oneDNN reports). ``onednn_bf16``: oneDNN will run bf16
    kernels (False when ``ONEDNN_MAX_CPU_ISA`` caps it below AVX-512).
    """

    capability: str
    bf16_instructions: bool
    onednn_bf16: bool

    @property
    def native(self) -> bool:
        """Whether bf16 runs natively here (fast), not emulated."""
        return self.bf16_instructions and self.onednn_bf16

    def describe(self) -> str:
        """One phrase for logs and provenance, e.g. ``AVX512, native bf16``."""
        if self.native:
            return f"{self.capability}, native bf16"
        why = "no AVX512-BF16 or AMX" if not self.bf16_instructions else "oneDNN bf16 off"
        return f"{self.capability}, bf16 emulated ({why})"


@functools.cache
def cpu_bf16_support() -> CpuBf16Support:
    """Probe this process's CPU once (PyTorch's answers do not change while it runs)."""
    onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if platform.machine().lower() in ("x86_64", "amd64", "i686", "x86"):
        instructions = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    else:
        instructions = onednn
    return CpuBf16Support(torch.backends.cpu.get_cpu_capability(), instructions, onednn)


def resolve_autocast_cpu(setting: Any, key: str = "train.autocast_cpu") -> bool:
    """bf16 autocast on the CPU or not, from the setting ``key`` (true | false | auto).

    auto: on exactly where bf16 is native (:func:`cpu_bf16_support`). true on a CPU that would emulate bf16
    prints one ``warning:`` line on stderr and stays on (forced); false stays off.
    """
    support = cpu_bf16_support()
    if setting == "auto":
        return support.native
    if setting is True and not support.native:
        print(f"warning: {key} is true but this CPU would emulate bf16 ({support.describe()}): steps run 20-100x "
              f"slower than in float32; set {key}: auto", file=sys.stderr, flush=True)
    return bool(setting)


def precision_record(setting: Any, key: str = "train.autocast_cpu") -> dict[str, Any]:
    """What the CPU precision setting ``key`` means on this machine, for provenance and model metadata:
    {"cpu": :meth:`CpuBf16Support.describe`, "<key>": the setting, "cpu_precision": "bf16" | "float32"}."""
    support = cpu_bf16_support()
    autocast = support.native if setting == "auto" else bool(setting)
    return {"cpu": support.describe(), key: setting, "cpu_precision": "bf16" if autocast else "float32"}
