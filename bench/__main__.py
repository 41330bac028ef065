"""`make bench`: every benchmark, printing figures and ratios.

`python -m bench NAME ...` runs only the named ones (`make bench BENCH="http"`).
"""

import sys

from bench import (
    assets,
    dashboard,
    financing,
    http,
    identity,
    invoices,
    ledger,
    live,
    rls_overhead,
    scaleout,
)

BENCHMARKS = {
    "rls_overhead": rls_overhead.main,
    "identity": identity.main,
    "assets": assets.main,
    "invoices": invoices.main,
    "ledger": ledger.main,
    "financing": financing.main,
    "dashboard": dashboard.main,
    "http": http.main,
    "scaleout": scaleout.main,
    "live": live.main,
}

chosen = sys.argv[1:] or list(BENCHMARKS)
unknown = [name for name in chosen if name not in BENCHMARKS]
if unknown:
    sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
for name in chosen:
    BENCHMARKS[name]()
