"""Start-up cost: `migrate`, the health probes and the services import neither aiogram (about
3 s of pydantic schema building) nor ccxt (every exchange class, about 0.6 s); both arrive only
where they are used (create_bot / create_dispatcher, an adapter being built). See
bench/bench_startup.py for the timings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.processes import ROOT

CHECK = (
    "import sys, importlib\n"
    "for name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'aiogram', 'ccxt'})))\n"
)


def heavy_imports(*modules: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", CHECK, *modules], cwd=ROOT,
                            env={"PATH": ""}, capture_output=True, text=True, timeout=60,
                            check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("modules", [
    ("bot.__main__", "bot.app"),  # what `python -m bot migrate` imports
    ("bot.healthcheck", "services.health"),
    ("services.sync", "services.outages", "exchanges.registry", "exchanges.errors",
     "exchanges.csv_import", "services.seed"),
])
def test_these_import_neither_aiogram_nor_ccxt(modules: tuple[str, ...]) -> None:
    assert heavy_imports(*modules) == set()


def test_building_an_adapter_brings_ccxt_and_the_bot_brings_aiogram() -> None:
    code = (
        "from exchanges.registry import build_source\n"
        "import sys\n"
        "assert 'ccxt' not in sys.modules\n"
        "source = build_source('okx', api_key='k', api_secret='s', api_password='p')\n"
        "assert 'ccxt' in sys.modules\n"
        "from bot.app import create_bot\n"
        "from bot.settings import load_settings\n"
        "assert 'aiogram' not in sys.modules\n"
        "create_bot(load_settings({'BOT_TOKEN': '1:x'}))\n"
        "assert 'aiogram' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={"PATH": ""}, timeout=60,
                   check=True)
