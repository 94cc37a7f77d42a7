"""Launch a sweep: list its runs, run them here or on a Cloud TPU slice, or preflight them for TPU.

    python launch/run.py --sweep=experiments/quickstart.py --list
    python launch/run.py --sweep=experiments/quickstart.py [--parallel=2]            # local
    python launch/run.py --sweep=experiments/X.py --backend=tpu --tpu_type=v5p-64 \\
        --project=P --zone=Z --bucket=gs://B [--spot] [--num_slices=2] [--dry-run]
    python launch/run.py --sweep=experiments/X.py --preflight --tpu_type=v5p-64 [--pick_slice]

The sweep file format is documented in launch/sweep.py. Exit status: 0 when every run has results
(and the report was written), 1 when a run or the report failed, 2 on bad input.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # `python launch/run.py` puts launch/, not the repo, on the path
    sys.path.insert(0, REPO_ROOT)

from launch import flags  # noqa: E402
from launch import layout  # noqa: E402
from launch import local  # noqa: E402
from launch import report  # noqa: E402
from launch import sweep as sweep_lib  # noqa: E402
from launch import tpu  # noqa: E402
from launch import tpu_types  # noqa: E402
from launch.executor import DryRunExecutor, Executor  # noqa: E402
from launch.tags import tag_flags_for  # noqa: E402

BAD_INPUT = (flags.UsageError, sweep_lib.SweepError, layout.RootError, tpu_types.TpuTypeError)


def main(argv: list[str] | None = None) -> int:
    args = flags.parser().parse_args(argv)
    try:
        return _launch(args)
    except BAD_INPUT as e:
        print(f"launch: {e}", file=sys.stderr)
        return 2
    except tpu.SliceLost as e:
        print(f"launch: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("launch: interrupted; the same command resumes the sweep", file=sys.stderr)
        return 130


def _launch(args) -> int:
    flags.check_pick_slice(args)
    sweep = sweep_lib.load(args.sweep)
    config = sweep_lib.base_config(sweep)
    sweep_lib.check_overrides(sweep, config)
    tag_flags = tag_flags_for(config, sweep.path)
    if tag_flags is None:
        print(f"note: {sweep.path}'s config has no `tags` key; runs get no sweep tags")
        tag_flags = _no_tags
    for run in sweep.runs:
        tag_flags(run)  # a tag the config cannot take fails now, not in the middle of the sweep
    if args.list:
        return _list(sweep, args.root)
    if args.preflight:
        target = flags.preflight_type(args)
        from launch import preflight  # imports jax and the trainer; only this path needs them
        return preflight.main(sweep, target, args.pick_slice)
    if args.backend == "tpu":
        opts = flags.tpu_options(args)
        layout.check_root(args.root)
        executor = DryRunExecutor() if args.dry_run else Executor()
        failed = tpu.TpuBackend(sweep, opts, args.root, executor, REPO_ROOT, tag_flags).run_all()
    else:
        flags.check_local(args)
        layout.check_root(args.root)
        if args.dry_run:
            return _print_local_commands(sweep, args, tag_flags)
        _prepare(sweep, config)
        opts = local.LocalOptions(root=args.root, parallel=args.parallel, trainer=args.trainer,
                                  repo_root=REPO_ROOT)
        failed = local.run_all(sweep, opts, tag_flags)
    return _finish(sweep, args, failed)


def _no_tags(run) -> list[str]:
    del run
    return []


def _prepare(sweep, config) -> None:
    """A sweep file's optional `prepare(config)` runs once before the local runs start (e.g. it
    builds the corpus, so parallel runs do not each build it)."""
    prepare = getattr(sweep_lib.load_module(sweep.path), "prepare", None)
    if prepare is not None:
        print(f"preparing: {sweep.path} prepare()", flush=True)
        prepare(config)


def _list(sweep, root: str) -> int:
    print(f"sweep {sweep.name}: {len(sweep.runs)} runs, workdirs under "
          f"{layout.sweep_dir(root, sweep.name)}/")
    width = max(len(r.name) for r in sweep.runs)
    for run in sweep.runs:
        overrides = " ".join(f"{k}={v!r}" for k, v in run.overrides)
        tags = ",".join(f"{k}={v}" for k, v in run.tags)
        print(f"{run.name:<{width}}  {layout.status(root, sweep.name, run.name):<7}  "
              f"{overrides}  [{tags}]")
    return 0


def _print_local_commands(sweep, args, tag_flags) -> int:
    import shlex
    opts = local.LocalOptions(root=args.root, trainer=args.trainer, repo_root=REPO_ROOT)
    for run in sweep.runs:
        if layout.has_results(args.root, sweep.name, run.name):
            print(f"# {run.name}: results.json exists, skipped")
            continue
        workdir = os.path.abspath(layout.run_dir(args.root, sweep.name, run.name))
        print(shlex.join(local.train_argv(sweep, run, workdir, opts, tag_flags(run))))
    if not args.no_report:
        print(shlex.join(report.report_argv(os.path.abspath(args.root), sweep.name, args.sweep)))
    return 0


def _finish(sweep, args, failed: list[str]) -> int:
    if args.dry_run:
        if not args.no_report:
            import shlex
            print(shlex.join(report.report_argv(os.path.abspath(args.root), sweep.name, args.sweep)))
        return 0
    done = sum(layout.has_results(args.root, sweep.name, r.name) for r in sweep.runs)
    print(f"sweep {sweep.name}: {done}/{len(sweep.runs)} runs have results; {len(failed)} failed"
          + (": " + ", ".join(failed) if failed else ""))
    for name in failed:
        print(f"  log: {os.path.join(layout.run_dir(args.root, sweep.name, name), layout.LOG)}")
    report_ok = True
    if not args.no_report and done:
        report_ok = report.write(args.root, sweep.name, REPO_ROOT, experiment=args.sweep)
    return 0 if not failed and report_ok else 1


if __name__ == "__main__":
    sys.exit(main())
