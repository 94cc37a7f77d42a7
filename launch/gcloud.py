"""gcloud command lines for queued-resource TPU slices, as argument lists (never shell strings).

Syntax follows the gcloud reference as summarised in TPU-FACTS.md §1:
- `queued-resources create` takes `--runtime-version` (not `--version`), either `--node-id` (one
  slice) or `--node-count` + `--node-prefix` (multislice; nodes are PFX-0 .. PFX-(N-1)).
- `--best-effort` exists only in `gcloud alpha`; spot / reserved / best-effort are exclusive.
- The QR state is at `state.state`; a single slice is driven with `tpu-vm ssh/scp --worker=all`,
  a multislice QR with `queued-resources ssh/scp --node=all --worker=all`.
Only the remote `--command` is a shell string; every piece of it is `shlex.quote`d by the caller.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Slice:
    qr_id: str              # queued resource id; also the node id (one slice) or node prefix
    accelerator_type: str
    runtime_version: str
    zone: str
    project: str
    tier: str               # "" (on demand), "spot", "reserved" or "best-effort"
    num_slices: int = 1

    def where(self) -> list[str]:
        return [f"--zone={self.zone}", f"--project={self.project}"]


def create(s: Slice) -> list[str]:
    alpha = ["alpha"] if s.tier == "best-effort" else []
    nodes = ([f"--node-id={s.qr_id}"] if s.num_slices == 1 else
             [f"--node-count={s.num_slices}", f"--node-prefix={s.qr_id}"])
    tier = [f"--{s.tier}"] if s.tier else []
    return (["gcloud", *alpha, "compute", "tpus", "queued-resources", "create", s.qr_id, *s.where(),
             f"--accelerator-type={s.accelerator_type}", f"--runtime-version={s.runtime_version}",
             *nodes, *tier])


def describe_state(s: Slice) -> list[str]:
    return ["gcloud", "compute", "tpus", "queued-resources", "describe", s.qr_id, *s.where(),
            "--format=value(state.state)"]


def node_ids(s: Slice) -> list[str]:
    return [s.qr_id] if s.num_slices == 1 else [f"{s.qr_id}-{i}" for i in range(s.num_slices)]


def describe_node_state(s: Slice, node_id: str) -> list[str]:
    return ["gcloud", "compute", "tpus", "tpu-vm", "describe", node_id, *s.where(),
            "--format=value(state)"]


def delete(s: Slice) -> list[str]:
    # --force deletes running nodes first; --quiet answers the confirmation prompt.
    return ["gcloud", "compute", "tpus", "queued-resources", "delete", s.qr_id, *s.where(),
            "--force", "--quiet"]


def ssh_all(s: Slice, command: str) -> list[str]:
    if s.num_slices == 1:
        return ["gcloud", "compute", "tpus", "tpu-vm", "ssh", s.qr_id, *s.where(), "--worker=all",
                f"--command={command}", "--strict-host-key-checking=no"]
    return ["gcloud", "compute", "tpus", "queued-resources", "ssh", s.qr_id, *s.where(),
            "--node=all", "--worker=all", f"--command={command}"]


def scp_to_all(s: Slice, local_path: str, remote_path: str) -> list[str]:
    if s.num_slices == 1:
        return ["gcloud", "compute", "tpus", "tpu-vm", "scp", local_path,
                f"{s.qr_id}:{remote_path}", *s.where(), "--worker=all"]
    return ["gcloud", "compute", "tpus", "queued-resources", "scp", local_path,
            f"{s.qr_id}:{remote_path}", *s.where(), "--node=all", "--worker=all"]


def bucket_describe(bucket: str, project: str) -> list[str]:
    return ["gcloud", "storage", "buckets", "describe", bucket, f"--project={project}",
            "--format=value(name)"]


def storage_exists(url: str) -> list[str]:
    return ["gcloud", "storage", "ls", url]


def storage_copy(src: str, dst: str) -> list[str]:
    return ["gcloud", "storage", "cp", src, dst]
