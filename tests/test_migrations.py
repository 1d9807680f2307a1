"""The migrations build the schema the models describe, with the constraints money relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tortoise import Tortoise

ROOT = Path(__file__).resolve().parent.parent


def test_models_and_migrations_agree() -> None:
    """makemigrations finds nothing to add (a change would be a migration nobody wrote)."""
    before = set((ROOT / "migrations").glob("*.py"))
    result = subprocess.run(
        [sys.executable, "-m", "tortoise", "-c", "bot.migration_config.TORTOISE_ORM",
         "makemigrations", "-n", "unexpected"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    for stray in set((ROOT / "migrations").glob("*.py")) - before:
        stray.unlink()  # leave the tree as it was
    assert "No changes detected" in result.stdout, result.stdout + result.stderr


async def test_foreign_keys_survive_the_migrations(db: str) -> None:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT conrelid::regclass::text AS tbl, confrelid::regclass::text AS ref "
        "FROM pg_constraint WHERE contype = 'f'"
    )
    references = {(row["tbl"], row["ref"]) for row in rows}
    assert ("exchange_accounts", "users") in references
    assert ("exchange_accounts", "exchanges") in references
