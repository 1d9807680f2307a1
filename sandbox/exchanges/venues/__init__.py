"""Per-exchange endpoint emulations, each faithful to that exchange's documented API."""
