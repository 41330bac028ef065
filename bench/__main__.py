"""`make bench`: every benchmark, printing figures and ratios."""

from bench import rls_overhead

BENCHMARKS = [rls_overhead.main]

for benchmark in BENCHMARKS:
    benchmark()
