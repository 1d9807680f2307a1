"""OKX withdrawals (v5 "Funding account"): on-chain and internal, read back by our client id.

Requests (okx.com/docs-v5, "Withdrawal" and "Get withdrawal history"):
* `POST /api/v5/asset/withdrawal` (ccxt `privatePostAssetWithdrawal`): ccy, amt, dest (`4`
  on-chain, `3` internal transfer), toAddr (on-chain: the address, `address:tag` when a tag is
  needed; internal: the recipient, here a UID with `toAddrType=2`, which OKX documents as "only
  for whitelisted users"; without it toAddr must be an email, phone or sub-account name), chain
  (`USDT-TRC20`, `USDT-ERC20`, `USDT-BSC`, ...), clientId (up to 32 alphanumerics). There is no
  `fee` parameter any more (older versions required one); the fee is charged on top of `amt`.
  Answer `data[0]`: {ccy, chain, amt, wdId, clientId}. Only verified (whitelisted) addresses
  and accounts are accepted; the funding account pays.
* `GET /api/v5/asset/withdrawal-history?clientId=` (ccxt `privateGetAssetWithdrawalHistory`):
  rows with state, txId ("" for internal transfers), fee, wdId, clientId.

States (the docs' list for `state`) and what we make of them:

| OKX state | meaning | PayoutState |
| --- | --- | --- |
| 0 | waiting withdrawal | PENDING |
| 4, 5, 6, 8, 9, 12 | waiting manual review | PENDING |
| 7 | approved | PENDING |
| 10 | waiting transfer | PENDING |
| 17 | pending response from Travel Rule vendor | PENDING |
| 19 | insufficient balance in the hot wallet | PENDING |
| 3 | (older docs, in ccxt's table) awaiting email verification | PENDING |
| 1 | broadcasting your transaction to chain | SENT once `txId` is set, else PENDING |
| 15 | pending transaction validation | SENT once `txId` is set, else PENDING |
| 16 | local rules: may take up to 24 h to arrive | SENT once `txId` is set, else PENDING |
| -3 | canceling | PENDING (ambiguous: not final; it may still end canceled) |
| 2 | success | COMPLETED |
| -2 | canceled | FAILED |
| -1 | failed | FAILED |
| anything else | undocumented | PENDING (never guess a final state) |

Ambiguities: the docs put 1/15/16 in "stage 2, in progress" without saying when txId appears,
so SENT waits for a hash; -3 sits in stage 2 too but heads for "canceled". A repeated clientId
is answered with an error whose code OKX does not document for withdrawals; we treat 50071
("{param} already exists") and any message saying "already exists" / "duplicate" as the
duplicate refusal (unverified live).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.adapters.okx import OkxSource
from exchanges.adapters.payout_base import CcxtPayouts, amount_text
from exchanges.payouts import (
    PayoutCapabilities,
    PayoutOutcomeUnknown,
    PayoutRefused,
    PayoutState,
    PayoutStatus,
)

OKX_STATES_SENT = {"1", "15", "16"}
OKX_STATES_FAILED = {"-1", "-2"}
OKX_CHAINS = {"TRC20": "TRC20", "ERC20": "ERC20", "BEP20": "BSC", "BTC": "Bitcoin"}
OKX_DUPLICATE = frozenset({"50071"})


def okx_state(state: str, tx_hash: str | None) -> PayoutState:
    if state == "2":
        return PayoutState.COMPLETED
    if state in OKX_STATES_FAILED:
        return PayoutState.FAILED
    if state in OKX_STATES_SENT and tx_hash:
        return PayoutState.SENT
    return PayoutState.PENDING


class OkxPayouts(CcxtPayouts):
    exchange_id = "okx"
    client_class = OkxSource
    duplicate_codes = OKX_DUPLICATE
    # 58350 insufficient balance, 58207 address not on the verified list, 58010 chain not
    # supported, 58213 internal transfer address illegal, 51000 parameter error (OKX's list).
    refusal_codes = frozenset({"58350", "58207", "58010", "58213", "51000"})
    payout_capabilities = PayoutCapabilities(
        onchain=True, internal=True, networks=frozenset(OKX_CHAINS)
    )

    async def withdraw_onchain(
        self, *, client_id: str, asset: str, network: str, amount: Decimal, address: str,
        tag: str | None = None,
    ) -> str:
        self.check_client_id(client_id)
        suffix = OKX_CHAINS.get(network)
        if suffix is None:
            raise PayoutRefused(f"okx: network {network} is not configured", code="network")
        params = {
            "ccy": asset,
            "amt": amount_text(amount),
            "dest": "4",
            "toAddr": f"{address}:{tag}" if tag else address,
            "chain": f"{asset}-{suffix}",
            "clientId": client_id,
        }
        return self._withdrawal_id(await self._submit("privatePostAssetWithdrawal", params))

    async def transfer_internal(
        self, *, client_id: str, asset: str, amount: Decimal, to_uid: str,
    ) -> str:
        self.check_client_id(client_id)
        params = {
            "ccy": asset,
            "amt": amount_text(amount),
            "dest": "3",
            "toAddr": to_uid,
            "toAddrType": "2",  # UID
            "clientId": client_id,
        }
        return self._withdrawal_id(await self._submit("privatePostAssetWithdrawal", params))

    def _withdrawal_id(self, response: dict[str, Any]) -> str:
        data = response.get("data")
        first = data[0] if isinstance(data, list) and data else None
        wd_id = first.get("wdId") if isinstance(first, dict) else None
        if not wd_id:
            # Answered "0" but without an id: taken or not, we cannot tell.
            raise PayoutOutcomeUnknown("okx withdrawal: answer without wdId")
        return str(wd_id)

    async def find_withdrawal(self, client_id: str) -> PayoutStatus | None:
        response = await self._read("privateGetAssetWithdrawalHistory", {"clientId": client_id})
        data = response.get("data")
        if not isinstance(data, list):
            raise PayoutOutcomeUnknown("okx withdrawal-history: unexpected answer")
        rows = [r for r in data if isinstance(r, dict) and str(r.get("clientId")) == client_id]
        return self._status(rows[0]) if rows else None

    def _status(self, row: dict[str, Any]) -> PayoutStatus:
        state = str(row.get("state", ""))
        tx_hash = str(row.get("txId") or "") or None
        return PayoutStatus(
            client_id=str(row.get("clientId") or ""),
            exchange_withdrawal_id=str(row.get("wdId") or ""),
            state=okx_state(state, tx_hash),
            tx_hash=tx_hash,
            fee=self._decimal(row.get("fee")),
            raw_state=state,
        )
