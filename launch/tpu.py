"""Cloud TPU backend: one queued-resource slice runs the sweep's runs one after another.

Life of a sweep: check the bucket -> queue the slice (or reuse it if it already exists) -> wait for
ACTIVE -> copy the code to every worker and install requirements -> for each run without results:
start `python -m usjax.main` on all workers at once with a gs:// workdir -> copy results.json back
under the local root. When a run's command fails and the slice is no longer healthy (preempted,
suspended, gone), the slice is deleted, re-queued and set up again, and the same run restarts: the
trainer resumes from its last checkpoint in the bucket. The slice is deleted at the end, also on
errors, unless --keep_slice.

The runs go in the sweep's order, in which every run comes after the runs it refers to with
`run:<name>` (launch/sweep.py); such a reference becomes that run's gs:// workdir, and a run whose
reference failed is not started.
"""
import dataclasses
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
import time

from launch import gcloud
from launch import layout
from launch.executor import Executor, Result
from launch.sweep import Run, Sweep
from launch.tpu_types import TpuType

WAITING = {"CREATING", "ACCEPTED", "WAITING_FOR_RESOURCES", "PROVISIONING"}
TERMINAL = {"FAILED", "SUSPENDING", "SUSPENDED"}
REMOTE_DIR = "usjax"  # under the worker's home directory
REMOTE_ARCHIVE = "usjax-code.tar.gz"
# Only one process per host may own the TPU: clear what a killed earlier run left (as MaxText does).
FREE_TPU = ("sudo lsof -t /dev/accel* /dev/vfio/* 2>/dev/null | xargs -r sudo kill -9; "
            "sudo rm -f /tmp/libtpu_lockfile")


class SliceLost(RuntimeError):
    """The slice could not be (re)acquired within the allowed re-queues."""


@dataclasses.dataclass(frozen=True)
class TpuOptions:
    tpu: TpuType
    project: str
    zone: str
    bucket: str             # gs://name[/prefix]
    runtime_version: str
    tier: str               # "", "spot", "reserved", "best-effort"
    num_slices: int = 1
    keep_slice: bool = False
    poll_seconds: float = 30.0
    max_requeues: int = 20


def slice_for(sweep: Sweep, opts: TpuOptions) -> gcloud.Slice:
    # Stable id: restarting the launcher finds and reuses the slice it queued before.
    qr_id = re.sub(r"[^a-z0-9-]+", "-", f"usjax-{sweep.name}-{opts.tpu.name}".lower()).strip("-")
    return gcloud.Slice(qr_id=qr_id[:61].rstrip("-"), accelerator_type=opts.tpu.name,
                        runtime_version=opts.runtime_version, zone=opts.zone, project=opts.project,
                        tier=opts.tier, num_slices=opts.num_slices)


def remote_workdir(opts: TpuOptions, sweep: Sweep, run: Run) -> str:
    return f"{opts.bucket.rstrip('/')}/{sweep.name}/{run.name}"


def train_command(sweep: Sweep, run: Run, workdir: str, config_path: str,
                  tag_flags: list[str]) -> str:
    """The remote shell command; every argument is quoted, so no value can inject shell syntax."""
    config_flag = f"--config={config_path}" + (f":{sweep.config_arg}" if sweep.config_arg else "")
    argv = ["python3", "-m", "usjax.main", config_flag, f"--workdir={workdir}",
            *run.override_flags(), *tag_flags]
    return f"{FREE_TPU}; cd ~/{REMOTE_DIR} && {shlex.join(argv)}"


def setup_command() -> str:
    return (f"mkdir -p ~/{REMOTE_DIR} && tar -xzf ~/{REMOTE_ARCHIVE} -C ~/{REMOTE_DIR} && "
            f"python3 -m pip install --quiet -r ~/{REMOTE_DIR}/requirements.txt")


class TpuBackend:

    def __init__(self, sweep: Sweep, opts: TpuOptions, root: str, ex: Executor, repo_root: str,
                 tag_flags):
        self.sweep, self.opts, self.root, self.ex = sweep, opts, root, ex
        self.repo_root = repo_root
        self.tag_flags = tag_flags  # Run -> list of --config.tags... flags
        self.slice = slice_for(sweep, opts)
        self.requeues = 0
        self.queued = False  # for --dry-run: describe answers "not found" until create was printed
        self.config_path = _config_path_in_archive(sweep.path, repo_root)

    def run_all(self) -> list[str]:
        """Runs every run without results; returns the names of the runs that failed."""
        self._check_bucket()
        failed, pending = [], []
        for run in self.sweep.runs:  # finished runs need no slice
            if layout.has_results(self.root, self.sweep.name, run.name):
                self.ex.note(f"{run.name}: results.json already collected, skipped")
            elif self._results_exist(remote_workdir(self.opts, self.sweep, run)):
                if not self._collect(run, remote_workdir(self.opts, self.sweep, run)):
                    failed.append(run.name)
            else:
                pending.append(run)
        if not pending:
            return failed
        try:
            self._acquire()
            self._setup()
            for run in pending:
                lost = [name for name in run.dependencies if name in failed]
                if lost:
                    self.ex.note(f"{run.name}: FAILED, not started: the run it depends on "
                                 f"({lost[0]}) failed")
                    failed.append(run.name)
                elif not self._train(run):
                    failed.append(run.name)
        finally:
            if not self.opts.keep_slice:
                self.ex.run(gcloud.delete(self.slice))
        return failed

    # --- the slice ---

    def _check_bucket(self):
        bucket = re.match(r"gs://[^/]+", self.opts.bucket).group(0)
        if not self.ex.run(gcloud.bucket_describe(bucket, self.opts.project)).ok:
            raise SliceLost(f"--bucket={self.opts.bucket}: bucket not reachable with project "
                            f"{self.opts.project}; create it or fix --bucket/--project")

    def _state(self) -> str:
        dry = Result(0, "ACTIVE") if self.queued else Result(1)
        result = self.ex.run(gcloud.describe_state(self.slice), dry_result=dry, echo=False)
        return result.stdout.strip().upper() if result.ok else "NOT_FOUND"

    def _node_states(self) -> str:
        """'ACTIVE' if every node is READY, else the first bad node's state (e.g. PREEMPTED):
        a queued resource may still say ACTIVE while one of its VMs is gone."""
        for node in gcloud.node_ids(self.slice):
            result = self.ex.run(gcloud.describe_node_state(self.slice, node),
                                 dry_result=Result(0, "READY"), echo=False)
            state = result.stdout.strip().upper() if result.ok else "NOT_FOUND"
            if state != "READY":
                return f"node {node} {state}"
        return "ACTIVE"

    def _acquire(self):
        """Returns once the slice is ACTIVE, queueing or re-queueing it as needed."""
        state = self._state()
        while state != "ACTIVE":
            if state in TERMINAL:
                self._requeue(f"slice is {state}")
            elif state not in WAITING:
                self._create()
            time.sleep(self.opts.poll_seconds)
            state = self._state()
        self.ex.note(f"slice {self.slice.qr_id} ({self.opts.tpu.name} x{self.opts.num_slices}) "
                     "ACTIVE")

    def _requeue(self, why: str):
        self.requeues += 1
        if self.requeues > self.opts.max_requeues:
            raise SliceLost(f"{self.slice.qr_id}: {why} after {self.opts.max_requeues} re-queues; "
                            "giving up")
        self.ex.note(f"{why}: deleting and re-queueing {self.slice.qr_id} (#{self.requeues})")
        self.ex.run(gcloud.delete(self.slice))
        self._create()

    def _create(self):
        if not self.ex.run(gcloud.create(self.slice)).ok:
            raise SliceLost(f"{self.slice.qr_id}: queueing the slice failed (gcloud output above)")
        self.queued = True

    def _setup(self):
        with tempfile.TemporaryDirectory() as tmp:
            archive = os.path.join(tmp, REMOTE_ARCHIVE)
            files = _project_files(self.repo_root, self.sweep.path, self.config_path)
            if self.ex.dry:
                self.ex.note(f"pack {len(files)} project files from {self.repo_root} "
                             f"into {archive}")
            else:
                _pack(files, archive)
            self.ex.run(gcloud.scp_to_all(self.slice, archive, f"~/{REMOTE_ARCHIVE}"))
        if not self.ex.run(gcloud.ssh_all(self.slice, setup_command())).ok:
            raise SliceLost(f"{self.slice.qr_id}: setting up the workers failed "
                            "(see the output above)")

    # --- one run ---

    def _train(self, run: Run) -> bool:
        """Trains one run to its results.json, re-queueing the slice when it is lost."""
        workdir = remote_workdir(self.opts, self.sweep, run)
        runs = {r.name: r for r in self.sweep.runs}
        resolved = run.resolved(lambda name: remote_workdir(self.opts, self.sweep, runs[name]))
        command = train_command(self.sweep, resolved, workdir, self.config_path,
                                self.tag_flags(run))
        log = None
        if not self.ex.dry:
            local = layout.run_dir(self.root, self.sweep.name, run.name)
            os.makedirs(local, exist_ok=True)
            log = os.path.join(local, layout.LOG)
        restarts = 0
        while True:
            self.ex.note(f"{run.name}: training on {self.slice.qr_id}, workdir {workdir}"
                         + (f", log {log}" if log else ""))
            finished = self.ex.run(gcloud.ssh_all(self.slice, command), log_path=log).ok
            # A preempted trainer saves and exits 0 without results; only results.json says done.
            if finished and (self.ex.dry or self._results_exist(workdir)):
                return self._collect(run, workdir)
            state = self._state()
            if state == "ACTIVE":
                state = self._node_states()
            if state == "ACTIVE":
                restarts += finished  # stopped early (e.g. SIGTERM) after a checkpoint: resume
                if not finished or restarts > self.opts.max_requeues:
                    self.ex.note(f"{run.name}: FAILED on a healthy slice (log {log}); next run")
                    return False
                self.ex.note(f"{run.name}: exited without results.json; resuming it")
                continue
            self._requeue(f"{run.name}: slice {state} during the run")
            self._acquire()
            self._setup()

    def _results_exist(self, workdir: str) -> bool:
        return self.ex.run(gcloud.storage_exists(f"{workdir}/results.json"),
                           dry_result=Result(1)).ok

    def _collect(self, run: Run, workdir: str) -> bool:
        local = layout.run_dir(self.root, self.sweep.name, run.name)
        if not self.ex.dry:
            os.makedirs(local, exist_ok=True)
        partial = os.path.join(local, "results.json.part")
        if not self.ex.run(gcloud.storage_copy(f"{workdir}/results.json", partial)).ok:
            self.ex.note(f"{run.name}: could not copy results.json from {workdir}")
            return False
        if not self.ex.dry:
            os.replace(partial, os.path.join(local, "results.json"))
        return True


def _config_path_in_archive(sweep_path: str, repo_root: str) -> str:
    rel = os.path.relpath(os.path.abspath(sweep_path), repo_root)
    return os.path.join("_sweeps", os.path.basename(sweep_path)) if rel.startswith("..") else rel


def _project_files(repo_root: str, sweep_path: str, config_path: str) -> dict[str, str]:
    """archive name -> local path: the files git tracks or would track, plus the sweep file."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=repo_root, capture_output=True, text=True)
    names = ([n for n in listed.stdout.split("\0") if n] if listed.returncode == 0
             else _walk(repo_root))
    files = {n: os.path.join(repo_root, n) for n in names
             if os.path.isfile(os.path.join(repo_root, n)) and not n.startswith("runs/")}
    files[config_path] = os.path.abspath(sweep_path)
    return files


def _walk(repo_root: str) -> list[str]:
    names = []
    for top, dirs, files in os.walk(repo_root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "runs")]
        names += [os.path.relpath(os.path.join(top, f), repo_root) for f in files]
    return names


def _pack(files: dict[str, str], archive: str):
    with tarfile.open(archive, "w:gz") as tar:
        for name, path in sorted(files.items()):
            tar.add(path, arcname=name)
