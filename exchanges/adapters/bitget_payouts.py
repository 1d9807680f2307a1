"""Bitget withdrawals (v2 spot wallet): on-chain and internal to a UID, read back by clientOid.

Requests (bitget api-doc, spot "Wallet"):
* `POST /api/v2/spot/wallet/withdrawal` (ccxt `privateSpotPostV2SpotWalletWithdrawal`): coin,
  transferType (`on_chain` | `internal_transfer`), address (on-chain: the address, which must
  be in the address book; internal: the recipient per innerToType - `uid` (the default),
  `email` or `mobile`), chain (required on-chain: `TRC20`, `ERC20`, `BEP20`, ...), tag, size,
  clientOid -> data {orderId, clientOid}.
* `GET /api/v2/spot/wallet/withdrawal-records` (ccxt
  `privateSpotGetV2SpotWalletWithdrawalRecords`): startTime and endTime are required (ms); we
  ask the last `lookback_days` (90, the range ccxt uses) with clientOid.

States: Bitget documents only `pending` (pending preliminary examination), `fail` and `success`;
ccxt also knows `pending_review`, `pending_review_fail` and `reject`.

| Bitget status | PayoutState |
| --- | --- |
| pending, pending_review, Pending | PENDING; SENT when an on-chain row has a hash in tradeId |
| success | COMPLETED |
| fail, reject, pending_review_fail | FAILED |
| anything else | PENDING (never guess a final state) |

Ambiguities: there is no "sent" status. `tradeId` is documented as the on-chain hash (or, for
internal transfers, a trade id), without saying what it holds before broadcast, so an on-chain
`pending` row counts as SENT only when tradeId is non-empty and differs from orderId.
`success` is read as final (Bitget does not split "broadcast" from "confirmed"). Duplicate
clientOid: Bitget lists 43118 "clientOrderId duplicate" among its withdrawal codes and 45034
"clientOid duplicate" for trading; both count as the duplicate refusal (unverified live). The
chain name for BSC is assumed to be `BEP20` (ccxt's table maps BEP20 to `BSC` for some coins).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from exchanges.adapters.bitget import BitgetSource
from exchanges.adapters.payout_base import CcxtPayouts, amount_text
from exchanges.payouts import (
    PayoutCapabilities,
    PayoutOutcomeUnknown,
    PayoutRefused,
    PayoutState,
    PayoutStatus,
)

BITGET_CHAINS = {"TRC20": "TRC20", "ERC20": "ERC20", "BEP20": "BEP20"}
BITGET_DUPLICATE = frozenset({"43118", "45034"})
PENDING = {"pending", "pending_review"}
FAILED = {"fail", "reject", "pending_review_fail"}
DAY_MS = 86_400_000


def bitget_state(status: str, tx_hash: str | None) -> PayoutState:
    word = status.lower()
    if word == "success":
        return PayoutState.COMPLETED
    if word in FAILED:
        return PayoutState.FAILED
    if word in PENDING and tx_hash:
        return PayoutState.SENT
    return PayoutState.PENDING


class BitgetPayouts(CcxtPayouts):
    exchange_id = "bitget"
    client_class = BitgetSource
    duplicate_codes = BITGET_DUPLICATE
    # 43012 insufficient balance, 47003 address not in the address book, 40017 parameter
    # verification failed, 40104 cannot withdraw to this account, 40304 client id too long.
    refusal_codes = frozenset({"43012", "47003", "40017", "40104", "40304"})
    payout_capabilities = PayoutCapabilities(
        onchain=True, internal=True, networks=frozenset(BITGET_CHAINS)
    )

    def __init__(self, *, lookback_days: int = 90, **options: Any) -> None:
        super().__init__(**options)
        self._lookback_ms = lookback_days * DAY_MS - 1

    async def withdraw_onchain(
        self, *, client_id: str, asset: str, network: str, amount: Decimal, address: str,
        tag: str | None = None,
    ) -> str:
        self.check_client_id(client_id)
        chain = BITGET_CHAINS.get(network)
        if chain is None:
            raise PayoutRefused(f"bitget: network {network} is not configured", code="network")
        params = {
            "coin": asset,
            "transferType": "on_chain",
            "address": address,
            "chain": chain,
            "size": amount_text(amount),
            "clientOid": client_id,
        }
        if tag:
            params["tag"] = tag
        return self._order_id(await self._submit("privateSpotPostV2SpotWalletWithdrawal", params))

    async def transfer_internal(
        self, *, client_id: str, asset: str, amount: Decimal, to_uid: str,
    ) -> str:
        self.check_client_id(client_id)
        params = {
            "coin": asset,
            "transferType": "internal_transfer",
            "address": to_uid,
            "innerToType": "uid",
            "size": amount_text(amount),
            "clientOid": client_id,
        }
        return self._order_id(await self._submit("privateSpotPostV2SpotWalletWithdrawal", params))

    def _order_id(self, response: dict[str, Any]) -> str:
        data = response.get("data")
        order_id = data.get("orderId") if isinstance(data, dict) else None
        if not order_id:
            raise PayoutOutcomeUnknown("bitget withdrawal: answer without orderId")
        return str(order_id)

    async def find_withdrawal(self, client_id: str) -> PayoutStatus | None:
        now = int(time.time() * 1000)
        params = {
            "clientOid": client_id,
            "startTime": now - self._lookback_ms,
            "endTime": now,
        }
        response = await self._read("privateSpotGetV2SpotWalletWithdrawalRecords", params)
        data = response.get("data")
        if data is None:
            return None
        if not isinstance(data, list):
            raise PayoutOutcomeUnknown("bitget withdrawal-records: unexpected answer")
        rows = [r for r in data if isinstance(r, dict) and str(r.get("clientOid")) == client_id]
        return self._status(rows[0]) if rows else None

    def _status(self, row: dict[str, Any]) -> PayoutStatus:
        status = str(row.get("status", ""))
        order_id = str(row.get("orderId") or "")
        trade_id = str(row.get("tradeId") or "")
        onchain = str(row.get("dest") or "on_chain") == "on_chain"
        tx_hash = trade_id if onchain and trade_id and trade_id != order_id else None
        return PayoutStatus(
            client_id=str(row.get("clientOid") or ""),
            exchange_withdrawal_id=order_id,
            state=bitget_state(status, tx_hash),
            tx_hash=tx_hash,
            fee=self._decimal(row.get("fee")),
            raw_state=status,
        )
