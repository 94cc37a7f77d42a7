"""Run in the peer's virtualenv (shared/peer/README.md), not the project's: torch, transformers, peft.

    python peer_pretrained.py write DIR [peer flags]   # a random peer-shaped checkpoint, save_pretrained
    python peer_pretrained.py time DIR [peer flags]    # the peer's LoRA train step on DIR's weights

`usjax.benchmarks.hf_import` calls both, so usjax and the peer train the very same imported
weights. Both reuse shared/peer/hf_peft_bench.py (its flags, model config, batch and timed loop);
`time` only swaps its random initialisation for `from_pretrained(DIR)`. The peer script's
directory is taken from PEER_DIR (default: ../shared/peer beside the repository).
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.environ.get("PEER_DIR", os.path.join(REPO, "..", "shared", "peer")))
import hf_peft_bench  # noqa: E402


def write(directory: str) -> None:
    import torch
    args = hf_peft_bench.parse_args()
    torch.manual_seed(args.seed)
    model, _ = hf_peft_bench.build_model(args)
    model.save_pretrained(directory)
    print(f"wrote {directory}: {sum(p.numel() for p in model.parameters())} parameters")


def time_pretrained(directory: str) -> None:
    from transformers import Qwen2VLForConditionalGeneration
    random_init = hf_peft_bench.build_model

    def pretrained(args):
        _, cfg = random_init(args)  # the same config; only the weights come from the directory
        model = Qwen2VLForConditionalGeneration.from_pretrained(directory, attn_implementation="sdpa")
        return model.float(), cfg

    hf_peft_bench.build_model = pretrained
    hf_peft_bench.main()


if __name__ == "__main__":
    command, directory = sys.argv[1], sys.argv[2]
    sys.argv = [sys.argv[0], *sys.argv[3:]]  # the rest are hf_peft_bench's own flags
    {"write": write, "time": time_pretrained}[command](directory)
