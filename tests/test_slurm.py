"""The workflow through the SLURM profile on a real single-node SLURM cluster (see slurm_cluster.py).

Needs root (the cluster helper installs slurm-wlm and munge with apt-get when missing); skips otherwise.
The workflow test runs the tiny synthetic configuration twice at the same time, through
`--workflow-profile workflow/profiles/slurm` and locally with `--cores 2`, then checks that every planned job
except the target rule ran as its own SLURM job and that both runs wrote the same results.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from camera_fixtures import make_camera_root, walking_frames, write_video
from slurm_cluster import SQUEUE_STATUS_ARGS, SlurmCluster, SlurmUnavailable, slurm_cluster
from snakemake_command import REPO, SNAKEMAKE

pytestmark = pytest.mark.slurm

TINY_CONFIG = REPO / "tests" / "data" / "tiny.yaml"
TINY_CAMERAS = REPO / "tests" / "data" / "tiny-cameras.yaml"
# The node has no GPU: the GPU rules ask for none.
CPU_ONLY = ("--set-resources", "train:gpu=0", "score:gpu=0", "detect:gpu=0", "calibrate:gpu=0", "live_score:gpu=0")
# A failed job is a test failure: no retries (each retry would also be one more SLURM job).
NO_RETRIES = ("--retries", "0")
# CPUs the test node offers: more than the machine has, so that all jobs of a stage (one CPU each, mostly
# start-up time) run at once instead of queueing behind each other's status polls.
NODE_CPUS = 8
# Rules Snakemake runs on the submitting host: the default target, which runs no command.
LOCAL_RULES = {"all"}
# Result folders whose files differ between any two runs (job logs, timings), and the timing tables.
RUN_SPECIFIC = {"logs", "benchmarks"}
TIMING_TABLES = "jobs-*"
# Both runs together must finish within this many seconds. The runs take about 2 minutes on an idle 2-core
# machine; a machine busy with other work has been seen to take over 7. The deadline only stops a hung run
# within CI's 90 minutes; DDL_SLURM_TEST_TIMEOUT_S overrides it.
WORKFLOW_TIMEOUT_S = int(os.environ.get("DDL_SLURM_TEST_TIMEOUT_S", "1800"))


@pytest.fixture(scope="module")
def cluster():
    try:
        with slurm_cluster(cpus=NODE_CPUS) as running:
            yield running
    except SlurmUnavailable as exc:
        pytest.skip(f"no SLURM test cluster: {exc}")


def test_cluster_runs_a_batch_job_on_its_node(cluster: SlurmCluster):
    job_id = cluster.run("sbatch", "--parsable", "--job-name", "probe", "--wrap", "true").strip()
    finished = _wait_until(lambda: job_id in cluster.completed_jobs(), 30)
    assert finished, f"job {job_id} did not finish: {cluster.run('squeue', '--states=all')}"
    record = cluster.completed_jobs()[job_id]
    assert (record["Name"], record["JobState"], record["NodeList"]) == ("probe", "COMPLETED", "localhost")


@pytest.mark.slow  # 14 min on 2 cores: outside the default run (pytest -m slow)
def test_workflow_on_slurm_equals_local_run(cluster: SlurmCluster, tmp_path: Path):
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    planned = _planned_jobs(slurm_dir)
    slurm_run = _start_snakemake(
        slurm_dir, cluster.env, "--workflow-profile", str(REPO / "workflow" / "profiles" / "slurm"),
        *SQUEUE_STATUS_ARGS, *CPU_ONLY, *NO_RETRIES,
    )
    local_run = _start_snakemake(local_dir, dict(os.environ), "--cores", "2")
    deadline = time.monotonic() + WORKFLOW_TIMEOUT_S
    (slurm_rc, slurm_log), (local_rc, local_log) = _finish(slurm_run, slurm_dir, deadline), \
        _finish(local_run, local_dir, deadline)
    assert slurm_rc == 0, f"snakemake through the SLURM profile {_failure(slurm_rc)}:\n{slurm_log[-3000:]}"
    assert local_rc == 0, f"snakemake --cores 2 {_failure(local_rc)}:\n{local_log[-3000:]}"

    run_id = re.search(r"SLURM run ID: (\S+)", slurm_log).group(1)
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", slurm_log))
    slurm_jobs = _slurm_jobs_of_run(cluster, run_id, slurm_dir / "squeue.txt")
    assert set(slurm_jobs) == submitted
    assert {state for _, state in slurm_jobs.values()} == {"COMPLETED"}
    completed = cluster.completed_jobs()
    assert {completed[j]["JobState"] for j in submitted} == {"COMPLETED"}
    ran_on_slurm = Counter(rule for rule, _ in slurm_jobs.values())
    ran_locally = Counter(re.findall(r"^localrule (\w+):", slurm_log, flags=re.MULTILINE))
    assert set(ran_locally) <= LOCAL_RULES
    assert ran_on_slurm + ran_locally == planned
    assert "SLURM" not in local_log
    _assert_same_results(local_dir / "results", slurm_dir / "results")


def _camera_site(root: Path) -> Path:
    """Four cameras under ``root``: the two of :func:`make_camera_root` and two more with normal footage only."""
    make_camera_root(root)
    for seed, camera in enumerate(("gate", "lobby"), start=10):
        write_video(root / camera / "normal" / "a.avi", walking_frames(40, 48, 64, seed=seed))
        write_video(root / camera / "normal" / "b.avi", walking_frames(30, 48, 64, seed=seed + 1))
    return root


@pytest.mark.slow
def test_a_camera_site_on_slurm_submits_one_job_per_camera_and_stage_and_equals_local_run(cluster: SlurmCluster,
                                                                                           tmp_path: Path):
    """The per-piece stages of a 4-camera site (frames, detection, tracking, masks) go to SLURM as one job per camera
    and stage, however many pieces the cameras have: submissions grow with cameras, and the results equal a local
    run's."""
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    configs = (REPO / "config" / "config.yaml", TINY_CAMERAS)
    for workdir in (slurm_dir, local_dir):
        _camera_site(workdir / "cameras")
    profile = ("--workflow-profile", str(REPO / "workflow" / "profiles" / "slurm"))
    plan = subprocess.run([*SNAKEMAKE, "--directory", str(slurm_dir), "--configfile", *map(str, configs), *profile,
                           "--dry-run"], capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-2000:]
    planned = plan.stdout + plan.stderr
    per_rule = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", planned.split("total")[0], re.M)}
    jobs = sum(per_rule.values())
    pieces = len((slurm_dir / "results" / "pieces" / "cameras.csv").read_text().splitlines()) - 1
    per_camera = {rule: per_rule[rule] for rule in ("camera_frames", "camera_detect", "camera_track", "camera_masks")}
    assert set(per_camera.values()) == {4} and pieces == 12  # 4 cameras' 12 pieces: 4 jobs of each stage
    assert "Group job" not in planned and not {"extract_frames", "detect", "track", "masks"} & set(per_rule)
    slurm_run = _start_snakemake(slurm_dir, cluster.env, *profile, *SQUEUE_STATUS_ARGS, *CPU_ONLY, *NO_RETRIES,
                                 configs=configs)
    local_run = _start_snakemake(local_dir, dict(os.environ), "--cores", "2", configs=configs)
    deadline = time.monotonic() + WORKFLOW_TIMEOUT_S
    (slurm_rc, slurm_log), (local_rc, local_log) = _finish(slurm_run, slurm_dir, deadline), \
        _finish(local_run, local_dir, deadline)
    assert slurm_rc == 0, f"snakemake through the SLURM profile {_failure(slurm_rc)}:\n{slurm_log[-3000:]}"
    assert local_rc == 0, f"snakemake --cores 2 {_failure(local_rc)}:\n{local_log[-3000:]}"
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", slurm_log))
    assert len(submitted) == jobs - 1, f"{len(submitted)} SLURM jobs for {jobs - 1} jobs"  # every job but `all`
    assert {cluster.completed_jobs()[j]["JobState"] for j in submitted} == {"COMPLETED"}
    for root in (local_dir, slurm_dir):  # the decoded frame counts record each file's time: not compared
        (root / "results" / "pieces" / "cameras-footage.csv").unlink()
    _assert_same_results(local_dir / "results", slurm_dir / "results")


def _planned_jobs(workdir: Path) -> Counter:
    """Jobs per rule that a complete run of the tiny configuration in workdir plans (dry run)."""
    workdir.mkdir()
    done = subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(TINY_CONFIG), "--dry-run", "--quiet", "rules"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("total")[0]
    planned = Counter({rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)})
    assert planned, done.stdout
    return planned


def _start_snakemake(workdir: Path, env: dict[str, str], *options: str,
                     configs: tuple[Path, ...] = (TINY_CONFIG,)) -> subprocess.Popen:
    """Start the workflow on the tiny configuration (or ``configs``) in workdir, detached from this terminal."""
    workdir.mkdir(exist_ok=True)
    with open(workdir / "snakemake.out", "w") as log:
        return subprocess.Popen(
            [*SNAKEMAKE, "--directory", str(workdir), "--configfile", *map(str, configs), *options],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


TIMED_OUT = -1000


def _finish(run: subprocess.Popen, workdir: Path, deadline: float) -> tuple[int, str]:
    """Wait for a run started by _start_snakemake until the monotonic ``deadline`` (then kill its process
    group); return its exit status (:data:`TIMED_OUT` when the deadline stopped it) and output."""
    try:
        run.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        return TIMED_OUT, (workdir / "snakemake.out").read_text()
    return run.returncode, (workdir / "snakemake.out").read_text()


def _failure(returncode: int) -> str:
    """How a run ended, for the assertion message: the test's deadline, or the workflow's own exit status."""
    if returncode == TIMED_OUT:
        return (f"was killed by the test's deadline of {WORKFLOW_TIMEOUT_S} s (DDL_SLURM_TEST_TIMEOUT_S), not by a "
                "failure of the workflow: the machine may be busy; its output so far")
    return f"exited {returncode}"


def _slurm_jobs_of_run(cluster: SlurmCluster, run_id: str, record: Path) -> dict[str, tuple[str, str]]:
    """SLURM jobs named after the Snakemake run: job id -> (rule, state), the rule read from the job comment.

    The full squeue listing of the run is also written to record, for the reader of a failed test.
    """
    listing = cluster.run("squeue", "--states=all", "--name", run_id, "--format=%.5i %.60k %.10T %.8M %.4C %N")
    record.write_text(listing)
    lines = cluster.run("squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%k|%T").split()
    jobs = {}
    for line in lines:
        job_id, comment, state = line.split("|")
        rule = comment.removeprefix("rule_").split("_wildcards_")[0]
        jobs[job_id] = (rule, state)
    return jobs


def _assert_same_results(expected_root: Path, actual_root: Path) -> None:
    """Every result file of both runs (outside RUN_SPECIFIC) has the same content."""
    expected, actual = _result_files(expected_root), _result_files(actual_root)
    assert actual == expected
    for rel in sorted(expected):
        a, b = expected_root / rel, actual_root / rel
        if rel.suffix == ".h5":
            _assert_same_hdf5(a, b)
        elif rel.suffix == ".pt":
            _assert_same_value(torch.load(a, weights_only=False), torch.load(b, weights_only=False), str(rel))
        else:
            assert a.read_bytes() == b.read_bytes(), f"{rel} differs"


def _result_files(root: Path) -> set[Path]:
    return {
        p.relative_to(root) for p in root.rglob("*")
        if p.is_file() and not RUN_SPECIFIC & set(p.relative_to(root).parts) and not p.match(TIMING_TABLES)
        and not p.parent.name.endswith((".onnx", ".int8"))  # graph caches beside a model (score.runtime), not results
        and not p.name.endswith(".probe.json")  # score.runtime auto's measurements
    }


def _assert_same_hdf5(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        assert names_a == names_b, f"{a.name}: groups and datasets differ"
        for name in ["/", *names_a]:
            where = f"{a.name}:{name}"
            # a calibration's model_sha256 hashes the model file's bytes, whose pickled metadata records the run
            # (the models themselves are compared by content); the clip length and frame size beside it must agree
            attrs_a, attrs_b = ({k: v for k, v in f[name].attrs.items() if k != "model_sha256"} for f in (fa, fb))
            _assert_same_value(attrs_a, attrs_b, f"{where} attrs")
            if isinstance(fa[name], h5py.Dataset):
                _assert_same_value(fa[name][()], fb[name][()], where)


def _assert_same_value(a, b, where: str) -> None:
    """Exact equality of nested dicts / lists / tensors / arrays / scalars (NaN equals NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            _assert_same_value(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_value(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} vs {b!r}"


def _wait_until(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False
