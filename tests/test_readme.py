"""The README starts with the two commands, and CI runs exactly the second one."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    fence = readme.index("```bash")
    demo, test = readme[fence + 1], readme[fence + 2]
    assert readme[fence + 3] == "```"
    assert demo.endswith("-m bot demo")
    assert "pytest" in test and "ruff" in test and "mypy" in test
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ".ci/system-packages" in lines  # system packages only (chromium), no other step
    ci = [line for line in lines if line and not line.startswith("#")
          and not line.startswith(("set ", "cd ")) and line != ".ci/system-packages"]
    assert ci == [test]
