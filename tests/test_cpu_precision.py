"""CPU precision: what PyTorch reports about bf16, train.autocast_cpu auto / true / false, and where it is recorded."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
import torch

from ddlcore import cpu_precision
from ddlcore.config import validate_config
from ddlcore.cpu_precision import CpuBf16Support, precision_record, resolve_autocast_cpu
from ddlcore.errors import DDLError
from ddlcore.model import load_trained_model
from ddlcore.evaluate.provenance import provenance, provenance_footer
from ddlcore.train.trainer import train_model
from test_train import make_config, sections, videos  # noqa: F401  (the videos fixture)

NATIVE = CpuBf16Support("AVX512", bf16_instructions=True, onednn_bf16=True)
NO_BF16 = CpuBf16Support("AVX2", bf16_instructions=False, onednn_bf16=False)
CAPPED = CpuBf16Support("AVX512", bf16_instructions=True, onednn_bf16=False)  # ONEDNN_MAX_CPU_ISA=AVX2


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to run on a CPU with the given bf16 support."""
    def use(support: CpuBf16Support) -> None:
        monkeypatch.setattr(cpu_precision, "cpu_bf16_support", lambda: support)
    return use


def test_support_needs_both_the_instructions_and_onednn() -> None:
    assert NATIVE.native and not NO_BF16.native and not CAPPED.native
    assert not CpuBf16Support("AVX512", bf16_instructions=False, onednn_bf16=True).native  # AVX-512 without BF16
    assert NATIVE.describe() == "AVX512, native bf16"
    assert NO_BF16.describe() == "AVX2, bf16 emulated (no AVX512-BF16 or AMX)"
    assert CAPPED.describe() == "AVX512, bf16 emulated (oneDNN bf16 off)"


@pytest.mark.parametrize("support, auto", [(NATIVE, True), (NO_BF16, False), (CAPPED, False)])
def test_auto_follows_the_hardware_and_forcing_true_warns_only_where_emulated(cpu, capsys, support, auto) -> None:
    cpu(support)
    assert resolve_autocast_cpu("auto") is auto
    assert resolve_autocast_cpu(False) is False
    assert capsys.readouterr().err == ""
    assert resolve_autocast_cpu(True) is True  # forced: stays on
    err = capsys.readouterr().err
    if support.native:
        assert err == ""
    else:
        assert err.count("\n") == 1 and err.startswith("warning: train.autocast_cpu is true")
        assert support.describe() in err and "auto" in err


def test_precision_record_names_the_cpu_and_the_resolved_precision(cpu) -> None:
    cpu(NO_BF16)
    assert precision_record("auto") == {"cpu": "AVX2, bf16 emulated (no AVX512-BF16 or AMX)",
                                        "train.autocast_cpu": "auto", "cpu_precision": "float32"}
    assert precision_record(True)["cpu_precision"] == "bf16"
    cpu(NATIVE)
    assert precision_record("auto")["cpu_precision"] == "bf16"
    assert precision_record(False)["cpu_precision"] == "float32"


def test_schema_default_is_auto_and_other_values_are_refused() -> None:
    assert validate_config({})["train"]["autocast_cpu"] == "auto"
    assert validate_config({"train": {"autocast_cpu": True}})["train"]["autocast_cpu"] is True
    with pytest.raises(DDLError, match="autocast_cpu"):
        validate_config({"train": {"autocast_cpu": "bf16"}})


def test_this_processes_answer_is_what_pytorch_reports() -> None:
    support = cpu_precision.cpu_bf16_support()
    assert support.capability == torch.backends.cpu.get_cpu_capability()
    assert support.onednn_bf16 == torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's ISA cap is x86's")
def test_capping_onednn_at_avx2_turns_native_bf16_off() -> None:
    """ONEDNN_MAX_CPU_ISA=AVX2 (how docs/speed.md emulates a CPU without bf16) makes auto choose float32;
    ATEN_CPU_CAPABILITY=avx2 lowers the reported capability."""
    probe = ("import json; from ddlcore.cpu_precision import cpu_bf16_support as s; b = s(); "
             "print(json.dumps([b.capability, b.onednn_bf16, b.native]))")
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    capability, onednn, native = json.loads(out)
    assert capability != "AVX512" and not onednn and not native


def test_training_uses_and_records_the_resolved_precision(cpu, videos, tmp_path, capsys) -> None:  # noqa: F811
    frames, masks = videos
    cpu(NO_BF16)
    config = make_config(autocast_cpu="auto", epochs=1, steps_per_epoch=2)
    out = train_model(*sections(config), "s0", "c3dsu", "ddl", frames, masks, tmp_path / "m.pt")
    _, meta = load_trained_model(out)
    assert meta["cpu_precision"] == "float32" and meta["cpu"] == NO_BF16.describe()
    assert meta["train_cfg"]["autocast_cpu"] == "auto"
    assert "training on the CPU (AVX2, bf16 emulated (no AVX512-BF16 or AMX)) in float32" in capsys.readouterr().err
    cpu(NATIVE)
    out = train_model(*sections(make_config(autocast_cpu="auto", epochs=1, steps_per_epoch=2)), "s0", "c3dsu", "ddl",
                      frames, masks, tmp_path / "n.pt")
    assert load_trained_model(out)[1]["cpu_precision"] == "bf16"


def test_tables_state_the_cpu_precision(cpu) -> None:
    cpu(NO_BF16)
    origin = provenance(validate_config({}))
    assert origin["cpu_precision"] == "float32" and origin["cpu"] == NO_BF16.describe()
    footer = provenance_footer(origin)
    assert "CPU training precision here float32 (AVX2, bf16 emulated" in footer and footer.count("\n") == 2
