"""The simulator fixtures of test_sync.py, for the other sync tests too."""

from tests.sync.test_sync import sim, sync  # noqa: F401
