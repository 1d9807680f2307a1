""".env.example and the README's settings table list exactly the settings of the code (the
Settings model's fields plus the EXCHANGE_<ID>_* family), with the code's defaults; the README
stands alone in a clone (no link or path outside the repository)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import EXCHANGE_SUFFIXES, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {name.upper() for name in Settings.model_fields} - {"EXCHANGES", "REREAD_DAYS"}
FAMILY = {f"EXCHANGE_<ID>_{suffix}" for suffix in EXCHANGE_SUFFIXES}
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def env_example() -> tuple[dict[str, str], str]:
    """The active NAME=value lines, and the whole text (the family is described in comments)."""
    text = (ROOT / ".env.example").read_text()
    values = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            values[match[1]] = match[2]
    return values, text


def readme_settings_rows() -> list[tuple[list[str], list[str]]]:
    """(names, backticked defaults) of each row of the README's settings table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        rows.append((re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def default_text(name: str) -> str | None:
    value = getattr(load_settings({}), name.lower())
    return None if value is None else str(value)


def test_env_example_lists_every_setting_and_only_those() -> None:
    values, text = env_example()
    assert set(values) == SETTINGS
    for name in FAMILY:
        assert name in text, name


def test_env_example_values_are_the_defaults() -> None:
    """Copied as it is, .env.example changes nothing: each value it gives is the default (and
    the empty ones mean "not set")."""
    values, _ = env_example()
    for name, value in values.items():
        if value:
            assert value == default_text(name), name


def test_the_readme_table_lists_every_setting_and_only_those() -> None:
    names = [name for row_names, _ in readme_settings_rows() for name in row_names]
    assert len(names) == len(set(names)), "a setting listed twice"
    assert set(names) == SETTINGS | FAMILY


def test_the_readme_table_gives_the_defaults_of_the_code() -> None:
    for names, defaults in readme_settings_rows():
        if len(defaults) != len(names) or any(name in FAMILY for name in names):
            continue  # "—", "embedded", "dev key in DATA_DIR": described, not a value
        for name, default in zip(names, defaults, strict=True):
            if default in SETTINGS:  # a default that is another setting (LINK_BASE_URL)
                continue
            assert default == default_text(name), name


def test_the_readme_stands_alone_in_a_clone() -> None:
    """Regression: it sent readers to ../shared/design/PRODUCT.md, outside the repository."""
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme
    for target in re.findall(r"\]\(([^)]+)\)", readme):
        if not target.startswith(("http://", "https://", "#")):
            assert (ROOT / target.split("#")[0]).exists(), target
    # Paths the text names from the project root (`bot/`, `samples/csv/` …) are there.
    tops = {entry.name for entry in ROOT.iterdir()}
    for path in re.findall(r"`((?:[\w.-]+/)+[\w.-]*)`", readme):
        if path.split("/")[0] in tops:
            assert (ROOT / path).exists(), path
