"""Optional emulation of Telegram's flood limits for message-sending methods.

Off by default so ordinary conversations never trip it; notification-delivery tests turn
it on to prove the sender paces itself (and honours ``retry_after``) without scripting
each 429 by hand.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .models import ApiError

SENDING_METHODS = frozenset(
    {"sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage"}
)


@dataclass
class RateLimits:
    """Sliding-window limits; defaults are Telegram's documented ones."""

    global_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20
    _global: deque[float] = field(default_factory=deque, repr=False)
    _per_chat: dict[int, deque[float]] = field(default_factory=dict, repr=False)

    def check(self, method: str, chat_id: int | None, is_group: bool, now: float) -> None:
        """Record a send, or raise the 429 Telegram would answer with."""
        if method.lower() not in SENDING_METHODS:
            return
        windows = [(self._global, 1.0, self.global_per_second)]
        if chat_id is not None:
            chat_window = self._per_chat.setdefault(chat_id, deque())
            if is_group:
                windows.append((chat_window, 60.0, self.per_group_per_minute))
            else:
                windows.append((chat_window, 1.0, self.per_chat_per_second))
        for window, span, limit in windows:
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                retry_after = max(1, math.ceil(window[0] + span - now))
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
        for window, _, _ in windows:
            window.append(now)
