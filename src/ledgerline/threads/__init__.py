"""Discussion threads on invoices and assets: comments, their edit history, mentions."""
