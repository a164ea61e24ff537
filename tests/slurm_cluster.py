"""A real single-node SLURM cluster on localhost, for tests.

`slurm_cluster()` installs Debian's `slurm-wlm` and `munge` with apt-get when they are missing, writes a
private munge key and a `slurm.conf` into a fresh directory, starts `munged`, `slurmctld` and `slurmd` in the
foreground as child processes, waits until `sinfo` shows the node idle, yields a `SlurmCluster`, and on exit
cancels the jobs left on it, stops the daemons it started by their PIDs and removes the directory.

munged listens on a private socket; the daemons use free TCP ports and keep their state, spool, logs and PID
files in the cluster directory. Clients find the cluster through `SLURM_CONF` (set in `SlurmCluster.env`) and
through a symlink at the system's default path /etc/slurm/slurm.conf, removed on exit: the snakemake
slurm-jobstep executor strips every `SLURM_*` variable, `SLURM_CONF` included, before its nested `srun`, which
then reads the default path as on a real cluster node. A machine that already has /etc/slurm/slurm.conf (a real
cluster, or another test cluster running) is left alone: the helper raises SlurmUnavailable.

Accounting is not configured (no slurmdbd): `sacct` does not work on this cluster. Every finished job is
instead recorded by `JobCompType=jobcomp/filetxt` in `SlurmCluster.jobcomp_log`, and `squeue --states=all`
lists finished jobs for `MinJobAge` seconds. The snakemake slurm executor therefore needs
`--slurm-status-command squeue` (see `SQUEUE_STATUS_ARGS`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
REQUIRED_PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
PARTITION = "debug"
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
CLUSTER_DIR_PREFIX = "ddl-slurm-"
NODE = "localhost"
# Seconds finished jobs stay visible to `squeue --states=all`; the slurm executor's squeue status command
# needs it above three times its first status-check delay, and the workflow test reads every job of its run
# after the run ends, so it must also outlast that test's deadline (test_slurm.WORKFLOW_TIMEOUT_S, 1800 s):
# on a busy machine a 900 s age let the run's first jobs drop out of the listing before the test read it.
MIN_JOB_AGE_S = 3600
# Command-line options the snakemake slurm executor needs on a cluster without accounting. The executor polls
# `init` seconds after a submission, then every poll that finds no finished job waits 10 s longer: a short
# first delay (default 40 s) is what keeps a chain of seconds-long jobs fast.
SQUEUE_STATUS_ARGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
)


class SlurmUnavailable(Exception):
    """SLURM cannot be provided on this machine (not root, no apt-get, or the packages fail to install)."""


@dataclass(frozen=True)
class SlurmCluster:
    """A running single-node cluster: its config file, client environment and job-completion log."""

    root: Path
    conf: Path
    jobcomp_log: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 30) -> str:
        """Run a SLURM client command (e.g. "squeue", "-h") against this cluster and return its stdout."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def completed_jobs(self) -> dict[str, dict[str, str]]:
        """Finished jobs from the job-completion log: JobId -> its fields (JobName, JobState, NodeList, ...).

        Each log line is a run of `Key=Value` fields separated by spaces; values never contain spaces except
        in the trailing free-text fields, which are kept only up to their first space.
        """
        jobs: dict[str, dict[str, str]] = {}
        if not self.jobcomp_log.exists():
            return jobs
        for line in self.jobcomp_log.read_text().splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs


def ensure_slurm_installed() -> None:
    """Install `slurm-wlm` and `munge` with apt-get when a required program is missing.

    Raises SlurmUnavailable when not root, when apt-get is absent, or when the installation fails.
    """
    if all(shutil.which(program, path=_sbin_path()) for program in REQUIRED_PROGRAMS):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM is not installed and installing it with apt-get needs root")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable("SLURM is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise SlurmUnavailable(f"{shlex.join(command)} failed ({done.returncode}): {tail}")
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p, path=_sbin_path()) is None]
    if missing:
        raise SlurmUnavailable(f"after installing {' '.join(PACKAGES)}, still missing: {' '.join(missing)}")


@contextlib.contextmanager
def slurm_cluster(cpus: int | None = None, real_memory_mb: int = 64000) -> Iterator[SlurmCluster]:
    """Start a single-node SLURM cluster on localhost and stop it on exit.

    cpus: CPUs the node offers (default: this machine's count, at least 2).
    real_memory_mb: memory the node offers. Memory is not enforced (no cgroups), so the default is generous
      enough that jobs asking for more memory than a small test machine has still run.
    Raises SlurmUnavailable when not root, when SLURM cannot be installed (see `ensure_slurm_installed`) or when
    /etc/slurm/slurm.conf exists; RuntimeError when a daemon fails to start (with the tails of their logs).
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("a SLURM test cluster needs root (slurmd starts jobs as their users)")
    ensure_slurm_installed()
    # munged insists that every user can traverse the directory holding its socket.
    root = Path(tempfile.mkdtemp(prefix=CLUSTER_DIR_PREFIX))
    root.chmod(0o755)
    daemons: list[subprocess.Popen] = []
    try:
        cluster = _configure(root, cpus or max(os.cpu_count() or 1, 2), real_memory_mb)
        _claim_default_conf(cluster.conf)
        daemons.append(_start(root, "munged", _munged_command(root), cluster.env))
        _wait_for(lambda: _succeeds(["munge", "-S", str(root / "munge.sock"), "-n"], cluster.env), 20,
                  "munged to accept credentials", root, daemons)
        daemons.append(_start(root, "slurmctld", ["slurmctld", "-D", "-f", str(cluster.conf)], cluster.env))
        daemons.append(_start(root, "slurmd", ["slurmd", "-D", "-f", str(cluster.conf), "-N", NODE],
                              cluster.env))
        _wait_for(lambda: _node_state(cluster) == "idle", 60, "the node to become idle in sinfo", root, daemons)
        yield cluster
    finally:
        _stop(root, daemons)
        _release_default_conf(root / "slurm.conf")
        shutil.rmtree(root, ignore_errors=True)


def _claim_default_conf(conf: Path) -> None:
    """Point /etc/slurm/slurm.conf at conf; SlurmUnavailable if another configuration lives there.

    A symlink left by a test cluster whose directory is gone (a killed test run) is replaced.
    """
    if DEFAULT_CONF.is_symlink() and not DEFAULT_CONF.exists() and CLUSTER_DIR_PREFIX in str(
        DEFAULT_CONF.readlink()
    ):
        DEFAULT_CONF.unlink()
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    try:
        DEFAULT_CONF.symlink_to(conf)
    except FileExistsError:
        raise SlurmUnavailable(
            f"{DEFAULT_CONF} already exists (a real SLURM configuration, or another test cluster: its "
            "directory holds the daemons' PID files); the test cluster does not replace it"
        ) from None


def _release_default_conf(conf: Path) -> None:
    """Remove /etc/slurm/slurm.conf if it is the symlink to conf made by `_claim_default_conf`."""
    if DEFAULT_CONF.is_symlink() and DEFAULT_CONF.readlink() == conf:
        DEFAULT_CONF.unlink()


def _configure(root: Path, cpus: int, real_memory_mb: int) -> SlurmCluster:
    """Write a munge key and slurm.conf under root; return the cluster description (not yet running)."""
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    key = root / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, env=_env_with_sbin())
    key.chmod(0o600)
    ctld_port, slurmd_port = _free_port(), _free_port()
    host = socket.gethostname().split(".")[0]
    jobcomp_log = root / "log" / "jobcomp.log"
    settings = {
        "ClusterName": "ddltest",
        "SlurmctldHost": f"{host}(127.0.0.1)",
        "SlurmctldPort": ctld_port,
        "SlurmdPort": slurmd_port,
        "SlurmUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={root / 'munge.sock'}",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/filetxt",
        "JobCompLoc": jobcomp_log,
        "MinJobAge": MIN_JOB_AGE_S,
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        "MpiDefault": "none",
        "ReturnToService": 2,
        # The node may be declared with more CPUs/memory than it has (see slurm_cluster).
        "SlurmdParameters": "config_overrides",
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid",
        "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "log" / "slurmctld.log",
        "SlurmdLogFile": root / "log" / "slurmd.log",
        "SlurmctldTimeout": 30,
        "SlurmdTimeout": 30,
    }
    lines = [f"{key_}={value}" for key_, value in settings.items()]
    lines.append(
        f"NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} "
        f"RealMemory={real_memory_mb} State=UNKNOWN"
    )
    lines.append(f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP")
    conf = root / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    env = {**_env_with_sbin(), "SLURM_CONF": str(conf)}
    return SlurmCluster(root=root, conf=conf, jobcomp_log=jobcomp_log, env=env)


def _munged_command(root: Path) -> list[str]:
    """munged in the foreground on a private socket, key, PID and seed file under root."""
    return [
        "munged",
        "--foreground",
        f"--socket={root / 'munge.sock'}",
        f"--key-file={root / 'munge.key'}",
        f"--pid-file={root / 'munged.pid'}",
        f"--seed-file={root / 'munged.seed'}",
    ]


def _start(root: Path, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start one daemon in its own session with stdout/stderr to root/log/{name}.out."""
    out = open(root / "log" / f"{name}.out", "wb")  # noqa: SIM115 - the daemon owns it; closed in _stop
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(root: Path, daemons: list[subprocess.Popen]) -> None:
    """Cancel jobs left on the cluster, then stop the daemons in reverse start order by PID."""
    if any(d.args[0] == "slurmctld" and d.poll() is None for d in daemons):
        conf = str(root / "slurm.conf")
        subprocess.run(["scancel", "--full", "--state=PENDING,RUNNING,SUSPENDED", "--partition", PARTITION],
                       env={**_env_with_sbin(), "SLURM_CONF": conf}, capture_output=True, timeout=30)
    for daemon in reversed(daemons):
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(timeout=10)
        if daemon.stdout is not None:
            daemon.stdout.close()


def _wait_for(check, timeout_s: float, what: str, root: Path, daemons: list[subprocess.Popen]) -> None:
    """Poll check() until true; on timeout or a daemon's death raise RuntimeError with the logs' tails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [d.args[0] for d in daemons if d.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}: {_log_tails(root)}")
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}: {_log_tails(root)}")


def _log_tails(root: Path) -> str:
    """The last lines of every daemon log under root/log, for error messages."""
    parts = []
    for log in sorted((root / "log").glob("*")):
        if log.name != "jobcomp.log":
            lines = log.read_text(errors="replace").strip().splitlines()[-5:]
            parts.append(f"[{log.name}] " + " / ".join(lines))
    return " ".join(parts)


def _node_state(cluster: SlurmCluster) -> str:
    """The node's state as sinfo reports it ("idle", "down", ...), or "" when sinfo cannot answer yet."""
    done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=cluster.env, capture_output=True, text=True,
                          timeout=10)
    return done.stdout.strip() if done.returncode == 0 else ""


def _succeeds(command: list[str], env: dict[str, str]) -> bool:
    """Whether command exits 0."""
    return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode == 0


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sbin_path() -> str:
    """PATH with the sbin directories added (the daemons live in /usr/sbin)."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def _env_with_sbin() -> dict[str, str]:
    """This process's environment with `_sbin_path()` as PATH."""
    return {**os.environ, "PATH": _sbin_path()}
