"""Config for Tortoise's own CLI:
``tortoise -c bot.migration_config.TORTOISE_ORM makemigrations -n <name>``.

makemigrations compares the models with the files in migrations/ and needs no database, so the
URL here is a placeholder; ``python -m bot migrate`` applies migrations with the real settings.
"""

from bot.db import tortoise_config

TORTOISE_ORM = tortoise_config("postgres://postgres@127.0.0.1/unused")
