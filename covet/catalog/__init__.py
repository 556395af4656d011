"""Products, options, variants and the stock ledger: the variant editor."""
