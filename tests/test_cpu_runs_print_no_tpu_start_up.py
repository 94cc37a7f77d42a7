"""jax[tpu] is installed for preflight, but a process on a machine without TPU chips goes straight
to the CPU (usjax.platforms): the report step of README's main job prints its result and nothing
from libtpu's start-up."""
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_report_step_prints_no_libtpu_start_up_on_a_cpu_machine(tmp_path):
    n, d = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e8, 4), np.geomspace(1e8, 1e10, 4)))
    loss = 1.7 + 400 / n ** 0.34 + 400 / d ** 0.28
    (tmp_path / "points.csv").write_text("N,D,loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(n, d, loss)))
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS", "TPU_SKIP_MDS_QUERY")}
    done = subprocess.run([sys.executable, "-m", "analysis.report", f"--csv={tmp_path / 'points.csv'}",
                           f"--out={tmp_path / 'report'}", "--bootstrap=0"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "analysis.report: wrote" in done.stdout
    assert "TPU" not in done.stderr and "E0000" not in done.stderr, done.stderr[-2000:]
