"""A local stand-in for the Telegram Bot API, for end-to-end tests and the browser demo.

Point aiogram at it with ``TelegramAPIServer.from_base(url)``; drive the person side with
:class:`StubClient` or the chat page at ``{url}/stub/``; ``sign_init_data`` builds a Mini App's
signed initData (webapp.py).
"""

from .client import StubClient, StubError
from .demo import seed_demo_people
from .models import ApiError, CallRecord, FaultRule, LoggedMessage, StoredFile, StubChat, StubUser
from .ratelimit import RateLimits
from .server import create_stub_app, run_stub
from .state import DEFAULT_TOKEN, StubState
from .webapp import sign_init_data

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallRecord",
    "FaultRule",
    "LoggedMessage",
    "RateLimits",
    "StoredFile",
    "StubChat",
    "StubClient",
    "StubError",
    "StubState",
    "StubUser",
    "create_stub_app",
    "run_stub",
    "seed_demo_people",
    "sign_init_data",
]
