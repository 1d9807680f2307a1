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
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == [test]
