"""Command-line flags of launch/run.py and their checks (each bad value is one line, before any work)."""
import argparse
import re

from launch import tpu_types
from launch.tpu import TpuOptions

_GS_BUCKET = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}(/.*)?$")


class UsageError(ValueError):
    """A bad flag or flag combination; the message is one line saying what to change."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (`--help` still shows the full usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="launch/run.py",
        description="Expand a sweep file into runs and run them here or on Cloud TPU.")
    p.add_argument("--sweep", required=True,
                   help="experiment file with get_config(arg) and get_sweep(); FILE.py[:arg]")
    p.add_argument("--list", action="store_true", help="print the runs and exit")
    p.add_argument("--backend", choices=("local", "tpu"), default="local")
    p.add_argument("--root", default="runs", help="run workdirs go to ROOT/<sweep>/<run>/")
    p.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                   help="print every command that would be executed; execute none")
    p.add_argument("--no_report", action="store_true", help="skip the analysis report at the end")
    local = p.add_argument_group("local backend")
    local.add_argument("--parallel", type=int, default=1, help="runs at a time")
    local.add_argument("--trainer", default="usjax.main", help="module run as python -m MODULE")
    tpu = p.add_argument_group("Cloud TPU backend and preflight")
    tpu.add_argument("--tpu_type", help="accelerator type, e.g. v5p-64, v5litepod-16, v6e-8")
    tpu.add_argument("--project")
    tpu.add_argument("--zone")
    tpu.add_argument("--bucket",
                     help="gs://bucket[/prefix]; run workdirs go to BUCKET/<sweep>/<run>")
    tpu.add_argument("--runtime_version", help="default: the documented one for the TPU generation")
    tier = tpu.add_mutually_exclusive_group()
    tier.add_argument("--spot", action="store_true")
    tier.add_argument("--reserved", action="store_true")
    tier.add_argument("--best_effort", action="store_true", help="uses gcloud alpha")
    tpu.add_argument("--num_slices", type=int, default=1, help="> 1: multislice")
    tpu.add_argument("--keep_slice", action="store_true", help="do not delete the slice at the end")
    tpu.add_argument("--poll_seconds", type=float, default=30.0,
                     help="interval between slice state checks")
    tpu.add_argument("--max_requeues", type=int, default=20,
                     help="give up after this many preemptions / failed allocations")
    tpu.add_argument("--preflight", action="store_true",
                     help="AOT-compile every run's train step for --tpu_type on this machine")
    tpu.add_argument("--pick_slice", action="store_true",
                     help="with --preflight: the smallest slice of the generation that fits")
    return p


def check_local(args):
    if args.parallel < 1:
        raise UsageError(f"--parallel={args.parallel}: must be at least 1")
    cloud = [f"--{name}" for name in ("tpu_type", "project", "zone", "bucket") if getattr(args, name)]
    if cloud:  # most likely a forgotten --backend=tpu: running locally instead would surprise
        raise UsageError(f"{cloud[0]} is a Cloud TPU flag but --backend=local; add --backend=tpu "
                         "(or --preflight)")


def tpu_options(args) -> TpuOptions:
    tpu = tpu_types.parse(args.tpu_type) if args.tpu_type else None
    if tpu is None:
        raise UsageError("--backend=tpu needs --tpu_type (e.g. --tpu_type=v5p-64)")
    missing = [f"--{name}" for name in ("project", "zone", "bucket") if not getattr(args, name)]
    if missing:
        raise UsageError(f"--backend=tpu needs {', '.join(missing)} "
                         "(e.g. --project=my-project --zone=us-east5-a --bucket=gs://my-bucket)")
    if not _GS_BUCKET.match(args.bucket):
        raise UsageError(f"--bucket={args.bucket}: must be a gs:// URL, e.g. gs://my-bucket/sweeps")
    if args.num_slices < 1:
        raise UsageError(f"--num_slices={args.num_slices}: must be at least 1")
    if args.max_requeues < 0 or args.poll_seconds < 0:
        raise UsageError("--max_requeues and --poll_seconds must not be negative")
    tier = ("spot" if args.spot else "reserved" if args.reserved else
            "best-effort" if args.best_effort else "")
    return TpuOptions(tpu=tpu, project=args.project, zone=args.zone, bucket=args.bucket,
                      runtime_version=args.runtime_version or tpu.generation.runtime_version,
                      tier=tier, num_slices=args.num_slices, keep_slice=args.keep_slice,
                      poll_seconds=args.poll_seconds, max_requeues=args.max_requeues)


def check_pick_slice(args):
    if args.pick_slice and not args.preflight:
        raise UsageError("--pick_slice goes with --preflight --tpu_type=<generation>-N")


def preflight_type(args) -> tpu_types.TpuType:
    if not args.tpu_type:
        raise UsageError("--preflight needs --tpu_type (e.g. --tpu_type=v5p-64)")
    return tpu_types.parse(args.tpu_type)
