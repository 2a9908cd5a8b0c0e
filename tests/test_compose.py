"""Static checks of docker-compose.yml and Dockerfile (no Docker engine needed).

What can be checked without running containers is checked here: the services exist and
are wired in the right order, every command points at code that exists in the repository,
every environment variable is a real setting of `config.Settings` and the resulting
settings validate, the API's port is the same everywhere, and the Dockerfile runs the
right Python, as a non-root user, with all the runtime code copied in.
"""
from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

import config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

EXPECTED_SERVICES = {"postgresql", "temporal", "temporal-ui", "app-db", "migrate", "search-attributes", "api", "worker",
                     "prometheus"}
APP_SERVICES = ("migrate", "api", "worker")  # built from ./Dockerfile, configured by config.Settings

# Environment variables the app services may set although they are not fields of
# config.Settings, each with the reason. Keep this short: a variable that no setting reads
# is usually a typo (pydantic-settings silently ignores it, extra="ignore").
ENV_NOT_IN_SETTINGS: dict[str, str] = {}

# What a shell running `docker compose up` minimally provides (see the compose file header):
# every secret production refuses to start without.
MINIMAL_SHELL = {
    "CADENCE_SECRET_KEY": "a-test-secret-that-is-not-the-dev-default",
    "CADENCE_PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
    "SENDGRID_WEBHOOK_PUBLIC_KEY": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-test-key",
    "CADENCE_INBOUND_PARSE_USER": "sendgrid",
    "CADENCE_INBOUND_PARSE_PASSWORD": "a-test-parse-password",
    "DIALER_WEBHOOK_SECRET": "a-test-dialer-secret",
    "CADENCE_METRICS_TOKEN": "a-test-metrics-token",
}
# Secrets compose requires although the API would start without them, each with the reason.
COMPOSE_SECRETS = {"CADENCE_METRICS_TOKEN": "the compose Prometheus scrapes /metrics with it"}

# Top-level entries the running product never needs, so the image need not contain them.
NOT_RUNTIME = {"tests", "benchmarks", "docs", "build", "dist"}
# Non-Python files and folders the code reads at runtime (relative to its own source).
RUNTIME_DATA = {"alembic.ini", "cadences", "templates", "static"}


# --------------------------------------------------------------------------- loading

def load_compose() -> dict[str, Any]:
    with COMPOSE_FILE.open() as fh:
        return yaml.safe_load(fh)  # resolves the x-app-env / x-app anchors and `<<` merges


COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}


def service(name: str) -> dict[str, Any]:
    assert name in SERVICES, f"docker-compose.yml has no service {name!r}"
    return SERVICES[name]


def environment(svc: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's `environment`, map or list syntax; None = pass through from the shell."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else None
        return out
    return {k: (None if v is None else str(v)) for k, v in env.items()}


class MissingVariable(Exception):
    pass


_INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Compose-spec interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return shell.get(match.group("named"), "")
        expr = _BRACED.fullmatch(match.group("braced"))
        if expr is None:
            raise ValueError(f"unsupported interpolation {match.group(0)!r}")
        name, op, arg = expr.group("name", "op", "arg")
        current = shell.get(name)
        is_set, non_empty = current is not None, bool(current)
        if op is None:
            return current or ""
        if op == ":-":
            return current if non_empty else arg
        if op == "-":
            return current if is_set else arg
        if op in (":?", "?"):
            if not (non_empty if op == ":?" else is_set):
                raise MissingVariable(f"{name}: {arg}")
            return current
        if op == ":+":
            return arg if non_empty else ""
        return arg if is_set else ""  # "+"

    return _INTERPOLATION.sub(substitute, value)


# --------------------------------------------------------------------------- commands

def argv_of(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def simple_commands(argv: list[str]) -> list[list[str]]:
    """`sh -c "a && b; c"` -> [a, b, c] (each split into words); any other argv -> [argv]."""
    if len(argv) >= 3 and Path(argv[0]).name in {"sh", "bash"} and argv[1] == "-c":
        parts = re.split(r"&&|\|\||;|\n", argv[2])
        commands = [shlex.split(part) for part in parts if part.strip()]
    else:
        commands = [argv]
    return [cmd[1:] if cmd and cmd[0] == "exec" else cmd for cmd in commands]


def module_candidates(module: str, *, runnable: bool) -> list[Path]:
    base = ROOT.joinpath(*module.split("."))
    candidates = [base.with_suffix(".py"), base / "__init__.py"]
    if runnable:  # python -m package runs package/__main__.py
        candidates.append(base / "__main__.py")
    return candidates


def alembic_requirements(argv: list[str]) -> list[list[Path]]:
    ini = ROOT / (argv[argv.index("-c") + 1] if "-c" in argv else "alembic.ini")
    needs = [[ini]]
    if ini.exists():
        parser = configparser.ConfigParser()
        parser.read(ini)
        location = parser.get("alembic", "script_location", fallback="migrations")
        location = location.replace("%(here)s", str(ini.parent))
        needs.append([ROOT / location / "env.py"])
    return needs


def required_files(argv: list[str]) -> list[tuple[str, list[Path]]]:
    """(what, [candidate files, any one will do]) for one simple command."""
    program = Path(argv[0]).name
    if program in {"uvicorn", "gunicorn"}:
        targets = [a for a in argv[1:] if not a.startswith("-") and re.fullmatch(r"[\w.]+:[\w.()]+", a)]
        assert targets, f"no module:app in {argv}"
        module = targets[0].split(":", 1)[0]
        return [(module, module_candidates(module, runnable=False))]
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program):
        if "-m" in argv:
            module = argv[argv.index("-m") + 1]
            return [(module, module_candidates(module, runnable=True))]
        scripts = [a for a in argv[1:] if a.endswith(".py")]
        assert scripts, f"python command runs neither -m nor a script: {argv}"
        return [(scripts[0], [ROOT / scripts[0]])]
    if program == "alembic":
        return [(str(group[0].relative_to(ROOT)), group) for group in alembic_requirements(argv)]
    raise AssertionError(f"don't know which files {argv} needs; teach tests/test_compose.py")


def app_command_targets() -> list[tuple[str, str, list[Path]]]:
    targets = []
    for name in APP_SERVICES:
        command = SERVICES.get(name, {}).get("command")
        if command is None:
            continue  # reported by test_app_services_have_expected_commands
        for argv in simple_commands(argv_of(command)):
            for what, candidates in required_files(argv):
                targets.append((name, what, candidates))
    return targets


def option(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def published_ports(svc: Mapping[str, Any]) -> list[tuple[str | None, int]]:
    """[(host port or None, container port)] from short or long `ports` syntax."""
    out = []
    for entry in svc.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            out.append((None if published is None else str(published), int(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]  # drop /tcp
        parts = spec.rsplit(":", 2)
        container = int(parts[-1])
        host = parts[-2] if len(parts) >= 2 else None
        out.append((host, container))
    return out


# --------------------------------------------------------------------------- Dockerfile

def dockerfile_instructions() -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)] with comments dropped and line continuations joined."""
    instructions, buffer = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        line = (buffer + stripped).strip()
        buffer = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    if buffer.strip():
        keyword, _, args = buffer.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_args(name: str) -> list[str]:
    return [args for keyword, args in dockerfile_instructions() if keyword == name]


def exec_or_shell_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else ["/bin/sh", "-c", args]


def dockerfile_cmd() -> list[str]:
    cmds = dockerfile_args("CMD")
    assert cmds, "Dockerfile has no CMD"
    return exec_or_shell_form(cmds[-1])


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in dockerfile_args("ENV"):
        words = shlex.split(args)
        if words and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def dockerfile_copy_sources() -> list[list[str]]:
    """Sources of each COPY/ADD from the build context, in order (COPY --from=... skipped)."""
    copies = []
    for keyword, args in dockerfile_instructions():
        if keyword not in {"COPY", "ADD"}:
            continue
        words = json.loads(args) if args.startswith("[") else shlex.split(args)
        if any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        copies.append([p.rstrip("/") or "." for p in paths[:-1]])
    return copies


def final_base_image() -> str:
    froms = dockerfile_args("FROM")
    assert froms, "Dockerfile has no FROM"
    words = [w for w in froms[-1].split() if not w.startswith("--")]
    return words[0]


# =========================================================================== tests: compose

def test_uses_the_compose_spec_without_version_key():
    assert "version" not in COMPOSE, "the Compose spec has no top-level `version:`; drop it"


def test_expected_services_exist():
    missing = EXPECTED_SERVICES - set(SERVICES)
    assert not missing, f"missing services: {sorted(missing)}"


def test_app_services_have_expected_commands():
    commands = {name: simple_commands(argv_of(service(name).get("command") or [])) for name in APP_SERVICES}

    api = commands["api"]
    assert len(api) == 1 and api[0][0] == "uvicorn" and "api.main:app" in api[0], api

    worker = commands["worker"]
    assert len(worker) == 1 and worker[0][0].startswith("python") and worker[0][1:] == ["worker.py"], worker

    migrate = commands["migrate"]
    assert [cmd[:3] for cmd in migrate] == [["alembic", "upgrade", "head"], ["python", "-m", "scripts.load_cadences"]], (
        "migrate must migrate first, then load the default cadences, and stop at the first failure "
        f"(`&&`): {migrate}"
    )
    assert "&&" in argv_of(service("migrate")["command"])[-1]


@pytest.mark.parametrize(
    ("svc", "what", "candidates"),
    [pytest.param(s, w, c, id=f"{s}:{w}") for s, w, c in app_command_targets()],
)
def test_app_command_targets_exist(svc, what, candidates):
    assert any(path.is_file() for path in candidates), (
        f"service {svc!r} runs {what!r}, but none of "
        f"{[str(p.relative_to(ROOT)) for p in candidates]} exists in the repository"
    )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_maps_to_settings(name):
    fields = set(config.Settings.model_fields)
    prefix = config.Settings.model_config.get("env_prefix") or ""
    env = environment(service(name))
    assert env, f"{name} has no environment"
    unknown = {
        key for key in env
        if key not in ENV_NOT_IN_SETTINGS
        and not (key.upper().startswith(prefix.upper()) and key[len(prefix):].lower() in fields)
    }
    assert not unknown, (
        f"{name} sets {sorted(unknown)}, which no field of config.Settings reads "
        "(typo? or add it to ENV_NOT_IN_SETTINGS with a reason)"
    )


def test_app_services_share_one_environment():
    # The worker signs links and the API verifies them (CADENCE_SECRET_KEY), and both must
    # reach the same database and task queue: one shared x-app-env, not three copies.
    envs = {name: environment(service(name)) for name in APP_SERVICES}
    reference = envs["api"]
    for name, env in envs.items():
        assert env == reference, f"{name}'s environment differs from api's"


def test_app_environment_is_valid_settings(monkeypatch):
    env = environment(service("api"))
    for field in config.Settings.model_fields:  # the developer's own environment must not leak in
        monkeypatch.delenv(field.upper(), raising=False)
    for key, value in env.items():
        if value is None:
            continue  # pass-through from the shell; MINIMAL_SHELL leaves it unset
        monkeypatch.setenv(key, interpolate(value, MINIMAL_SHELL))

    settings = config.Settings(_env_file=None)  # validates types, timezone, production secret

    assert settings.cadence_env == "production"
    assert settings.secret() == MINIMAL_SHELL["CADENCE_SECRET_KEY"]
    assert settings.database_url and settings.database_url.startswith("postgresql+psycopg://")
    db = urlsplit(settings.database_url)
    assert db.hostname == "app-db" and (db.port or 5432) == 5432, settings.database_url
    app_db = environment(service("app-db"))
    assert (db.username, db.password, db.path.lstrip("/")) == (
        app_db.get("POSTGRES_USER"), app_db.get("POSTGRES_PASSWORD"), app_db.get("POSTGRES_DB")
    ), "DATABASE_URL's credentials/database must be the ones app-db creates"
    host, _, port = settings.temporal_address.rpartition(":")
    assert host in SERVICES and port == "7233", settings.temporal_address
    assert not settings.sendgrid_api_key  # unset -> outbox, not a failing SendGrid call
    assert settings.sendgrid_inbound_public_key is None, "optional secrets must stay None (unset), not empty strings"
    assert config.api_production_problems(settings) == [], "the API would refuse to start with this environment"
    assert settings.dialer_webhook_secret.get_secret_value() == MINIMAL_SHELL["DIALER_WEBHOOK_SECRET"]
    assert settings.cadence_inbound_parse_password.get_secret_value() == MINIMAL_SHELL["CADENCE_INBOUND_PARSE_PASSWORD"]
    assert settings.sendgrid_webhook_public_key == MINIMAL_SHELL["SENDGRID_WEBHOOK_PUBLIC_KEY"]


def production_requirements() -> list[str]:
    """What the API refuses to start without in production, from config itself."""
    bare = config.Settings(_env_file=None, cadence_env="production", cadence_secret_key="x" * config.MIN_SECRET_BYTES,
                           **dict.fromkeys(("sendgrid_webhook_public_key", "cadence_inbound_parse_user",
                                            "cadence_inbound_parse_password", "dialer_webhook_secret",
                                            "cadence_payload_keys")))
    return ["CADENCE_SECRET_KEY"] + [problem.split()[0] for problem in config.api_production_problems(bare)]


def test_the_shell_provides_every_production_secret():
    assert set(production_requirements()) | set(COMPOSE_SECRETS) == set(MINIMAL_SHELL)


@pytest.mark.parametrize("name", production_requirements() + sorted(COMPOSE_SECRETS))
def test_production_secrets_must_come_from_the_operator(name):
    value = environment(service("api")).get(name)
    assert value is not None, f"{name} must be set in the app environment"
    assert value.startswith(f"${{{name}:?"), f"{name} must be `${{{name}:?<what to set>}}`, not {value!r}"
    with pytest.raises(MissingVariable):
        interpolate(value, {k: v for k, v in MINIMAL_SHELL.items() if k != name})  # compose refuses to start
    with pytest.raises(MissingVariable):
        interpolate(value, {**MINIMAL_SHELL, name: ""})  # `:?`: an empty value is refused as well
    assert interpolate(value, MINIMAL_SHELL) == MINIMAL_SHELL[name]
    assert interpolate(environment(service("api"))["CADENCE_SECRET_KEY"], MINIMAL_SHELL) != config.DEV_SECRET


def test_migrations_run_once_before_api_and_worker():
    migrate = service("migrate")
    assert migrate.get("restart", "no") == "no", "a one-shot job must not be restarted"
    assert migrate["depends_on"]["app-db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        depends = service(name)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["temporal"]["condition"] == "service_healthy", name


def test_depends_on_targets_exist_and_can_satisfy_their_condition():
    for name, svc in SERVICES.items():
        depends = svc.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in SERVICES, f"{name} depends on unknown service {target!r}"
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy":
                assert SERVICES[target].get("healthcheck"), f"{name} waits for {target} to be healthy; it has no healthcheck"
            if condition == "service_completed_successfully":
                assert SERVICES[target].get("restart", "no") == "no", f"{target} must be a one-shot job"


@pytest.mark.parametrize(
    ("name", "must_mention"),
    [
        ("temporal", ("cluster health", "tctl")),
        ("app-db", ("pg_isready",)),
        ("api", ("/healthz",)),
    ],
)
def test_healthchecks_present(name, must_mention):
    check = service(name).get("healthcheck") or {}
    assert not check.get("disable"), f"{name}'s healthcheck is disabled"
    test = check.get("test")
    assert test and test != ["NONE"], f"{name} has no healthcheck"
    text = test if isinstance(test, str) else " ".join(map(str, test))
    assert any(word in text for word in must_mention), f"{name}'s healthcheck should use one of {must_mention}: {text}"


def test_api_port_is_the_same_everywhere():
    api = service("api")
    port = option(argv_of(api["command"]), "--port")
    assert port is not None, "uvicorn needs an explicit --port"
    port = int(port)

    assert port in [container for _, container in published_ports(api)], f"api does not publish container port {port}"
    health = " ".join(map(str, api["healthcheck"]["test"]))
    assert re.search(rf"https?://(127\.0\.0\.1|localhost):{port}/healthz", health), health
    assert "urllib" in health  # python:3.11-slim has no curl/wget
    env_port = environment(api).get("CADENCE_API_PORT")
    if env_port is not None:
        assert int(interpolate(env_port, MINIMAL_SHELL)) == port
    assert int(option(dockerfile_cmd(), "--port") or -1) == port, "Dockerfile CMD and compose disagree on the port"


def test_worker_runs_at_least_two_replicas():
    worker = service("worker")
    assert int((worker.get("deploy") or {}).get("replicas", 1)) >= 2
    # Fixed names or host ports would make the second replica fail to start.
    assert "container_name" not in worker
    assert all(host is None for host, _ in published_ports(worker))
    # Replicas scale the worker here; CADENCE_WORKERS is `make run`'s way, one container runs one.
    assert "CADENCE_WORKERS" not in environment(worker)


CAPACITY_SETTINGS = [name for name in config.Settings.model_fields if name.startswith("cadence_worker_max_")
                     or name.endswith(("_task_pollers", "_threads"))]


@pytest.mark.parametrize("field", CAPACITY_SETTINGS)
def test_each_worker_capacity_setting_can_be_tuned_from_the_shell_and_defaults_to_the_measured_value(field):
    name = field.upper()
    value = environment(service("worker")).get(name)
    default = config.Settings.model_fields[field].default
    assert value == f"${{{name}:-{default}}}", f"set {name}: ${{{name}:-{default}}} (config.Settings' default)"
    assert interpolate(value, {}) == str(default)
    assert interpolate(value, {name: "7"}) == "7"


# --------------------------------------------------------------------------- search attributes

def search_attribute_script() -> str:
    """The job's shell script, as the container's sh gets it (compose turns `$$` into `$`)."""
    job = service("search-attributes")
    assert job.get("entrypoint") == ["/bin/sh", "-c"], job.get("entrypoint")
    (script,) = job["command"]
    return interpolate(script, {})


def test_search_attributes_are_registered_before_api_and_worker_start():
    job = service("search-attributes")
    assert job.get("restart", "no") == "no", "a one-shot job must not be restarted"
    assert job["depends_on"]["temporal"]["condition"] == "service_healthy"
    image, _, tag = job["image"].partition(":")
    assert image == "temporalio/admin-tools", "the image with the temporal CLI"
    server_tag = service("temporal")["image"].partition(":")[2]
    assert tag.split("-")[0] == server_tag, f"admin-tools {tag} is not of the server's release {server_tag}"
    for name in ("api", "worker"):
        assert service(name)["depends_on"]["search-attributes"]["condition"] == "service_completed_successfully"


def test_the_job_creates_exactly_the_attributes_of_the_lead_workflow():
    from workflows.search_attributes import ALL, CLI_TYPES

    script = search_attribute_script()
    created = re.findall(r"^\s*create --name (\S+) --type (\S+)\s*$", script, re.M)
    assert dict(created) == {key.name: CLI_TYPES[key] for key in ALL} and len(created) == len(ALL)
    (command,) = re.findall(r"temporal operator search-attribute create [^\n]*", script)
    env = {k: interpolate(v, MINIMAL_SHELL) for k, v in environment(service("worker")).items() if v is not None}
    assert option(shlex.split(command), "--namespace") == env["TEMPORAL_NAMESPACE"]
    assert option(shlex.split(command), "--address") == env["TEMPORAL_ADDRESS"]


FAKE_CLI = """#!/bin/sh
# Stands in for the temporal CLI: answers for `--name` as the file ANSWERS says.
while [ "$#" -gt 0 ]; do [ "$1" = "--name" ] && name="$2"; shift; done
echo "$name" >> "$CALLS"
answer=$(grep "^$name " "$ANSWERS" | cut -d' ' -f2-)
case "$answer" in
  "") echo "Search attributes have been added" ;;
  *) echo "Error: $answer" >&2; exit 1 ;;
esac
"""


@pytest.mark.parametrize(("answers", "succeeds"), [
    ({}, True),
    ({"CadenceStage": "search attribute CadenceStage already exists"}, True),
    ({name: f"search attribute {name} already exists" for name in ("CadenceStage", "CadenceNextTouchAt")}, True),
    ({"CadenceRank": "search attribute CadenceRank already exists and has different type Int"}, False),
    ({"CadenceOwner": "connection refused"}, False),
])
def test_the_job_is_idempotent_and_fails_on_anything_but_an_existing_attribute(tmp_path, answers, succeeds):
    import shutil
    import subprocess

    from workflows.search_attributes import ALL

    if shutil.which("sh") is None:
        pytest.skip("no POSIX shell here")
    (tmp_path / "temporal").write_text(FAKE_CLI)
    (tmp_path / "temporal").chmod(0o755)
    (tmp_path / "answers").write_text("".join(f"{k} {v}\n" for k, v in answers.items()))
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls"), "ANSWERS": str(tmp_path / "answers")}
    done = subprocess.run(["sh", "-c", search_attribute_script()], env=env, capture_output=True, text=True, timeout=30)
    assert (done.returncode == 0) == succeeds, done
    calls = (tmp_path / "calls").read_text().split()
    if succeeds:
        assert calls == [key.name for key in ALL]  # every attribute, each asked for once
    else:
        assert calls[-1] in answers, calls  # it stops at the one that failed


def test_temporal_is_wired_to_its_database_and_ui():
    temporal = environment(service("temporal"))
    assert temporal.get("DB") == "postgres12"
    assert temporal.get("POSTGRES_SEEDS") in SERVICES
    assert service("temporal")["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert environment(service("temporal-ui")).get("TEMPORAL_ADDRESS") == "temporal:7233"
    assert 8080 in [container for _, container in published_ports(service("temporal-ui"))]


def test_prometheus_scrapes_the_api_and_every_worker():
    prometheus = service("prometheus")
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in prometheus["volumes"]}
    config_path = option(argv_of(prometheus["command"]), "--config.file")
    assert config_path in mounts, f"{config_path} is not mounted into the prometheus service"
    source = ROOT / mounts[config_path]
    assert source.is_file(), f"{source} is missing"
    scrape = {job["job_name"]: job for job in yaml.safe_load(source.read_text())["scrape_configs"]}
    env = {k: interpolate(v, MINIMAL_SHELL) for k, v in environment(service("api")).items() if v is not None}

    api_port = option(argv_of(service("api")["command"]), "--port")
    (api,) = [job for job in scrape.values() if any(f"api:{api_port}" in group.get("targets", [])
                                                     for group in job.get("static_configs", []))]
    assert api.get("metrics_path", "/metrics") == "/metrics"
    assert api["authorization"]["type"] == "Bearer"
    secret_files = {f"/run/secrets/{s['target']}": s["source"] for s in prometheus["secrets"]}
    token_secret = secret_files.get(api["authorization"]["credentials_file"])
    assert token_secret, "the bearer token file must be one of the service's secrets"
    assert COMPOSE["secrets"][token_secret] == {"environment": "CADENCE_METRICS_TOKEN"}, "the API's token, not another"

    (workers,) = [job for job in scrape.values() if job.get("dns_sd_configs")]
    (discovery,) = workers["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["type"] == "A", "every replica, not one of them"
    assert discovery["port"] == int(env["CADENCE_WORKER_METRICS_PORT"])
    assert env["CADENCE_WORKER_METRICS_HOST"] == "0.0.0.0", "the worker must listen beyond its own loopback"
    assert all(host == "127.0.0.1" for host, _ in published_host_ports(prometheus)), "Prometheus has no login"
    volumes = {str(v).split(":")[0] for v in prometheus["volumes"]}
    assert "prometheus-data" in volumes and "prometheus-data" in (COMPOSE.get("volumes") or {})


def published_host_ports(svc: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """[(host address or None, rest)] of short-syntax `ports`."""
    out = []
    for entry in svc.get("ports") or []:
        parts = str(entry).split(":")
        out.append((parts[0] if len(parts) == 3 else None, ":".join(parts[-2:])))
    return out


def test_third_party_images_are_pinned():
    for name, svc in SERVICES.items():
        if "build" in svc:
            continue
        image = svc.get("image", "")
        assert re.search(r":[\w][\w.-]*$", image) and not image.endswith(":latest"), f"{name}: pin {image!r}"


def test_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for name in ("app-db", "postgresql"):
        volumes = service(name).get("volumes") or []
        assert volumes, f"{name} keeps its data in a container layer; give it a named volume"
        for volume in volumes:
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":", 1)[0]
            assert not source.startswith((".", "/")), f"{name}: use a named volume, not a bind mount ({source})"
            assert source in declared, f"{name} uses undeclared volume {source!r}"


# =========================================================================== tests: Dockerfile

def test_dockerfile_cmd_module_exists():
    cmd = dockerfile_cmd()
    for argv in simple_commands(cmd):
        for what, candidates in required_files(argv):
            assert any(p.is_file() for p in candidates), f"Dockerfile CMD runs {what!r}, which does not exist yet"


def test_dockerfile_python_satisfies_requires_python():
    image = final_base_image()
    match = re.fullmatch(r"(?:docker\.io/)?(?:library/)?python:(\d+\.\d+)(?:\.\d+)?(?:-[\w.-]+)?(?:@sha256:\w+)?", image)
    assert match, f"expected an official python:X.Y image, got {image!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(match.group(1)), f"{image} does not satisfy requires-python {requires!r}"


def test_dockerfile_runs_as_non_root_from_app():
    users = dockerfile_args("USER")
    assert users, "Dockerfile never switches away from root"
    assert users[-1].split(":", 1)[0] not in {"root", "0"}, users[-1]
    # The compose commands use paths relative to /app (worker.py, alembic.ini, -m scripts...).
    assert dockerfile_args("WORKDIR")[-1] == "/app"
    assert dockerfile_env().get("PYTHONPATH") == "/app"


def test_dockerfile_installs_dependencies_before_copying_the_code():
    copies = dockerfile_copy_sources()
    first_pyproject = next((i for i, srcs in enumerate(copies) if "pyproject.toml" in srcs), None)
    assert first_pyproject is not None, "Dockerfile never copies pyproject.toml"
    assert copies[first_pyproject] == ["pyproject.toml"] and first_pyproject == 0, (
        "copy pyproject.toml alone, first, so the dependency layer is cached across code changes"
    )
    runs = " ".join(dockerfile_args("RUN"))
    assert "pip install" in runs and "pyproject.toml" in runs


def test_dockerfile_copies_all_runtime_code():
    copied = {src for srcs in dockerfile_copy_sources() for src in srcs}
    if "." in copied:
        return
    needed = set(RUNTIME_DATA)
    for entry in ROOT.iterdir():
        if entry.name.startswith((".", "_")) or entry.name in NOT_RUNTIME:
            continue
        if entry.is_file() and entry.suffix == ".py":
            needed.add(entry.name)
        elif entry.is_dir() and any(entry.rglob("*.py")):
            needed.add(entry.name)
    missing = {name for name in needed if (ROOT / name).exists()} - copied
    assert not missing, f"the image would lack {sorted(missing)}: add a COPY line to the Dockerfile"


def test_dockerfile_compiles_the_python_it_copies_before_dropping_root():
    """The image runs with PYTHONDONTWRITEBYTECODE and root-owned code: bytecode that is not built
    into it is compiled again by every import, and the sandbox imports the workflows per workflow."""
    instructions = dockerfile_instructions()
    assert dockerfile_env().get("PYTHONDONTWRITEBYTECODE") == "1"
    compiles = [(i, shlex.split(args)) for i, (keyword, args) in enumerate(instructions)
                if keyword == "RUN" and "compileall" in args]
    assert compiles, "the Dockerfile does not compile the code (python -m compileall)"
    at, words = compiles[-1]
    user_at = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    assert at < user_at, "compile while the code is still writable, before USER"
    python = {src for srcs in dockerfile_copy_sources() for src in srcs
              if src.endswith(".py") or (ROOT / src).is_dir() and any((ROOT / src).rglob("*.py"))}
    python -= {"pyproject.toml"}
    missing = set() if {".", "/app"} & set(words) else python - set(words)  # the whole tree, or each
    assert not missing, f"copied but not compiled: {sorted(missing)}"


def test_the_temporal_ui_decodes_history_through_the_api_codec():
    ui = environment(service("temporal-ui"))
    assert interpolate(ui["TEMPORAL_CODEC_ENDPOINT"], MINIMAL_SHELL) == "http://localhost:8000/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    origins = json.loads(environment(service("api"))["CADENCE_CODEC_ORIGINS"])
    assert "http://localhost:8080" in origins  # where the UI is published
    assert "127.0.0.1:8080:8080" in service("temporal-ui")["ports"]


def test_workers_get_longer_to_stop_than_they_give_activities():
    from worker import GRACEFUL_SHUTDOWN

    grace = service("worker")["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > GRACEFUL_SHUTDOWN.total_seconds()
