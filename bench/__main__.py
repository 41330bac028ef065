"""`make bench`: every benchmark, printing figures and ratios."""

from bench import assets, identity, invoices, rls_overhead

BENCHMARKS = [rls_overhead.main, identity.main, assets.main, invoices.main]

for benchmark in BENCHMARKS:
    benchmark()
