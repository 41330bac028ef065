"""Purchasing: purchase orders, goods receipts, and the matching of supplier invoices
against both (two- or three-way, within the tenant's tolerances)."""
