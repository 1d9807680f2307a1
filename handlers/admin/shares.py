"""Admin chat: trader shares and rate groups (PRODUCT.md, "Rebate arithmetic"). Admins only
(services/permissions.py: rates). A change takes effect from a day — today or later, never
earlier: a day already booked would change money traders have been shown — and its history is
kept; every change is audited (services/rebates/shares.py).

    /share                          every exchange's share, and the changes set for later
    /share <exchange> <percent> [YYYY-MM-DD]
    /group                          the groups, their shares and members
    /group new <name>
    /group <name> <exchange|all> <percent|off> [YYYY-MM-DD]
    /member <telegram id|@username|UID> <group|none> [YYYY-MM-DD]
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from handlers.admin.filters import Allowed, InAdminChat
from handlers.render import escape
from services.dto import UserDTO
from services.exchange_catalog import ExchangeCatalog
from services.formatting import percent
from services.i18n import Translator
from services.models.rates import ALL
from services.permissions import Permission
from services.rebates import RateService
from services.rebates.rate_views import exchange_shares, group_named, groups
from services.staff import StaffService

router = Router(name="admin.shares")
router.message.filter(InAdminChat(), Allowed(Permission.RATES))


def _today() -> date:
    return datetime.now(UTC).date()


def _share(text: str) -> Decimal | None:
    """A percent as operators write it ("62.5", "62,5", "62.5%") → a fraction, at most two
    decimals of a percent (exchanges keep four decimals of a fraction)."""
    try:
        value = Decimal(text.strip().rstrip("%").replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or not 0 <= value <= 100 or value != value.quantize(Decimal("0.01")):
        return None
    return value / 100


BAD_DAY = date.min  # what _day gives for a day that is not one, or is in the past


def _day(args: list[str]) -> date:
    """The optional last argument: a day, today or later; today when absent."""
    if not args:
        return _today()
    try:
        day = date.fromisoformat(args[0])
    except ValueError:
        return BAD_DAY
    return day if day >= _today() else BAD_DAY


def _pct(share: Decimal | None, t: Translator) -> str:
    return t("admin.shares.off") if share is None else f"{percent(share * 100, t.locale)}%"


@router.message(Command("share"))
async def cmd_share(message: Message, command: CommandObject, t: Translator, user: UserDTO,
                    rates: RateService, exchanges: ExchangeCatalog) -> None:
    args = (command.args or "").split()
    if not args:
        lines = [t("admin.shares.title")]
        for line in await exchange_shares(_today()):
            since = line.since.isoformat() if line.since else t("admin.shares.default")
            later = "; ".join(f"{day.isoformat()} → {_pct(share, t)}"
                              for day, share in line.upcoming)
            lines.append(t("admin.shares.line", name=escape(line.name),
                           share=_pct(line.share, t), since=since)
                         + (" · " + t("admin.shares.later", changes=later) if later else ""))
        await message.answer("\n".join(lines))
        return
    exchange = await exchanges.get(args[0].lower())
    share = _share(args[1]) if len(args) >= 2 else None
    day = _day(args[2:3])
    if exchange is None or share is None or day == BAD_DAY or len(args) > 3:
        await message.answer(t("admin.shares.usage"))
        return
    await rates.set_exchange_share(exchange.id, share, day, actor_id=user.id)
    await message.answer(t("admin.shares.saved", name=escape(exchange.name),
                           share=_pct(share, t),
                           since=day.isoformat()))


@router.message(Command("group"))
async def cmd_group(message: Message, command: CommandObject, t: Translator, user: UserDTO,
                    rates: RateService, exchanges: ExchangeCatalog) -> None:
    args = (command.args or "").split()
    if not args:
        found = await groups(_today())
        lines = [t("admin.groups.title") if found else t("admin.groups.none")]
        for group in found:
            shares = ", ".join(f"{'all' if exchange_id == ALL else exchange_id} "
                               f"{_pct(share, t)} ({since.isoformat()})"
                               for exchange_id, share, since in group.shares)
            lines.append(t("admin.groups.line", name=escape(group.name),
                           members=group.members, shares=shares or "—"))
        await message.answer("\n".join(lines))
        return
    if args[0].lower() == "new" and len(args) == 2 and len(args[1]) <= 64:
        await rates.create_group(args[1], actor_id=user.id)
        await message.answer(t("admin.groups.created", name=escape(args[1])))
        return
    group_id = await group_named(args[0])
    target = args[1].lower() if len(args) >= 2 else ""
    exchange = None if target in ("", "all") else await exchanges.get(target)
    exchange_id = ALL if target == "all" else (exchange.id if exchange else None)
    off = len(args) >= 3 and args[2].lower() == "off"
    share = None if off else (_share(args[2]) if len(args) >= 3 else None)
    day = _day(args[3:4])
    if (group_id is None or exchange_id is None or (share is None and not off)
            or day == BAD_DAY or len(args) > 4):
        await message.answer(t("admin.groups.usage"))
        return
    await rates.set_group_share(group_id, share, exchange_id, day, actor_id=user.id)
    await message.answer(t("admin.groups.saved", name=escape(args[0]),
                           exchange=target, share=_pct(share, t),
                           since=day.isoformat()))


@router.message(Command("member"))
async def cmd_member(message: Message, command: CommandObject, t: Translator, user: UserDTO,
                     rates: RateService, staff: StaffService) -> None:
    args = (command.args or "").split()
    found = await staff.find(args[0]) if len(args) in (2, 3) else []
    group_id = None if len(args) >= 2 and args[1].lower() == "none" else (
        await group_named(args[1]) if len(args) >= 2 else None)
    day = _day(args[2:3])
    if len(found) != 1 or (group_id is None and args[1].lower() != "none") or day == BAD_DAY:
        await message.answer(t("admin.member.usage"))
        return
    await rates.set_user_group(found[0].id, group_id, day, actor_id=user.id)
    await message.answer(t("admin.member.saved", name=escape(found[0].first_name or "—"),
                           group=escape(args[1]), since=day.isoformat()))
