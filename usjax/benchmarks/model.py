"""Train-step throughput of the model presets on this machine, beside the HF/PEFT peer at the same shapes.

    python -m usjax.benchmarks.model [--presets s0,s4,peer,peer_large] [--modes lora,full_ft] [--profile]
                                     [--steps 10] [--peer | --no-peer] [--json_out FILE]

For every preset and mode it times usjax's real train step, built as `usjax.main` builds it
(`usjax.train.model_setup` + `usjax.train.step.jit_train_step`, base.py's mesh over the local
devices): compile time (lower + compile), median and best step time, tokens/s and MFU against a
float32 large-matmul rate measured in this same process (`usjax.train.mfu`, at the start and again
at the end; the better of the two is the peak). Process CPU seconds of the compile and of a step are
printed too: on a machine shared with other jobs they move far less than wall time.
For the presets shaped like the peer (`peer`, `peer_large`) it then runs
`shared/peer/hf_peft_bench.py` (HF transformers Qwen2-VL + PEFT LoRA, PyTorch) as a subprocess with
the same shapes, batch, step count and mode, and prints the ratios. The peer runs with
OMP_WAIT_POLICY=PASSIVE by default (`--peer_omp_wait_policy`): with other jobs on the cores, its
spinning OpenMP threads otherwise lose several-fold, which would flatter usjax.

Same work as the peer: batch 8, 4 views of 112x112, 128 text tokens all carrying loss, AdamW, float32.
LoRA mode: r=16, alpha=32 on the LM's q/k/v/o/gate/up/down projections only; the base model, the
vision tower and the merger are frozen, so the tower runs forward only and frozen weights get no
gradients (only the adapters are differentiated). full_ft: every parameter trains, vision included.
Known differences: usjax's step also clips the global gradient norm and reports gradient and
parameter norms (the peer's does not); the peer's sequence has a start and an end token around each
view (200 tokens per exam, usjax 192) and unembeds every position (usjax only the 128 text ones).
Ratios are therefore given per exam (exams/s: the same training examples) and per token (each side
counting its own tokens, which favours the peer).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import jax
import numpy as np

from experiments import base as base_config
from usjax import taxonomy
from usjax.benchmarks import op_profile
from usjax.models import flops, presets
from usjax.train import mfu, model_setup
from usjax.train import optimizer as optimizer_lib
from usjax.train import state as state_lib
from usjax.train import step as step_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPU_PRESETS = tuple(f"s{i}" for i in range(11)) + ("peer", "peer_large")
# The peer script's flags that give each peer-shaped preset (its defaults, and its "large" config).
PEER_SHAPES = {"peer": [], "peer_large": ["--hidden", "512", "--layers", "8", "--intermediate", "1408"]}
# Benchmark mode -> train.mode. "scratch" trains every parameter, as "finetune" and the peer's --full_ft
# do; "finetune" would only add loading a checkpoint, and the step time does not depend on the values.
MODES = {"lora": "lora", "full_ft": "scratch"}
LORA = dict(rank=16, alpha=32.0, dropout=0.0)  # the peer's LoraConfig; targets: presets' default (LM only)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=",".join(CPU_PRESETS), help="comma-separated preset names")
    p.add_argument("--modes", default="lora,full_ft", help="comma-separated: lora, full_ft")
    p.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after compilation")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--image_size", type=int, default=112)
    p.add_argument("--text_len", type=int, default=128)
    p.add_argument("--remat", default="lora=none,full_ft=dots_with_no_batch_dims_saveable",
                   help="usjax's model.remat for the timed step: none, full, or a "
                        "jax.checkpoint_policies name; one for every mode, or per mode as "
                        "mode=policy,... (the default: LoRA's frozen base has no weight "
                        "gradients to make room for, full fine-tuning saves the matmuls)")
    p.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the peer for the peer-shaped presets")
    p.add_argument("--peer_python", default=os.path.join(REPO, "..", ".peer-venv", "bin", "python"))
    p.add_argument("--peer_script", default=os.path.join(REPO, "..", "shared", "peer", "hf_peft_bench.py"))
    p.add_argument("--peer_threads", type=int, default=os.cpu_count())
    p.add_argument("--peer_omp_wait_policy", default="PASSIVE",
                   help="OMP_WAIT_POLICY for the peer; on a machine shared with other jobs, PyTorch's "
                        "spinning OpenMP threads (ACTIVE) lose up to ~8x; '' keeps the environment's")
    p.add_argument("--profile", action="store_true",
                   help="after the timed steps, trace two more and print the share of op time in "
                        "matmuls, copies/transposes and the rest (usjax.benchmarks.op_profile)")
    p.add_argument("--json_out", default=None)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error(f"--steps must be >= 1 and --warmup >= 0, got {args.steps} and {args.warmup}")
    args.presets = [name for name in args.presets.split(",") if name]
    args.modes = [m for m in args.modes.split(",") if m]
    args.remat = _remat_per_mode(p, args.remat)
    for key, values, known in (("--presets", args.presets, presets.PRESETS), ("--modes", args.modes, MODES)):
        unknown = [v for v in values if v not in known]
        if unknown:
            p.error(f"{key}: unknown {unknown}; choose from {sorted(known)}")
    if args.peer and not (os.path.exists(args.peer_python) and os.path.exists(args.peer_script)):
        p.error(f"--peer needs {args.peer_python} and {args.peer_script} (see shared/peer/README.md "
                "for the virtualenv), or pass --no-peer")
    return args


def _remat_per_mode(parser, value: str) -> dict[str, str]:
    """'none' -> the same policy for every mode; 'lora=none,full_ft=X' -> one per mode."""
    if "=" not in value:
        return {mode: value for mode in MODES}
    pairs = dict(item.split("=", 1) for item in value.split(",") if item)
    unknown, missing = sorted(set(pairs) - set(MODES)), sorted(set(MODES) - set(pairs))
    if unknown or missing:
        parser.error(f"--remat={value}: give a policy for each of {sorted(MODES)}"
                     f"{f'; unknown {unknown}' if unknown else ''}")
    return pairs


def synthetic_batch(args, vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A full batch in the pipeline's layout: every view real, every text token a loss target."""
    rng = np.random.default_rng((seed, 0))
    B, V, S, T = args.batch, args.views, args.image_size, args.text_len
    return dict(images=rng.integers(0, 256, (B, V, S, S, 3), dtype=np.uint8),
                image_mask=np.ones((B, V), bool),
                tokens=rng.integers(4, vocab_size, (B, T), dtype=np.int32),
                loss_mask=np.ones((B, T), np.float32),
                text_mask=np.ones((B, T), bool),
                labels=np.full((B, len(taxonomy.DIMENSIONS)), -1, np.int32))


def run_config(preset: str, mode: str, args):
    """The run config of one measurement: base.py with the peer's shapes, learning rate and float32."""
    config = base_config.get_config()
    config.model.preset = preset
    # The peer's vocabulary, whatever the tokenizer default is (base.py ties the two by reference).
    config.model.vocab_size = presets.build(preset).vocab_size
    config.model.dtype = "float32"
    config.model.remat = args.remat[mode]
    config.model.image_size = args.image_size
    config.model.lora.rank = LORA["rank"] if mode == "lora" else 0
    config.model.lora.alpha = LORA["alpha"]
    config.model.lora.dropout = LORA["dropout"]
    config.data.batch_size = args.batch
    config.data.max_images = args.views
    config.data.image_size = args.image_size
    config.data.text_len = args.text_len
    config.train.mode = MODES[mode]
    if mode == "lora":  # prepare() insists on a source of base weights; this one is never loaded
        config.train.init_from = "unused: the benchmark times random base weights"
    config.train.steps = args.warmup + args.steps
    config.train.learning_rate = 1e-4
    return config


def time_usjax(preset: str, mode: str, args) -> dict:
    """Compile and run the train step usjax.main runs; step times are wall times to block_until_ready."""
    config = run_config(preset, mode, args)
    return time_usjax_setup(config, model_setup.prepare(config), args, preset, mode)


def time_usjax_setup(config, setup, args, preset: str, mode: str, load=None) -> dict:
    """time_usjax's measurement for a prepared setup; `load(state) -> state` may replace the
    random base weights first (usjax.benchmarks.hf_import: a Hugging Face checkpoint's)."""
    tx = optimizer_lib.create(config)
    graphdef, state, shardings = model_setup.init_state(config, setup, tx)
    if load is not None:
        state = load(state)
    step = step_lib.jit_train_step(graphdef, tx, config.train.micro_batches,
                                   shardings.state, shardings.batch, model_setup.loss_fn(config))
    batch = jax.device_put(synthetic_batch(args, setup.mcfg.vocab_size, config.seed), shardings.batch)
    with setup.mesh_context():
        start, start_cpu = time.perf_counter(), time.process_time()
        compiled = step.lower(state, batch, np.float32(1e-4)).compile()
        # CPU seconds as well: on a shared machine they move much less with the others' load.
        compile_s, compile_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        times, cpu_times = [], []
        for i in range(args.warmup + args.steps):
            start, start_cpu = time.perf_counter(), time.process_time()
            state, metrics = compiled(state, batch, np.float32(1e-4))
            jax.block_until_ready((state, metrics))
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - start_cpu)
        shares = None
        if args.profile:
            carried = [state]

            def run_once():
                carried[0], out = compiled(carried[0], batch, np.float32(1e-4))
                jax.block_until_ready((carried[0], out))
            shares = op_profile.profile_shares(compiled.as_text(), run_once).fractions()
            state = carried[0]  # the traced steps donated the timed loop's state
    mcfg, step_s = setup.mcfg, statistics.median(times)
    tokens_per_step = args.batch * (mcfg.prefix_tokens + args.views * mcfg.tokens_per_view(args.image_size)
                                    + args.text_len)
    flops_per_step = args.batch * flops.train_flops_per_example(mcfg, args.text_len, args.views)
    n_trainable = state_lib.count(state.params)
    return dict(impl="usjax", preset=preset, mode=mode, devices=setup.mesh.size, compile_s=compile_s,
                compile_cpu_s=compile_cpu_s,
                step_time_median_s=step_s, step_time_min_s=min(times), step_cpu_median_s=statistics.median(cpu_times),
                tokens_per_step=tokens_per_step,
                tokens_per_s=tokens_per_step / step_s, samples_per_s=args.batch / step_s,
                flops_per_step=flops_per_step, params_trainable=n_trainable,
                params_total=n_trainable + state_lib.count(state.frozen), loss_last=float(metrics["loss"]),
                op_shares=shares)


def time_peer(preset: str, mode: str, args) -> dict:
    """One run of the peer script in its own virtualenv; its JSON is the result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "peer.json")
        cmd = [args.peer_python, args.peer_script, *PEER_SHAPES[preset], "--batch", str(args.batch),
               "--views", str(args.views), "--image_size", str(args.image_size),
               "--text_len", str(args.text_len), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--lora_rank", str(LORA["rank"]), "--lora_alpha", str(int(LORA["alpha"])),
               "--threads", str(args.peer_threads), "--json_out", out]
        if mode == "full_ft":
            cmd.append("--full_ft")
        env = dict(os.environ, **({"OMP_WAIT_POLICY": args.peer_omp_wait_policy}
                                  if args.peer_omp_wait_policy else {}))
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"peer run failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
        with open(out) as f:
            result = json.load(f)
    return dict(result, impl="peer", preset=preset, command=" ".join(cmd),
                omp_wait_policy=args.peer_omp_wait_policy or os.environ.get("OMP_WAIT_POLICY"))


def fmt_row(cells, widths):
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def print_usjax_table(rows, peak):
    print(f"\nusjax train step on {jax.device_count()} {jax.devices()[0].device_kind} device(s); MFU against "
          f"{peak.flops_per_s / 1e9:.1f} GFLOP/s ({peak.source})")
    head = ("preset", "mode", "params", "trainable", "compile s", "(cpu s)", "step s", "min s", "(cpu s)",
            "tokens/s", "GFLOP/s", "MFU")
    widths = (10, 7, 10, 10, 9, 7, 8, 8, 7, 9, 8, 6)
    print(fmt_row(head, widths))
    for r in rows:
        achieved = r["flops_per_step"] / r["step_time_median_s"]
        print(fmt_row((r["preset"], r["mode"], r["params_total"], r["params_trainable"],
                       f"{r['compile_s']:.1f}", f"{r['compile_cpu_s']:.1f}", f"{r['step_time_median_s']:.3f}",
                       f"{r['step_time_min_s']:.3f}", f"{r['step_cpu_median_s']:.3f}", f"{r['tokens_per_s']:.0f}",
                       f"{achieved / 1e9:.1f}", f"{r['mfu']:.1%}"), widths))


def print_comparison(pairs, peak):
    print("\nusjax vs peer (HF transformers + PEFT, PyTorch), same shapes and work. "
          "GFLOP/s and MFU on the peer's analytic FLOPs of the same step for both.")
    head = ("preset", "mode", "usjax s", "peer s", "usjax tok/s", "peer tok/s", "tok/s ratio",
            "exams/s ratio", "usjax MFU", "peer MFU")
    widths = (10, 7, 8, 8, 11, 10, 11, 13, 9, 8)
    print(fmt_row(head, widths))
    for ours, peer in pairs:
        flops_per_step = peer["flops_per_step_analytic"]
        print(fmt_row((ours["preset"], ours["mode"], f"{ours['step_time_median_s']:.3f}",
                       f"{peer['step_time_median_s']:.3f}", f"{ours['tokens_per_s']:.0f}",
                       f"{peer['tokens_per_s']:.0f}", f"{ours['tokens_per_s'] / peer['tokens_per_s']:.2f}",
                       f"{ours['samples_per_s'] / peer['samples_per_s']:.2f}",
                       f"{flops_per_step / ours['step_time_median_s'] / peak.flops_per_s:.1%}",
                       f"{flops_per_step / peer['step_time_median_s'] / peak.flops_per_s:.1%}"), widths))


def main(argv=None):
    args = parse_args(argv)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start; jax {jax.__version__}")
    rate_start = mfu.time_matmul_flops_per_s("float32")
    rows, pairs = [], []
    for preset in args.presets:
        for mode in args.modes:
            ours = time_usjax(preset, mode, args)
            rows.append(ours)
            print(f"usjax {preset} {mode} (remat {args.remat[mode]}): compile {ours['compile_s']:.1f} s "
                  f"({ours['compile_cpu_s']:.1f} cpu s), step {ours['step_time_median_s']:.3f} s", flush=True)
            if ours["op_shares"]:
                print(f"      op time (profile of 2 steps): "
                      + ", ".join(f"{k} {v:.0%}" for k, v in ours["op_shares"].items()), flush=True)
            if args.peer and preset in PEER_SHAPES:
                peer = time_peer(preset, mode, args)
                pairs.append((ours, peer))
                print(f"peer  {preset} {mode}: step {peer['step_time_median_s']:.3f} s", flush=True)
    # Measured again at the end: the better of the two is the less disturbed by other load.
    rate_end = mfu.time_matmul_flops_per_s("float32")
    peak = mfu.Peak(max(rate_start, rate_end),
                    f"measured float32 matmul, best of start {rate_start / 1e9:.1f} / end {rate_end / 1e9:.1f}")
    for r in rows:
        r["mfu"] = mfu.mfu(r["flops_per_step"], r["step_time_median_s"], r["devices"], peak.flops_per_s)
    print_usjax_table(rows, peak)
    if pairs:
        print_comparison(pairs, peak)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (the machine is shared)")
    if args.json_out:
        report = dict(peak_flops_per_s=peak.flops_per_s, peak_source=peak.source, cpu_count=os.cpu_count(),
                      jax=jax.__version__, args={k: v for k, v in vars(args).items()}, usjax=rows,
                      peer=[p for _, p in pairs])
        tmp = args.json_out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
        os.replace(tmp, args.json_out)


if __name__ == "__main__":
    main()
