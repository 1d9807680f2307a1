"""Bot API method registry and the per-call context handlers receive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .models import ApiError, StubChat, bad_request
from .params import Upload
from .state import StubState


@dataclass(frozen=True)
class Call:
    state: StubState
    method: str
    params: dict[str, Any]
    files: dict[str, Upload]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def require(self, key: str) -> Any:
        if self.params.get(key) in (None, ""):
            raise bad_request(f"{key} is empty" if key != "text" else "message text is empty")
        return self.params[key]

    def int_param(self, key: str) -> int:
        value = self.require(key)
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"invalid {key}") from exc

    def chat(self) -> StubChat:
        """The target chat; 403 if it is a private chat whose user blocked the bot."""
        raw = self.require("chat_id")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError) as exc:
            raise bad_request("chat not found") from exc
        chat = self.state.chat(chat_id)
        if chat.user is not None and chat.user.blocked_bot:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat


Handler = Callable[[Call], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler; Bot API method names are case-insensitive."""

    def register(handler: Handler) -> Handler:
        for name in names:
            METHODS[name.lower()] = handler
        return handler

    return register
