# syntax=docker/dockerfile:1
# Workflow Store image: one image, two processes.
#   web     docker run -p 8080:8080 -e SECRET_KEY=... -e ALLOWED_HOSTS=shop.example.com IMAGE
#   worker  docker run -e SECRET_KEY=... IMAGE python manage.py qcluster
#   release docker run -e SECRET_KEY=... IMAGE python manage.py migrate --noinput
# See docs/operations.md.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the virtualenv with the pinned requirements, the code and its static files -------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

WORKDIR /app
COPY . .

# collectstatic imports the settings, which refuse to start without SECRET_KEY when DEBUG is
# off. This throwaway key exists only in this build stage; the runtime stage never sees it.
ENV SECRET_KEY=build-only-collectstatic-key-never-used-at-runtime \
    DEBUG=0 \
    DATA_DIR=/tmp/build-data
RUN python manage.py collectstatic --noinput --verbosity 1 \
 && python -m compileall -q store accounts catalog providers orders notifications workflows \
 && rm -rf /tmp/build-data

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=store.settings \
    DEBUG=0 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080

RUN groupadd --system --gid 10001 store \
 && useradd --system --uid 10001 --gid store --home-dir /app --no-create-home --shell /usr/sbin/nologin store \
 && mkdir -p /data/media \
 && chown store:store /data /data/media

COPY --from=build /opt/venv /opt/venv
# The code stays owned by root: the app user can read it but not change it.
COPY --from=build /app /app
WORKDIR /app

USER store:store
EXPOSE 8080
# The SQLite default lives here; with DATABASE_URL (PostgreSQL) nothing is written to it.
VOLUME ["/data"]

# No HEALTHCHECK: the worker runs this image too and serves no HTTP. Probe the web container
# with /livez (liveness) and /readyz (readiness); /healthz also checks broker and workers.
CMD ["sh", "-c", "exec gunicorn store.wsgi --bind \"${HOST}:${PORT}\" --workers \"${WEB_CONCURRENCY:-2}\" --threads \"${GUNICORN_THREADS:-4}\" --worker-tmp-dir /dev/shm --access-logfile - --error-logfile - --no-control-socket"]
