"""`make bench`: every benchmark, printing figures and ratios."""

from bench import identity, rls_overhead

BENCHMARKS = [rls_overhead.main, identity.main]

for benchmark in BENCHMARKS:
    benchmark()
