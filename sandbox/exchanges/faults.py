"""Fault switches per exchange, settable in-process or through POST /_sim/faults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class ExchangeFaults:
    rate_limit: int = 0  # answer the next K requests with 429 + Retry-After
    retry_after: float = 1.0
    server_error: int = 0  # the next K requests get a 503
    slow: int = 0  # the next K requests sleep `slow_seconds` before answering
    slow_seconds: float = 5.0
    malformed: int = 0  # the next K requests get a truncated JSON body with HTTP 200
    auth_fail: bool = False  # every request fails authentication until switched off
    # Withdrawal endpoints only (see wallet.py):
    withdraw_refuse: int = 0  # refuse the next K withdrawals (address not whitelisted) ...
    withdraw_refuse_code: str = ""  # ... or with this exact exchange error code
    withdraw_server_error: int = 0  # the next K withdrawals get a 503 before being recorded
    withdraw_drop_answer: int = 0  # record the next K, answer only after slow_seconds
    withdraw_fail_after_accept: int = 0  # accept the next K, then fail them at their next step

    def take(self, name: str) -> bool:
        """Consume one use of a counted fault."""
        left: int = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class Faults:
    by_exchange: dict[str, ExchangeFaults] = field(default_factory=dict)

    def of(self, exchange: str) -> ExchangeFaults:
        return self.by_exchange.setdefault(exchange, ExchangeFaults())

    def set(self, exchange: str, **values: Any) -> ExchangeFaults:
        faults = self.of(exchange)
        known = {f.name: f.type for f in fields(ExchangeFaults)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            current = getattr(faults, name)
            setattr(faults, name, type(current)(value))
        return faults

    def reset(self, exchange: str | None = None) -> None:
        if exchange is None:
            self.by_exchange.clear()
        else:
            self.by_exchange.pop(exchange, None)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {ex: asdict(f) for ex, f in self.by_exchange.items()}
