"""Importing a Hugging Face Qwen2-VL checkpoint, and LoRA-training it beside the peer on the same weights.

    python -m usjax.benchmarks.hf_import [--steps 10] [--workdir DIR] [--peer_python P]

1. The peer (shared/peer, in its own virtualenv) writes a random checkpoint shaped like the
   `peer_large` preset with `save_pretrained` (usjax/benchmarks/peer_pretrained.py write).
2. A fresh process imports it (config.json -> model, `usjax.hf.weights.load_into`) and reports the
   import's wall time and the process' peak resident memory, beside the checkpoint's size and the
   peak of the same process before it reads any tensor (jax, the model's random init).
3. usjax's LoRA train step (`usjax.benchmarks.model`'s measurement: same shapes, batch 8, 4 views
   of 112x112, 128 text tokens, r=16 on the LM) on the imported weights, then the peer's LoRA step
   on the same checkpoint (peer_pretrained.py time), and their tokens/s ratio. The imported model
   reads Qwen2-VL's layout with an empty system prefix, [start, view, end] per view then the text:
   200 tokens per exam, exactly the peer's sequence.
"""
import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from usjax.benchmarks import model as model_bench

PEER_LARGE = model_bench.PEER_SHAPES["peer_large"]
VOCAB = 8000  # the peer's; its last four ids are the vision specials


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--workdir", default="", help="where the checkpoint is written (default: a temp dir)")
    p.add_argument("--peer_python", default=os.path.join(model_bench.REPO, "..", ".peer-venv", "bin", "python"))
    p.add_argument("--peer_threads", type=int, default=os.cpu_count())
    p.add_argument("--import_only", default="", help=argparse.SUPPRESS)  # step 2, in its own process
    args = p.parse_args(argv)
    if not args.import_only and not os.path.exists(args.peer_python):
        p.error(f"--peer_python {args.peer_python} does not exist; make the peer's virtualenv "
                f"(shared/peer/README.md)")
    return args


def peer(args, command: str, directory: str, *extra: str) -> subprocess.CompletedProcess:
    script = os.path.join(model_bench.REPO, "usjax", "benchmarks", "peer_pretrained.py")
    cmd = [args.peer_python, script, command, directory, *PEER_LARGE, "--threads", str(args.peer_threads), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    if done.returncode != 0:
        raise RuntimeError(f"peer failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    return done


def chat_layout():
    from usjax.models import presets
    return presets.ChatLayout(prefix_ids=(), vision_start_id=VOCAB - 4, vision_end_id=VOCAB - 3)


def measure_import(directory: str) -> dict:
    """Runs in a fresh process: peak RSS before any tensor is read, then after the import."""
    from flax import nnx

    from usjax.hf import config as hf_config
    from usjax.hf import weights
    from usjax.models import vlm
    start = time.perf_counter()
    model = vlm.VisionLanguageModel(hf_config.model_config(directory, chat=chat_layout()), rngs=nnx.Rngs(0))
    built_s, before = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = weights.load_into(model, directory)
    load_s = time.perf_counter() - start
    return dict(build_s=built_s, load_s=load_s, tensors=report.loaded, bytes_read=report.bytes_read,
                peak_rss_before_mib=before / 1024,
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def time_usjax_lora(directory: str, args) -> dict:
    """usjax.benchmarks.model's LoRA measurement, with the base weights imported from `directory`."""
    from usjax.hf import config as hf_config
    from usjax.train import model_setup
    shapes = argparse.Namespace(batch=8, views=4, image_size=112, text_len=128, steps=args.steps,
                                warmup=args.warmup, remat={"lora": "none"}, profile=False)
    config = model_bench.run_config("peer_large", "lora", shapes)
    setup = model_setup.prepare(config)
    mcfg = hf_config.model_config(directory, chat=chat_layout(), lora=dict(model_bench.LORA),
                                  image_size=shapes.image_size)
    fields = ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab_size")
    if any(getattr(mcfg, f) != getattr(setup.mcfg, f) for f in fields):
        raise ValueError(f"{directory} is not shaped like the peer_large preset ({fields})")
    # the checkpoint's own network (two frames per patch, the chat layout) on the preset's mesh
    setup = dataclasses.replace(setup, mcfg=mcfg, param_counts=model_setup.params_lib.count(mcfg))
    config.train.init_from, config.model.init_from_hf = "", directory
    return model_bench.time_usjax_setup(config, setup, shapes, "peer_large", "lora",
                                        load=lambda state: model_setup.load_initial_params(config, setup, state))


def main(argv=None):
    args = parse_args(argv)
    if args.import_only:
        print(json.dumps(measure_import(args.import_only)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = os.path.join(args.workdir or tmp, "peer_large_hf")
        if not os.path.isfile(os.path.join(directory, "config.json")):
            peer(args, "write", directory)
        size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
        done = subprocess.run([sys.executable, "-m", "usjax.benchmarks.hf_import", "--import_only", directory],
                              capture_output=True, text=True, cwd=model_bench.REPO)
        if done.returncode != 0:
            raise RuntimeError(f"import failed:\n{done.stderr[-2000:]}")
        imported = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{os.cpu_count()} CPU cores; checkpoint {directory}: {size / 2**20:.1f} MiB")
        print(f"import: model built in {imported['build_s']:.2f} s, {imported['tensors']} tensors "
              f"({imported['bytes_read'] / 2**20:.1f} MiB) loaded in {imported['load_s']:.2f} s; peak RSS "
              f"{imported['peak_rss_before_mib']:.0f} MiB before reading, {imported['peak_rss_mib']:.0f} MiB after",
              flush=True)
        ours = time_usjax_lora(directory, args)
        print(f"usjax LoRA step on the imported weights: {ours['step_time_median_s']:.3f} s, "
              f"{ours['tokens_per_s']:.0f} tokens/s", flush=True)
        out = os.path.join(args.workdir or tmp, "peer.json")
        peer(args, "time", directory, "--steps", str(args.steps), "--warmup", str(args.warmup), "--json_out", out)
        with open(out) as f:
            theirs = json.load(f)
    print(f"peer  LoRA step on the same weights: {theirs['step_time_median_s']:.3f} s, "
          f"{theirs['tokens_per_s']:.0f} tokens/s")
    print(f"tokens/s ratio usjax / peer: {ours['tokens_per_s'] / theirs['tokens_per_s']:.2f} "
          f"(tokens per step: usjax {ours['tokens_per_step']}, peer {theirs['tokens_per_step']})")


if __name__ == "__main__":
    main()
