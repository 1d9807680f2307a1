"""One module per exchange; the shared ccxt plumbing lives in `ccxt_base`."""
