"""Plain records the stub keeps in memory, plus their Telegram JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup"]


class ApiError(Exception):
    """A Bot API error reply: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class StubUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    blocked_bot: bool = False  # True -> bot calls to this user's private chat get 403

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass
class StubChat:
    id: int
    type: ChatType
    title: str | None = None
    user: StubUser | None = None  # the other party of a private chat
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)

    def to_api(self) -> dict[str, Any]:
        if self.user is not None:
            data = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            for key in ("last_name", "username"):
                if (value := getattr(self.user, key)) is not None:
                    data[key] = value
            return data
        return {"id": self.id, "type": self.type, "title": self.title or str(self.id)}

    def label(self) -> str:
        return f"private chat with {self.user.first_name}" if self.user else (self.title or "")


@dataclass
class LoggedMessage:
    """One message as Telegram stores it; bot edits mutate it in place."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender_id: int
    date: int
    text: str | None = None  # plain text after entity parsing
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    sent_text: str | None = None  # text/caption exactly as the bot sent it (e.g. HTML source)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    link_preview_options: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    reply_to_message_id: int | None = None
    edit_count: int = 0
    edit_date: int | None = None
    deleted: bool = False
    version: int = 0  # state-wide change cursor of the last create/edit/delete

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline buttons, flattened (empty for reply keyboards)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def document_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def file_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass
class CallRecord:
    """One bot -> API call, for assertions such as "no more than 30 sends per second"."""

    method: str  # as the bot spelled it, e.g. "sendMessage"
    params: dict[str, Any]  # decoded; uploaded files appear as {"filename", "size"}
    at: float  # time.monotonic()
    wall: float  # time.time()
    status: int = 200
    description: str | None = None  # error description when status != 200
    via: str = "http"  # or "webhook-response": returned in the body of a webhook reply


@dataclass
class FaultRule:
    """Answer the next ``remaining`` matching bot calls with an error (429 by default)."""

    remaining: int
    method: str | None = None  # lowercase method name, or any
    chat_id: int | None = None
    error_code: int = 429
    description: str | None = None
    retry_after: int = 1

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is None and method.lower() == "getupdates":
            return False  # polling would otherwise swallow a rule meant for a send
        if self.method is not None and self.method != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def to_error(self) -> ApiError:
        if self.error_code == 429:
            return ApiError(
                429,
                self.description or f"Too Many Requests: retry after {self.retry_after}",
                {"retry_after": self.retry_after},
            )
        return ApiError(self.error_code, self.description or f"Error {self.error_code}")


@dataclass
class CallbackQueryRecord:
    id: str
    chat_id: int
    message_id: int
    from_id: int
    data: str
    created: float  # time.monotonic()
    answer: dict[str, Any] | None = None  # answerCallbackQuery params once answered


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
