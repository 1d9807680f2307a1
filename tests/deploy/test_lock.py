"""requirements.lock pins every production dependency of pyproject.toml, and only those."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def blocks() -> list[str]:
    """One entry per pinned package: its line and the continuation lines with its hashes."""
    text = (ROOT / "requirements.lock").read_text()
    return [block for block in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(block)]


def test_every_dependency_is_locked_at_a_version_its_specifier_allows() -> None:
    pins = locked()
    for spec in pyproject()["project"]["dependencies"]:
        requirement = Requirement(spec)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} in requirements.lock does not satisfy "
            f"{requirement.specifier}: make lock"
        )


def test_extras_of_dependencies_are_locked_too() -> None:
    # tortoise-orm[asyncpg]: --strip-extras writes the extra's packages as their own pins.
    pins = locked()
    assert "asyncpg" in pins


def test_the_embedded_stores_and_dev_tools_stay_out_of_the_production_lock() -> None:
    pins = locked()
    extras = pyproject()["project"]["optional-dependencies"]
    for spec in extras["embedded"] + extras["dev"]:
        name = canonicalize_name(Requirement(spec).name)
        # packaging may arrive as someone's dependency; the tools themselves may not.
        if name != "packaging":
            assert name not in pins, f"{name} (an extra) is in the production lock"


def test_every_pin_has_hashes() -> None:
    found = blocks()
    assert found
    for block in found:
        assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"


def test_the_dockerfile_installs_the_lock_then_the_project_without_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    lock_install = dockerfile.index("pip install --require-hashes -r requirements.lock")
    project_install = dockerfile.index("pip install --no-deps -e .")
    assert lock_install < project_install
    assert dockerfile.index("COPY requirements.lock") < lock_install


def test_the_readme_commands_install_the_embedded_stores_they_run_on() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    fence = readme.index("```bash")
    demo, test = readme[fence + 1], readme[fence + 2]
    extras = set(pyproject()["project"]["optional-dependencies"])
    for command, wanted in ((demo, {"embedded"}), (test, {"dev", "embedded"})):
        installed = re.search(r"-e '\.\[([a-z,]+)\]'", command)
        assert installed, command
        asked = set(installed[1].split(","))
        assert wanted <= asked <= extras, command
