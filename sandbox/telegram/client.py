"""A small async client for end-to-end tests: drive the stub like a person would.

async with run_stub(state) as url, StubClient(url) as tg:
    await tg.send(TRADER, TRADER, "/start ref_42")
    welcome = await tg.wait_for_bot_message(TRADER, "Welcome")
    await tg.press_button(TRADER, TRADER, "Connect exchange")
    await tg.wait_for_bot_message(TRADER, lambda m: m["edit_count"] > 0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

Entry = dict[str, Any]  # one message as GET /stub/api/chats/{id}/messages returns it
Predicate = Callable[[Entry], bool] | str | None


class StubError(RuntimeError):
    """The stub refused a person-side action (``{"ok": false, ...}``)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


def _matches(entry: Entry, predicate: Predicate) -> bool:
    if predicate is None:
        return True
    if isinstance(predicate, str):
        return predicate in (entry.get("text") or entry.get("caption") or "")
    return predicate(entry)


class StubClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        # Change cursor of the last action: waits only consider bot messages created or
        # edited after it, so each wait_for_bot_message() reads "the bot's next reply".
        self.cursor = 0

    async def __aenter__(self) -> StubClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _call(self, verb: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with self._http().request(verb, f"{self.base_url}{path}", **kwargs) as response:
            body = await response.json()
        if not body.get("ok"):
            raise StubError(body.get("error_code", response.status), body.get("description", ""))
        return dict(body)

    # ----- what a person does ----------------------------------------------------------
    async def send(self, chat_id: int, from_id: int, text: str) -> Entry:
        """Type a message (commands get ``bot_command`` entities); returns the log entry."""
        body = await self._call(
            "POST", "/stub/api/send", json={"chat_id": chat_id, "from": from_id, "text": text}
        )
        self.cursor = body["cursor"]
        return dict(body["message"])

    async def press(
        self, chat_id: int, from_id: int, message_id: int, data: str, *, wait_answer: float = 0
    ) -> dict[str, Any]:
        """Press a callback button; returns ``{"callback_query_id", "answer"}``.

        ``answer`` is the bot's answerCallbackQuery params if it answered within
        ``wait_answer`` seconds, else None.
        """
        body = await self._call(
            "POST",
            "/stub/api/press",
            json={
                "chat_id": chat_id,
                "from": from_id,
                "message_id": message_id,
                "data": data,
                "wait_answer": wait_answer,
            },
        )
        self.cursor = body["cursor"]
        return {"callback_query_id": body["callback_query_id"], "answer": body["answer"]}

    async def find_button(self, chat_id: int, text: str) -> tuple[Entry, dict[str, Any]]:
        """The newest bot message with an inline button labelled ``text``, and the button."""
        for entry in reversed(await self.messages(chat_id)):
            if not entry["from_bot"]:
                continue
            rows = (entry.get("reply_markup") or {}).get("inline_keyboard") or []
            for button in (b for row in rows for b in row):
                if button.get("text") == text:
                    return entry, button
        raise LookupError(f"no bot message in chat {chat_id} has a button {text!r}")

    async def press_button(
        self, chat_id: int, from_id: int, text: str, *, wait_answer: float = 0
    ) -> dict[str, Any]:
        """Press the callback button labelled ``text`` on the newest message that has it."""
        entry, button = await self.find_button(chat_id, text)
        if "callback_data" not in button:
            raise LookupError(f"button {text!r} is not a callback button: {button}")
        return await self.press(
            chat_id,
            from_id,
            entry["message_id"],
            button["callback_data"],
            wait_answer=wait_answer,
        )

    async def upload(
        self,
        chat_id: int,
        from_id: int,
        filename: str,
        content: bytes,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> Entry:
        """Send a file as a document message."""
        form = aiohttp.FormData()
        form.add_field("chat_id", str(chat_id))
        form.add_field("from", str(from_id))
        if caption:
            form.add_field("caption", caption)
        form.add_field("file", content, filename=filename, content_type=mime_type)
        body = await self._call("POST", "/stub/api/upload", data=form)
        self.cursor = body["cursor"]
        return dict(body["message"])

    # ----- what a test reads -----------------------------------------------------------
    async def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[Entry]:
        """The chat log, oldest first (edits applied in place)."""
        body = await self._call("GET", f"/stub/api/chats/{chat_id}/messages")
        return [m for m in body["messages"] if include_deleted or not m["deleted"]]

    async def bot_messages(self, chat_id: int) -> list[Entry]:
        return [m for m in await self.messages(chat_id) if m["from_bot"]]

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Predicate = None,
        timeout: float = 5,  # noqa: ASYNC109 - forwarded to the stub's long poll, not a sleep
    ) -> Entry:
        """Wait for a bot message created or edited after the last action.

        ``predicate`` is a callable on the entry, or a substring of its text/caption.
        Returns the earliest match and moves the cursor to it, so consecutive calls read
        consecutive replies. Raises TimeoutError listing what the bot did say.
        """
        deadline = time.monotonic() + timeout
        seen = self.cursor
        while True:
            remaining = deadline - time.monotonic()
            body = await self._call(
                "GET",
                f"/stub/api/chats/{chat_id}/messages",
                params={"after": seen, "wait": f"{max(remaining, 0):.3f}"},
            )
            candidates = sorted(body["messages"], key=lambda m: m["version"])
            for entry in candidates:
                if entry["from_bot"] and not entry["deleted"] and _matches(entry, predicate):
                    self.cursor = entry["version"]
                    return dict(entry)
            seen = body["cursor"]
            if time.monotonic() >= deadline:
                bot_said = await self.bot_messages(chat_id)
                said = [m.get("text") or m.get("caption") for m in bot_said]
                raise TimeoutError(
                    f"no matching bot message in chat {chat_id} within {timeout}s; "
                    f"bot messages so far: {said[-5:]!r}"
                )

    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "/stub/api/state")

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        params = {"method": method} if method else {}
        return list((await self._call("GET", "/stub/api/calls", params=params))["calls"])

    # ----- declaring the world over HTTP (when the stub runs in another process) -------
    async def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        await self._call(
            "POST",
            "/stub/api/users",
            json={
                "id": user_id,
                "first_name": first_name,
                "username": username,
                "language_code": language_code,
            },
        )

    async def add_group(
        self, chat_id: int, title: str, members: list[int], admins: list[int] | None = None
    ) -> None:
        await self._call(
            "POST",
            "/stub/api/groups",
            json={"chat_id": chat_id, "title": title, "members": members, "admins": admins or []},
        )

    async def fail_next(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        retry_after: int = 1,
        error_code: int = 429,
        description: str | None = None,
    ) -> None:
        await self._call(
            "POST",
            "/stub/api/faults",
            json={
                "count": count,
                "method": method,
                "chat_id": chat_id,
                "retry_after": retry_after,
                "error_code": error_code,
                "description": description,
            },
        )
