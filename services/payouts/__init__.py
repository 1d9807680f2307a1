"""Withdrawals: configuration, requests, approvals and the payout engine."""
