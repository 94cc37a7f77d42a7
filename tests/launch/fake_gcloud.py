"""A fake `gcloud` for launch tests: appends its argv as JSON to $FAKE_GCLOUD_DIR/calls.jsonl and
answers from canned files in that directory:
  states     one queued-resource state per `describe` (NOT_FOUND = exit 1); the last line repeats
  ssh_exits  one exit code per training ssh (a --command running usjax.main); default 0;
             0 also puts the run's results.json into `existing`
  node_states  one TPU VM state per `tpu-vm describe`; default READY
  existing   gs:// URLs that `storage ls` finds
  no_bucket  if present, `storage buckets describe` fails
`storage cp SRC DST` writes a small results.json to DST.
"""
import json
import os
import shlex
import sys


def pop(path: str, default: str) -> str:
    if not os.path.exists(path):
        return default
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip()]
    if not lines:
        return default
    if len(lines) > 1:
        with open(path, "w") as f:
            f.write("\n".join(lines[1:]) + "\n")
    return lines[0]


def main(argv: list[str]) -> int:
    home = os.environ["FAKE_GCLOUD_DIR"]
    with open(os.path.join(home, "calls.jsonl"), "a") as f:
        f.write(json.dumps(["gcloud", *argv]) + "\n")
    words = [a for a in argv if not a.startswith("-")]
    if "describe" in words and "queued-resources" in words:
        state = pop(os.path.join(home, "states"), "ACTIVE")
        if state == "NOT_FOUND":
            print("ERROR: (gcloud) NOT_FOUND", file=sys.stderr)
            return 1
        print(state)
        return 0
    if "describe" in words and "tpu-vm" in words:
        print(pop(os.path.join(home, "node_states"), "READY"))
        return 0
    if "ssh" in words:
        command = next(a for a in argv if a.startswith("--command="))
        if "usjax.main" not in command:
            return 0
        code = int(pop(os.path.join(home, "ssh_exits"), "0"))
        if code == 0:  # the run finished: its results.json is now in the bucket
            workdir = next(a for a in shlex.split(command.split("&&")[-1])
                           if a.startswith("--workdir="))
            with open(os.path.join(home, "existing"), "a") as f:
                f.write(workdir.split("=", 1)[1] + "/results.json\n")
        return code
    if words[:2] == ["storage", "buckets"]:
        return 1 if os.path.exists(os.path.join(home, "no_bucket")) else 0
    if words[:2] == ["storage", "ls"]:
        existing = os.path.join(home, "existing")
        found = os.path.exists(existing) and words[2] in open(existing).read().split()
        return 0 if found else 1
    if words[:2] == ["storage", "cp"]:
        with open(words[3], "w") as f:
            json.dump({"source": words[2], "final_val_loss": 1.0}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
