"""A site of cameras through the workflow's planning (prints figures; not a test).

Generates a camera root of ``--cameras`` cameras x ``--segments`` segment files of tiny footage (each a copy of one
``--frames``-frame MJPG .avi, as ``ddl record`` would leave them), then:

- times ``snakemake --dry-run`` of the tiny cameras configuration on it twice: the first plan counts the frames
  that decode in every file, the second finds them kept (results/pieces/cameras-footage.csv); the number of jobs
  planned;
- counts the submissions a run through the SLURM profile makes: every planned job but the target rule ``all`` (no
  job groups: the per-piece stages are one job per camera and stage);
- runs the first camera's job of each per-piece stage (frames, detect, track, masks), taking the commands the
  dry run prints: its wall and CPU time and CPU per piece; again with every piece kept (nothing to compute: the
  job's own overhead); the frames job once more from scratch under ``strace``: the footage files it opens (under
  the camera root) and how many of them are another camera's.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_site_plan.py --cameras 40 --segments 288 --work /tmp/site``
(and ``--cameras 1 --segments 10`` for a small site). Needs strace for the file counts.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from camera_fixtures import walking_frames, write_video  # noqa: E402

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
STAGES = ("camera_frames", "camera_detect", "camera_track", "camera_masks")


def make_site(root: Path, cameras: int, segments: int, frames: int) -> int:
    """``root/cam<i>/normal/<segment>.avi``: copies of one generated segment; returns the number of files."""
    if root.exists():
        shutil.rmtree(root)
    segment = write_video(root.parent / "segment.avi", walking_frames(frames, 24, 32, seed=0))
    for camera in range(cameras):
        normal = root / f"cam{camera:02d}" / "normal"
        normal.mkdir(parents=True)
        for i in range(segments):
            shutil.copyfile(segment, normal / f"2026-12-07_{i:04d}.avi")
    return cameras * segments


def config_file(work: Path) -> Path:
    """The tiny cameras configuration (clips of 3 frames), on the generated root."""
    config = yaml.safe_load((REPO / "tests" / "data" / "tiny-cameras.yaml").read_text())
    config["dataset"]["root"] = "site"
    config["model"]["frames"] = 3
    path = work / "site.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(work: Path, config: Path, *options: str) -> tuple[float, float, str]:
    """Wall and CPU seconds a dry run of ``config`` in ``work`` takes, and what it prints."""
    cmd = [*SNAKEMAKE, "--directory", str(work), "--configfile", str(REPO / "config" / "config.yaml"), str(config),
           "--cores", "2", "--dry-run", "--printshellcmds", *options]
    start, cpu = time.perf_counter(), children_cpu()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"dry run failed: {run.stderr[-2000:]}")
    return seconds, children_cpu() - cpu, run.stdout + run.stderr


def job_count(text: str) -> int:
    """Total jobs of a dry run's job table."""
    return int(re.search(r"^total\s+(\d+)$", text, re.M).group(1))


def camera_commands(text: str, camera: str) -> dict[str, str]:
    """Rule -> the shell command of ``camera``'s job of each per-piece stage, from a dry run's printout."""
    commands = {}
    for block in re.split(r"\n\s*rule ", text)[1:]:
        rule = block.split(":")[0]
        command = re.search(r"^Shell command: (.+)$", block, re.M)
        if rule in STAGES and command and re.search(rf"wildcards: camera={camera}$", block, re.M):
            commands[rule] = command.group(1)
    return commands


def timed_job(work: Path, command: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one job's shell command run in ``work``."""
    for log in re.findall(r"2> '?([^' ]+)", command):
        (work / log).parent.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), children_cpu()
    run = subprocess.run(["bash", "-c", command], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"job failed: {command}\n{run.stderr[-2000:]}")
    return time.perf_counter() - start, children_cpu() - cpu


def opened_footage(work: Path, command: str, root: Path, camera: str) -> tuple[int, int]:
    """(footage files opened: under ``root``, of them another camera's than ``camera``) by one job's shell command,
    run in ``work`` under strace (its frame stores removed first, so that every piece is computed)."""
    folder = re.search(r"--out-dir '?([^' ]+)", command).group(1)
    shutil.rmtree(work / folder, ignore_errors=True)
    traces = work / "strace"
    shutil.rmtree(traces, ignore_errors=True)
    traces.mkdir()
    # one trace file per process (-ff): the job's worker processes' calls are not split across lines
    run = subprocess.run(["strace", "-ff", "-qq", "-e", "trace=openat", "-o", str(traces / "trace"), "bash", "-c",
                          command], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"job failed under strace: {command}\n{run.stderr[-2000:]}")
    opened = {path for trace in traces.iterdir()
              for path in re.findall(r'openat\([^"]*"([^"]+)"[^=]*= \d+', trace.read_text())}
    footage = {p for p in opened if p.startswith(f"{root.name}/") or p.startswith(str(root))}
    others = {p for p in footage if not (work / p).resolve().is_relative_to(root.resolve() / camera)}
    return len(footage), len(others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=40)
    parser.add_argument("--segments", type=int, default=288, help="segment files per camera (288: a day of 5 min)")
    parser.add_argument("--frames", type=int, default=30, help="frames per segment")
    parser.add_argument("--work", type=Path, required=True, help="folder to generate the site in (emptied)")
    args = parser.parse_args()
    work = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    root = work / "site"
    start = time.perf_counter()
    files = make_site(root, args.cameras, args.segments, args.frames)
    print(f"site: {args.cameras} cameras x {args.segments} segments = {files} files of {args.frames} frames "
          f"(generated in {time.perf_counter() - start:.0f} s)")
    config = config_file(work)
    first, first_cpu, _ = dry_run(work, config)
    second, second_cpu, text = dry_run(work, config)
    print(f"plan: {job_count(text)} jobs; first dry run (counts decoded frames) {first:.1f} s ({first_cpu:.1f} s CPU), "
          f"second (counts kept) {second:.1f} s ({second_cpu:.1f} s CPU)")
    jobs = job_count(text)
    print(f"SLURM profile: {jobs - 1} submissions (every job but the target rule; "
          f"{len(STAGES)} per camera for the per-piece stages)")
    camera = "cam00"
    commands = camera_commands(text, camera)
    for stage in STAGES:
        seconds, cpu = timed_job(work, commands[stage])
        manifest = work / re.search(r"--manifest '?([^' ]+)", commands[stage]).group(1)
        pieces = len(manifest.read_text().splitlines()) - 1
        again, again_cpu = timed_job(work, commands[stage])
        print(f"job {stage} of {camera} ({pieces} pieces): {seconds:.2f} s ({cpu:.2f} s CPU); again, all kept (the "
              f"job's own overhead): {again:.2f} s ({again_cpu:.2f} s CPU); "
              f"{1000 * (cpu - again_cpu) / pieces:.0f} ms CPU a piece computed")
    footage, others = opened_footage(work, commands["camera_frames"], root, camera)
    print(f"job camera_frames of {camera}: opens {footage} footage files, {others} of another camera")


if __name__ == "__main__":
    main()
