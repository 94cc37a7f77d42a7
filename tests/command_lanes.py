"""README command tests run their commands in two lanes: the TPU preflight (one core, compiling
for TPU) beside the others, which keep README's order (a later command may read an earlier one's
output)."""
import concurrent.futures


def run_in_two_lanes(commands, run) -> dict:
    """{command: run(command)} for every command; preflight commands in one thread, the rest in
    another, each lane in the order given."""
    preflight = [c for c in commands if "--preflight" in c]
    rest = [c for c in commands if c not in preflight]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        lanes = list(pool.map(lambda lane: {c: run(c) for c in lane}, (preflight, rest)))
    return lanes[0] | lanes[1]
