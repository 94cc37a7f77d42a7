"""Where a compiled step's op time goes on the CPU backend: matmuls, copies and transposes, the rest.

XLA's CPU runtime runs a compiled program as thunks, one per HLO instruction of the entry and loop
bodies, and records each as a profiler event named after its instruction (jax 0.10.2 does so without
any XLA flag: `--xla_cpu_enable_xprof_traceme` gave the same events). `profile_shares` traces a few
calls of a compiled function, reads the Perfetto trace JSON that `jax.profiler.trace` writes beside
its xplane, and files every event under a kind by the HLO instruction of the same name:

- matmul: a dot or convolution, or a fusion whose computation holds one (YNNPACK's `ynn_fusion`s
  are matmuls only when their body has a dot; the others are elementwise);
- copy/transpose: a copy or transpose, or a fusion whose computation holds one (the layout changes
  issue 17 is about);
- broadcast, slicing (dynamic-slice / dynamic-update-slice: scan carries and stacked residuals),
  and other (elementwise fusions, reductions, concatenates, loops' own bookkeeping).

Event times are wall times of the thread that ran the thunk; the profiler itself slows the step, so
the shares are the figure to read, not the seconds.
"""
import collections
import dataclasses
import glob
import gzip
import json
import os
import re
import tempfile
from collections.abc import Callable

import jax

KINDS = ("matmul", "copy/transpose", "broadcast", "slicing", "other")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%(\S+) = \S+ (\S+?)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%(\S+) .*\{\s*$")
_CALLS = re.compile(r"calls=%([^,\s]+)")


@dataclasses.dataclass(frozen=True)
class OpShares:
    seconds: dict[str, float]  # op time per kind, summed over the traced calls
    events: int

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def share(self, kind: str) -> float:
        return self.seconds[kind] / self.total if self.total else 0.0

    def fractions(self) -> dict[str, float]:
        return {kind: self.share(kind) for kind in KINDS}


def _opcodes(hlo_text: str) -> tuple[dict[str, str], dict[str, set[str]], dict[str, str]]:
    """(instruction -> opcode, computation -> opcodes in it, fusion instruction -> its computation)."""
    opcode, in_computation, calls, current = {}, collections.defaultdict(set), {}, None
    for line in hlo_text.splitlines():
        header = _COMPUTATION.match(line)
        if header:
            current = header.group(1)
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction:
            name, op = instruction.groups()
            opcode[name] = op
            in_computation[current].add(op)
            called = _CALLS.search(line)
            if called:
                calls[name] = called.group(1)
    return opcode, in_computation, calls


def kind_of_instructions(hlo_text: str) -> dict[str, str]:
    """Every instruction of an optimised HLO module -> one of KINDS."""
    opcode, in_computation, calls = _opcodes(hlo_text)
    kinds = {}
    for name, op in opcode.items():
        ops = in_computation.get(calls[name], set()) if name in calls else {op}
        if ops & {"dot", "convolution"}:
            kinds[name] = "matmul"
        elif ops & {"copy", "transpose"}:
            kinds[name] = "copy/transpose"
        elif "broadcast" in ops and ops <= {"broadcast", "parameter", "constant"}:  # a bare broadcast
            kinds[name] = "broadcast"
        elif ops & {"dynamic-slice", "dynamic-update-slice"}:
            kinds[name] = "slicing"
        else:
            kinds[name] = "other"
    return kinds


def _trace_events(logdir: str) -> list[dict]:
    traces = glob.glob(os.path.join(logdir, "**", "perfetto_trace.json.gz"), recursive=True)
    if not traces:
        raise RuntimeError(f"jax.profiler.trace wrote no Perfetto trace under {logdir}")
    with gzip.open(traces[0]) as f:
        return [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]


def profile_shares(hlo_text: str, run_once: Callable[[], None], calls: int = 2) -> OpShares:
    """Op time per kind over `calls` calls of `run_once`, which runs the compiled program whose
    optimised HLO is `hlo_text` and blocks until it is done (a train step threads its own state).
    Raises when no event of the trace is an instruction of `hlo_text` (not the program that ran)."""
    kinds = kind_of_instructions(hlo_text)
    seconds, events = dict.fromkeys(KINDS, 0.0), 0
    with tempfile.TemporaryDirectory() as logdir:
        with jax.profiler.trace(logdir, create_perfetto_trace=True):
            for _ in range(calls):
                run_once()
        for event in _trace_events(logdir):
            kind = kinds.get(event["name"])
            if kind is not None:
                seconds[kind] += event["dur"] / 1e6
                events += 1
    if not events:
        raise RuntimeError("no event of the trace is an instruction of the given HLO; pass the optimised "
                           "HLO (`Compiled.as_text()`) of the program that run_once runs")
    return OpShares(seconds, events)
