"""HTX invitee referrals: GET /v2/invitee/rebate/referrals (KOL users) - UNVERIFIED.

No official page was found; field names come from SDK types (sieblyio/htx-api): items {id,
invitee_uid, referral_code, invitee_type, join_time_m2, completed_kyc, mail}, a `nextId`
cursor. The request cursor name (`fromId`), page size (`limit`, <= 100) and the envelope
`{"code": 200, "ok": true, "data": [...], "nextId": ...}` are assumptions. Auth is in the query
string (AccessKeyId, Signature, ...). No time windows: the list is paged by id only, so no
window boundary can repeat a row.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.exchanges.venues.common import Handler, ParamError, Venue, int_param, ms


class Htx(Venue):
    id = "htx"
    key_header = ""  # HTX signs in the query string
    sign_query = "Signature"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/v2/invitee/rebate/referrals", self.referrals)]

    def authenticated(self, request: web.Request) -> bool:
        return request.query.get("AccessKeyId") == self.data.api_key and bool(
            request.query.get("Signature")
        )

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": 200, "ok": True, **extra, "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json(
            {"status": "error", "err-code": code, "err-msg": message, "data": None}, status
        )

    def auth_error(self) -> web.Response:
        return self.error("api-signature-not-valid", "Signature not valid: Incorrect Access key")

    def param_error(self, message: str) -> web.Response:
        return self.error("invalid-parameter", message)

    async def referrals(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 20) or 20
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        from_id = int_param(request, "fromId", 0) or 0
        traders = sorted(self.data.traders.get(self.id, []), key=lambda t: t.registered_at)
        rows: list[dict[str, Any]] = [
            {
                "id": ident,
                "invitee_uid": int(t.uid),
                "referral_code": "sim",
                "invitee_type": 1,
                "join_time_m2": ms(t.registered_at),
                "completed_kyc": True,
                "mail": "",
            }
            for ident, t in enumerate(traders, start=1)
            if ident > from_id
        ][:limit]
        last_id = from_id + len(rows)
        return self.ok(rows, nextId=last_id if rows and last_id < len(traders) else None)
