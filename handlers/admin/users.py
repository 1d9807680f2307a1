"""Admin chat: a user's file (/user <telegram id | @username | exchange UID>) with ban / unban,
role and rate group buttons and a link to their page in the admin screens, and /role <user>
<role>. Who may read and who may act comes from
services/permissions.py, checked against the sender's role in the database on every update
(the service checks again, and audits a refusal)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from handlers.admin.filters import Allowed, InAdminChat
from handlers.callbacks import StaffAction, StaffCB
from handlers.render import escape
from services.accounts import AccountService
from services.balances import BalanceService
from services.dto import UserDTO
from services.formatting import moment, money
from services.i18n import Translator
from services.models import Role
from services.payouts.requests import WithdrawalService
from services.permissions import Permission, allowed
from services.rebates.rate_views import GroupLine, groups, member_group
from services.rebates.shares import RateService, today_utc
from services.staff import StaffError, StaffService

router = Router(name="admin.users")
router.message.filter(InAdminChat())
router.callback_query.filter(InAdminChat())

LAST_WITHDRAWALS = 5
GROUP_BUTTONS = 8  # more groups than this: /member <user> <group>
ROLES = (Role.TRADER, Role.VIEWER, Role.OPS, Role.FINANCE, Role.ADMIN)


def _name(user: UserDTO) -> str:
    handle = f" @{user.username}" if user.username else ""
    return f"{escape(user.first_name or '—')}{escape(handle)}"


async def _file(t: Translator, user: UserDTO, viewer: UserDTO, accounts: AccountService,
                balances: BalanceService, withdrawals: WithdrawalService,
                miniapp_url: str | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
    locale = t.locale
    lines = [t("admin.user.head", name=_name(user), id=user.id,
               role=t(f"admin.role.{user.role.value}"),
               since=moment(user.created_at, locale))]
    if user.is_banned:
        lines.append(t("admin.user.banned"))
    linked = await accounts.list_for_user(user.id)
    lines.append(t("admin.user.accounts") if linked else t("admin.user.no_accounts"))
    lines += [t("admin.user.account", name=escape(a.exchange_name), uid=escape(a.uid),
                status=t(f"accounts.status.{a.status.value}")) for a in linked]
    summary = await balances.summary(user.id)
    lines.append(t("admin.user.balance", available=money(summary.available, locale),
                   held=money(summary.held, locale), paid=money(summary.paid_out, locale),
                   earned=money(summary.total_earned, locale)))
    recent = await withdrawals.recent(user.id, LAST_WITHDRAWALS)
    lines.append(t("admin.user.withdrawals") if recent else t("admin.user.no_withdrawals"))
    lines += [t("admin.user.withdrawal", id=w.id, amount=money(w.amount, locale),
                status=t(f"withdraw.status.{w.status.value}")) for w in recent]
    current: GroupLine | None = None
    choices: list[GroupLine] = []
    if user.role is Role.TRADER:
        today = today_utc()
        current = await member_group(user.id, today)
        lines.append(t("admin.user.group", group=escape(current.name)) if current
                     else t("admin.user.no_group"))
        choices = await groups(today)
    return "\n".join(lines), _buttons(t, user, viewer, miniapp_url, current, choices)


def _buttons(t: Translator, user: UserDTO, viewer: UserDTO, miniapp_url: str | None,
             current: GroupLine | None = None,
             choices: list[GroupLine] | None = None) -> InlineKeyboardMarkup | None:
    """Only the buttons the viewer's role may press (the press is checked again anyway), and
    the user's page in the admin screens where the Mini App has an address. A link, not a
    web_app button: Telegram allows those only in private chats, and this is the admin chat
    (the page opens in the browser, signed in with the Login Widget)."""
    rows: list[list[InlineKeyboardButton]] = []
    if miniapp_url is not None:
        rows.append([InlineKeyboardButton(
            text=t("admin.user.button.open_page"),
            url=f"{miniapp_url}admin/user?id={user.id}&lang={t.locale}")])
    if allowed(viewer.role, Permission.USERS_BAN) and user.id != viewer.id:
        action = StaffAction.UNBAN if user.is_banned else StaffAction.BAN
        rows.append([InlineKeyboardButton(
            text=t(f"admin.user.button.{action.value}"),
            callback_data=StaffCB(action=action, user_id=user.id).pack())])
    if allowed(viewer.role, Permission.USERS_ROLE) and user.id != viewer.id:
        rows.append([InlineKeyboardButton(
            text=t(f"admin.role.{role.value}"),
            callback_data=StaffCB(action=StaffAction.ROLE, user_id=user.id,
                                  role=role.value).pack())
            for role in ROLES if role != user.role])
    if allowed(viewer.role, Permission.RATES) and choices:
        buttons = [InlineKeyboardButton(
            text=("✓ " if current is not None and group.id == current.id else "")
            + t("admin.user.button.group", group=group.name),
            callback_data=StaffCB(action=StaffAction.GROUP, user_id=user.id,
                                  group_id=group.id).pack())
            for group in choices[:GROUP_BUTTONS]]
        if current is not None:
            buttons.append(InlineKeyboardButton(
                text=t("admin.user.button.no_group"),
                callback_data=StaffCB(action=StaffAction.GROUP, user_id=user.id).pack()))
        rows += [buttons[n:n + 3] for n in range(0, len(buttons), 3)]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


@router.message(Command("user"), Allowed(Permission.USERS_VIEW))
async def cmd_user(message: Message, command: CommandObject, t: Translator, user: UserDTO,
                   staff: StaffService, accounts: AccountService, balances: BalanceService,
                   withdrawals: WithdrawalService, miniapp_url: str | None = None) -> None:
    query = (command.args or "").strip()
    if not query:
        await message.answer(t("admin.user.usage"))
        return
    found = await staff.find(query)
    if not found:
        await message.answer(t("admin.user.not_found", query=escape(query)))
    elif len(found) == 1:
        text, markup = await _file(t, found[0], user, accounts, balances, withdrawals,
                                   miniapp_url)
        await message.answer(text, reply_markup=markup)
    else:
        await message.answer(t("admin.user.several", count=len(found)), reply_markup=(
            InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                text=f"{person.first_name or '—'} · {person.id}",
                callback_data=StaffCB(action=StaffAction.OPEN, user_id=person.id).pack())]
                for person in found])))


@router.message(Command("role"), Allowed(Permission.USERS_ROLE))
async def cmd_role(message: Message, command: CommandObject, t: Translator, user: UserDTO,
                   staff: StaffService) -> None:
    args = (command.args or "").split()
    role = next((r for r in ROLES if len(args) == 2 and args[1].lower() == r.value), None)
    found = await staff.find(args[0]) if role is not None else []
    if role is None or len(found) != 1:
        await message.answer(t("admin.role.usage") if role is None or not args
                             else t("admin.user.not_found", query=escape(args[0])))
        return
    try:
        change = await staff.set_role(user.id, found[0].id, role)
    except StaffError as refused:
        await message.answer(t(f"admin.staff.refused.{refused.refusal.value}"))
        return
    await message.answer(t("admin.role.done", name=_name(change.user),
                           role=t(f"admin.role.{role.value}")))


@router.callback_query(StaffCB.filter(), Allowed(Permission.USERS_VIEW))
async def on_staff_button(query: CallbackQuery, callback_data: StaffCB, t: Translator,
                          user: UserDTO, staff: StaffService, accounts: AccountService,
                          balances: BalanceService, withdrawals: WithdrawalService,
                          rates: RateService, miniapp_url: str | None = None) -> None:
    action, target_id = callback_data.action, callback_data.user_id
    try:
        if action in (StaffAction.BAN, StaffAction.UNBAN):
            await staff.set_banned(user.id, target_id, action is StaffAction.BAN)
        elif action is StaffAction.ROLE:
            await staff.set_role(user.id, target_id, Role(callback_data.role))
        elif action is StaffAction.GROUP:
            await _set_group(user, target_id, callback_data.group_id, staff, rates)
    except (StaffError, ValueError) as refused:
        reason = refused.refusal.value if isinstance(refused, StaffError) else "not_allowed"
        await query.answer(t(f"admin.staff.refused.{reason}"), show_alert=True)
        return
    found = await staff.find(str(target_id))
    target = next((person for person in found if person.id == target_id), None)
    if target is None or not isinstance(query.message, Message):
        await query.answer(t("admin.user.not_found", query=target_id), show_alert=True)
        return
    text, markup = await _file(t, target, user, accounts, balances, withdrawals, miniapp_url)
    if action is StaffAction.OPEN:
        await query.message.answer(text, reply_markup=markup)
    else:
        await query.message.edit_text(text, reply_markup=markup)
    await query.answer(t(f"admin.staff.done.{action.value}") if action is not StaffAction.OPEN
                       else None)


async def _set_group(user: UserDTO, target_id: int, group_id: int, staff: StaffService,
                     rates: RateService) -> None:
    """The trader's rate group from today (0: out of any), for the roles that set rates; a
    refused press is audited like a refused command. Raises ValueError to refuse."""
    if not allowed(user.role, Permission.RATES):
        await staff.audit_refused_command(user.id, "button:group")
        raise ValueError("not allowed")
    today = today_utc()
    known = {group.id for group in await groups(today)}
    targets = [person for person in await staff.find(str(target_id)) if person.id == target_id]
    if (group_id and group_id not in known) or not targets or targets[0].role is not Role.TRADER:
        raise ValueError("not a trader's group")
    await rates.set_user_group(target_id, group_id or None, today, actor_id=user.id)
