"""The dashboard: figures over invoices, payments, documents, assets and the ledger."""
