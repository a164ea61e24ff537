"""``score.runtime`` / ``score.precision`` ``auto`` on a CPU: the runtime and precision a short probe found fastest.

Each candidate (a runtime and a precision: torch fp32, onnxruntime fp32 / int8, openvino fp32 / int8, as installed
and allowed) scores what a live camera costs a frame: encode one frame, decode one window. They take turns for
about :data:`PROBE_SECONDS` in all; the one with the lowest median CPU time a frame (this process, all its threads)
wins. CPU time, not wall time: it is what decides how many cameras a machine follows, and other load on the machine
barely changes it (wall times on a busy machine ranked the runtimes wrongly: docs/speed.md); a runtime whose
threads spin while waiting pays for it, as the cameras beside it would. The result is cached beside the model
(``M.probe.json``) under the model file's fingerprint, this CPU (:func:`cpu_identity`: its name, the instruction
sets that decide int8 / bf16 speed, and the ``ONEDNN_MAX_CPU_ISA`` / ``ATEN_CPU_CAPABILITY`` limits when set), the
thread count and the candidates; another thread count or CPU probes again. The cache is written atomically; an unreadable one is probed again with a note.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..io_utils import atomic_path
from ..model.identity import model_fingerprint
from .runtime import runtime_model

#: the probe's time budget in seconds (all candidates together, after one warm-up call each)
PROBE_SECONDS = 3.0
#: the fewest and most timed calls of each candidate
PROBE_CALLS = (3, 15)
#: CPU flags (``/proc/cpuinfo``) that change which runtime and precision is fastest
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
#: environment variables that limit the instruction sets torch / oneDNN use (emulating an older CPU)
ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
#: (runtime, precision)
Candidate = tuple[str, str]


def cpu_identity(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """This CPU for the probe cache: its model name, the :data:`SPEED_FLAGS` it has and any :data:`ISA_LIMITS`
    set, e.g. ``"Intel(R) Xeon(R) Processor; avx2 avx512f avx512_bf16; ONEDNN_MAX_CPU_ISA=AVX2"``."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    parts = [name, " ".join(f for f in SPEED_FLAGS if f in flags) or "no listed flags"]
    limits = [f"{v}={os.environ[v]}" for v in ISA_LIMITS if os.environ.get(v)]
    return "; ".join(parts + limits)


def probe_file(model_path: str | Path) -> Path:
    """Where a model's probe results are cached: ``M.pt`` -> ``M.probe.json`` beside it."""
    return Path(model_path).with_suffix(".probe.json")


def label(candidate: Candidate) -> str:
    """``("openvino", "int8")`` -> ``"openvino int8"``."""
    return " ".join(candidate)


def _cache_key(cpu: str, threads: int, candidates: Sequence[Candidate]) -> str:
    return f"{cpu} | {threads} threads | " + ", ".join(label(c) for c in candidates)


def _read_cache(path: Path, fingerprint: str) -> dict[str, Any]:
    """The cached probes of the model with ``fingerprint`` ({key: result}); {} when there are none (a note on
    stderr when the file exists but cannot be read)."""
    if not path.is_file():
        return {}
    try:
        cache = json.loads(path.read_text())
        if not isinstance(cache, dict) or not isinstance(cache.get("probes"), dict):
            raise ValueError("not a probe cache")
    except (OSError, ValueError) as exc:
        print(f"note: {path}: unreadable probe cache ({str(exc)[:80]}), probing again", file=sys.stderr)
        return {}
    return cache["probes"] if cache.get("model_sha256") == fingerprint else {}


def _step(model: nn.Module, meta: dict[str, Any]) -> Callable[[], None]:
    """One live frame's inference with ``model``: encode a frame, decode a window of its features."""
    frame = torch.rand(1, int(meta["channels"]), int(meta["height"]), int(meta["width"]))
    reads = len(model.read_frames)

    def step() -> None:
        with torch.no_grad():
            features = model.encode(frame)
            model.decode([torch.stack([f] * reads, dim=1) for f in features])

    return step


def measure(steps: dict[Candidate, Callable[[], None]], seconds: float = PROBE_SECONDS) -> dict[Candidate, float]:
    """Median CPU time (ms, this process) of each step: one warm-up call each, then rounds of one call each, within
    ``seconds`` of wall time
    (at least ``PROBE_CALLS[0]``, at most ``PROBE_CALLS[1]`` rounds)."""
    times: dict[Candidate, list[float]] = {c: [] for c in steps}
    for step in steps.values():
        step()
    deadline = time.perf_counter() + seconds
    for rounds in range(PROBE_CALLS[1]):
        if rounds >= PROBE_CALLS[0] and time.perf_counter() > deadline:
            break
        for candidate, step in steps.items():
            start = time.process_time()
            step()
            times[candidate].append(1000 * (time.process_time() - start))
    return {c: statistics.median(t) for c, t in times.items()}


def fastest(model: nn.Module, meta: dict[str, Any], model_path: str | Path, candidates: Sequence[Candidate],
            threads: int) -> tuple[Candidate, dict[Candidate, float], bool]:
    """The fastest of ``candidates`` for the model file ``model_path`` (model: it loaded in torch on the CPU, meta:
    its checkpoint meta; the graphs of every candidate made) on ``threads`` threads here.

    Returns (the winner, {candidate: median CPU ms per frame}, whether it came from the cache). Probes and caches
    it when the cache has no result for this model, CPU, thread count and candidate list.
    """
    path, fingerprint = probe_file(model_path), model_fingerprint(model_path)
    cpu = cpu_identity()
    key = _cache_key(cpu, threads, candidates)
    probes = _read_cache(path, fingerprint)
    try:
        found = probes[key]
        figures = {tuple(c.split(" ", 1)): float(ms) for c, ms in found["cpu_ms"].items()}
        winner = tuple(found["chosen"].split(" ", 1))
        if winner in candidates and set(figures) == set(candidates):
            return winner, figures, True  # type: ignore[return-value]
    except (KeyError, TypeError, ValueError, AttributeError):  # no such probe, or one of another form: probe
        pass
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        steps = {c: _step(runtime_model(model, meta, model_path, c[0], threads, c[1]), meta) for c in candidates}
        figures = measure(steps)
    finally:
        torch.set_num_threads(previous)
    winner = min(candidates, key=lambda c: figures[c])
    probes[key] = {"cpu": cpu, "threads": threads, "chosen": label(winner),
                   "cpu_ms": {label(c): round(ms, 2) for c, ms in figures.items()},
                   "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"model_sha256": fingerprint, "probes": probes}, indent=1, sort_keys=True))
    return winner, figures, False
