"""The ccxt plumbing both payout adapters share: our client id's shape, amounts as text, the
exchange's error code out of a ccxt error, and `CcxtPayouts`, a payout source over one of our
affiliate adapters' ccxt clients."""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import ccxt.async_support as ccxt

from exchanges.adapters.ccxt_base import CcxtSource
from exchanges.errors import ExchangeError, redact
from exchanges.payouts import (
    PayoutOutcomeUnknown,
    PayoutRefused,
    PayoutSource,
    PayoutStatus,
)

CLIENT_ID = re.compile(r"^[a-z0-9]{1,32}$")


def amount_text(amount: Decimal) -> str:
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount must be a positive number, not {amount}")
    return format(amount.normalize(), "f")


def error_fields(exc: BaseException) -> tuple[str, str]:
    """The exchange's error code and message out of a ccxt error ("<id> <body>")."""
    text = str(exc)
    start = text.find("{")
    if start >= 0:
        try:
            body = json.loads(text[start:])
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("code") or "")
            message = str(body.get("msg") or "")
            data = body.get("data")
            first = data[0] if isinstance(data, list) and data else None
            # OKX batch-style answers put the real error in data[0].sCode / sMsg.
            if isinstance(first, dict) and first.get("sCode") not in (None, "", "0"):
                code = str(first["sCode"])
                message = str(first.get("sMsg") or message)
            return code, message
    found = re.search(r'"code"\s*:\s*"?(\w+)', text)
    return (found.group(1) if found else ""), text


class CcxtPayouts(PayoutSource):
    """A payout source over one of our affiliate adapters' ccxt clients (credentials, URL
    override, error mapping). Submitting is tried once: a retry after a lost answer could send
    the money twice (the client id would save us on most exchanges, but the engine decides)."""

    client_class: ClassVar[type[CcxtSource]]
    duplicate_codes: ClassVar[frozenset[str]] = frozenset()
    # The exchange's codes for a request it checked and did not take (balance, address book,
    # chain, parameters). Only these, duplicates and authentication failures are refusals:
    # any other error ("system abnormal", "operation failed", a code we do not know) may come
    # after the exchange recorded the withdrawal, and a refusal lets finance retry under a
    # new client id, which would pay twice. Unknown outcomes are reconciled instead.
    refusal_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **options: Any) -> None:
        self._client = self.client_class(**options)

    async def close(self) -> None:
        await self._client.close()

    @staticmethod
    def check_client_id(client_id: str) -> None:
        if not CLIENT_ID.match(client_id):
            raise ValueError(f"client id must be 1-32 characters of [a-z0-9], not {client_id!r}")

    async def _submit(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one withdrawal request, once; PayoutRefused or PayoutOutcomeUnknown."""
        try:
            response = await getattr(self._client._ex, method)(params)
        except (ccxt.NetworkError, ccxt.BadResponse) as exc:
            # Timeout, connection lost, 5xx, 429, maintenance, unreadable answer: the request
            # may have been taken.
            raise PayoutOutcomeUnknown(self._describe(method, exc)) from exc
        except ccxt.ExchangeError as exc:
            code, message = error_fields(exc)
            duplicate = code in self.duplicate_codes or any(
                word in message.lower() for word in ("already exist", "duplicate")
            )
            definite = (duplicate or code in self.refusal_codes
                        or isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied))
            if not definite:  # answered, but not with a "checked and not taken"
                raise PayoutOutcomeUnknown(self._describe(method, exc)) from exc
            raise PayoutRefused(
                f"{self.exchange_id} refused the withdrawal: {code} {message}"[:500],
                code=code, duplicate=duplicate,
            ) from exc
        except ccxt.BaseError as exc:
            raise PayoutOutcomeUnknown(self._describe(method, exc)) from exc
        if not isinstance(response, dict):
            raise PayoutOutcomeUnknown(f"{self.exchange_id} {method}: answer is not JSON")
        return response

    async def _read(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A read through the affiliate client's `_call` (retries, error mapping)."""
        try:
            return await self._client._call(method, params)
        except ExchangeError as exc:
            raise PayoutOutcomeUnknown(
                f"{self.exchange_id}: cannot read withdrawals now: {exc}"[:500]
            ) from exc

    def _describe(self, method: str, exc: BaseException) -> str:
        return redact(f"{self.exchange_id} {method}: {type(exc).__name__}: {exc}")[:500]

    def _decimal(self, value: Any) -> Decimal | None:
        """A number from the exchange ("0.8", "-1.0", "0.01000000eth"), as a positive fee."""
        found = re.match(r"\s*-?\d+(?:\.\d+)?", str(value)) if value not in (None, "") else None
        if found is None:
            return None
        try:
            return abs(Decimal(found.group(0).strip()))
        except InvalidOperation:
            return None

    @abstractmethod
    def _status(self, row: dict[str, Any]) -> PayoutStatus: ...
