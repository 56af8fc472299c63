# syntax=docker/dockerfile:1

# --- build: dependencies and the project into /opt/venv ---
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY pyproject.toml README.md ./
COPY app/ app/
RUN pip install --no-cache-dir --no-deps .

# --- runtime: the venv, the migrations and the example profiles; no build tools, no root ---
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REKISTERI_ENVIRONMENT=production \
    REKISTERI_MIGRATE_ON_START=true

RUN useradd --uid 10001 --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin rekisteri

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY app/ app/
COPY alembic/ alembic/
COPY alembic.ini ./
COPY examples/ examples/
# Only the embedded server (no REKISTERI_DATABASE_URL) writes here.
RUN mkdir .data && chown rekisteri:rekisteri .data

USER rekisteri
EXPOSE 8000

# Healthy when it can serve: the database answers (/health/ready), not merely the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)"]

ENTRYPOINT ["rekisteri"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
