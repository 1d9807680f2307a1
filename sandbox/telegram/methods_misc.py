"""Bot identity, commands, menu button, chat info and other settings-style methods."""

from __future__ import annotations

import json
from typing import Any

from . import validation
from .models import StubChat, StubUser, bad_request
from .registry import Call, method

_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}
_MENU_BUTTON_TYPES = frozenset({"default", "commands", "web_app"})
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
)


@method("getMe")
async def get_me(call: Call) -> dict[str, Any]:
    return {
        **call.state.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut", "close")
async def log_out(call: Call) -> bool:
    return True


def _commands_key(call: Call) -> str:
    scope = call.get("scope") or {"type": "default"}
    return f"{json.dumps(scope, sort_keys=True)}|{call.get('language_code') or ''}"


@method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    call.state.commands[_commands_key(call)] = validation.commands(call.require("commands"))
    return True


@method("getMyCommands")
async def get_my_commands(call: Call) -> list[dict[str, Any]]:
    return call.state.commands.get(_commands_key(call), [])


@method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.state.commands.pop(_commands_key(call), None)
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> bool:
    chat_id = call.get("chat_id")
    button = call.get("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in _MENU_BUTTON_TYPES:
        raise bad_request("invalid menu button")
    if chat_id is not None:
        call.chat()
    call.state.menu_buttons[int(chat_id) if chat_id is not None else None] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> dict[str, Any]:
    buttons = call.state.menu_buttons
    chat_id = call.get("chat_id")
    key = int(chat_id) if chat_id is not None else None
    return buttons.get(key) or buttons.get(None) or {"type": "commands"}


@method(
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setMyDefaultAdministratorRights",
)
async def set_bot_setting(call: Call) -> bool:
    call.state.bot_settings[call.method.lower()] = dict(call.params)
    return True


@method("getMyDescription", "getMyShortDescription", "getMyName")
async def get_bot_setting(call: Call) -> dict[str, Any]:
    field = {
        "getmydescription": "description",
        "getmyshortdescription": "short_description",
        "getmyname": "name",
    }[call.method.lower()]
    stored = call.state.bot_settings.get("set" + call.method.lower()[3:], {})
    return {field: stored.get(field, call.state.bot.first_name if field == "name" else "")}


@method("getChat")
async def get_chat(call: Call) -> dict[str, Any]:
    chat = call.chat()
    return {
        **chat.to_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": _NO_GIFTS,
    }


def _member_json(chat: StubChat, user: StubUser) -> dict[str, Any]:
    if user.id in chat.admins:
        return {
            "status": "administrator",
            "user": user.to_api(),
            "can_be_edited": False,
            "is_anonymous": False,
            **dict.fromkeys(_ADMIN_RIGHTS, True),
        }
    if user.id in chat.members or user.is_bot:
        return {"status": "member", "user": user.to_api()}
    return {"status": "left", "user": user.to_api()}


@method("getChatMember")
async def get_chat_member(call: Call) -> dict[str, Any]:
    chat = call.chat()
    user_id = call.int_param("user_id")
    user = call.state.bot if user_id == call.state.bot.id else call.state.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    return _member_json(chat, user)


@method("getChatAdministrators")
async def get_chat_administrators(call: Call) -> list[dict[str, Any]]:
    chat = call.chat()
    return [_member_json(chat, call.state.users[uid]) for uid in sorted(chat.admins)]


@method("getChatMemberCount")
async def get_chat_member_count(call: Call) -> int:
    return len(call.chat().members) + 1  # + the bot
