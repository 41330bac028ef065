"""Ledgerline: a multi-tenant finance-operations API."""

__version__ = "0.1.0"
