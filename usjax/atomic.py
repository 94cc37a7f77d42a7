"""Write a file all at once: a reader sees the old file or the new one, never half of it."""
import os
import tempfile

from etils import epath


def atomic_write(path: epath.PathLike, data: bytes) -> None:
    path = epath.Path(path)
    if path.as_posix().startswith("gs://"):
        path.write_bytes(data)  # a GCS object write is already all-or-nothing
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
