"""Admin chat: the estimate rates used where an exchange reports volume or fees but not our
commission (PRODUCT.md, "Rebate arithmetic"). Admins only; every change is an audit event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from arq.connections import ArqRedis

from handlers.admin.filters import Allowed, InAdminChat
from services.dto import UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.jobs import enqueue_accrual
from services.models import Platform
from services.models.rates import ALL, EstimateBasis
from services.permissions import Permission
from services.rebates import RateService

router = Router(name="admin.rates")
router.message.filter(InAdminChat(), Allowed(Permission.RATES))


def _parse(args: list[str]) -> tuple[str, EstimateBasis, Decimal, str, date | None] | None:
    """<exchange> <fee|volume> <rate> [product] [YYYY-MM-DD]"""
    if not 3 <= len(args) <= 5:
        return None
    exchange_id, basis_text, rate_text, *rest = args
    try:
        basis = EstimateBasis(basis_text.lower())
        rate = Decimal(rate_text)
        valid_from = date.fromisoformat(rest[-1]) if rest and "-" in rest[-1] else None
    except (ValueError, InvalidOperation):
        return None
    product = rest[0].lower() if rest and "-" not in rest[0] else ALL
    if not rate.is_finite() or rate < 0 or rate > 1:
        return None
    return exchange_id.lower(), basis, rate, product, valid_from


@router.message(Command("estimate"))
async def cmd_estimate(
    message: Message, command: CommandObject, t: Translator, user: UserDTO,
    exchanges: ExchangeCatalog, rates: RateService, events: EventService, arq: ArqRedis,
    redis_prefix: str,
) -> None:
    parsed = _parse((command.args or "").split())
    exchange = await exchanges.get(parsed[0]) if parsed else None
    if parsed is None or exchange is None:
        await message.answer(t("admin.estimate.usage"))
        return
    _, basis, rate, product, valid_from = parsed
    await rates.set_estimate_rate(exchange.id, basis, rate, product, valid_from)
    await events.record("estimate_rate_set", user.id, Platform.BOT, exchange=exchange.id,
                        basis=basis.value, rate=str(rate), product=product,
                        valid_from=valid_from.isoformat() if valid_from else None)
    # Records that waited for a rate can be valued now.
    await enqueue_accrual(arq, redis_prefix, exchange.id)
    await message.answer(t("admin.estimate.saved", name=exchange.name, basis=basis.value,
                           rate=f"{rate:f}", product=product,
                           since=valid_from.isoformat() if valid_from else t("admin.today")))
