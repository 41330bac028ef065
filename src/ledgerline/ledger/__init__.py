"""The double-entry ledger: accounts, journal, periods, transfers and reports."""
