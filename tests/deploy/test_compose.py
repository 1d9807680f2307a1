"""docker-compose.yml and the Dockerfile, read as files (there is no Docker daemon in CI):
every service runs a real ``python -m bot`` command, web is published on 127.0.0.1 only, both
long-running services have a healthcheck that is a real probe, the image runs as a user that
owns DATA_DIR, and it carries no curl-based or embedded-store assumptions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import _parse_args

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
INTERPOLATION = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def interpolate(text: str, environ: dict[str, str] | None = None) -> str:
    """Compose's ${NAME:-default}, with an empty environment unless given."""
    env = environ or {}
    return INTERPOLATION.sub(lambda m: env.get(m[1]) or (m[2] or ""), text)


def app_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items()
            if "build" in service}


def test_the_app_services_are_migrate_web_and_worker() -> None:
    assert set(app_services()) == {"migrate", "web", "worker"}


@pytest.mark.parametrize("name", ["migrate", "web", "worker"])
def test_each_app_service_runs_a_python_m_bot_command_with_the_env_file(name: str) -> None:
    service = app_services()[name]
    command = service["command"]
    assert command[:3] == ["python", "-m", "bot"]
    assert _parse_args(command[3:]).command == command[3]  # a command the CLI knows
    assert command[3] == {"migrate": "migrate", "web": "run", "worker": "worker"}[name]
    assert service["env_file"] == ".env"
    assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    assert service["environment"]["REDIS_URL"].startswith("redis://")


def test_web_is_published_on_localhost_only_by_default() -> None:
    ports = app_services()["web"]["ports"]
    assert ports
    for port in ports:
        published = interpolate(str(port))
        assert published.startswith("127.0.0.1:"), published
        assert published.endswith(":8080")
    # and may be moved to a private address on purpose
    assert interpolate(str(ports[0]), {"WEB_PUBLISH_ADDR": "10.0.0.5"}).startswith("10.0.0.5:")
    for name, service in compose()["services"].items():
        if name != "web":
            assert "ports" not in service, f"{name} publishes a port"


@pytest.mark.parametrize(("name", "probe"), [("web", "web"), ("worker", "worker")])
def test_web_and_worker_have_a_python_healthcheck(name: str, probe: str) -> None:
    check = app_services()[name]["healthcheck"]
    assert check["test"] == ["CMD", "python", "-m", "bot.healthcheck", probe]
    assert "curl" not in str(check)
    assert (ROOT / "bot" / "healthcheck.py").exists()


def test_the_stores_have_healthchecks_and_the_app_waits_for_them() -> None:
    services = compose()["services"]
    for store in ("postgres", "redis"):
        assert services[store]["healthcheck"]["test"]
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"},
    }
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}


def test_data_dir_is_a_volume_the_image_user_owns() -> None:
    for service in app_services().values():
        assert service["environment"]["DATA_DIR"] == "/app/.data"
        assert "appdata:/app/.data" in service["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DATA_DIR=/app/.data" in dockerfile
    assert re.search(r'chown app:app "\$DATA_DIR"', dockerfile)
    user_line = dockerfile.index("\nUSER app")
    assert dockerfile.index("chown app:app") < user_line


def test_the_image_has_a_python_healthcheck_and_no_curl() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "bot.healthcheck", "web"]' in dockerfile
    assert "curl" not in dockerfile.replace("no curl", "")
    # the production image: neither the embedded stores nor the dev tools
    assert "[embedded" not in dockerfile and "[dev" not in dockerfile
