"""What the benchmarks share: the CPU time of a call, the smallest of a few (the machine may be
shared, and CPU time is steadier than wall time then). Not a benchmark itself."""
import time


def cpu_seconds(call, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best
