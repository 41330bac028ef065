"""Supply-chain financing: programs with a budget, early-payment offers on approved
invoices, their acceptance by the vendor through a mailed link, and settlement."""
