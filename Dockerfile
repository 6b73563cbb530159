# syntax=docker/dockerfile:1
# Workflow Store image: one image, two processes (web and worker) and a release step, sharing
# one database. Without DATABASE_URL that is the SQLite file in /data, so each command mounts
# the same named volume; the worker calls the web back at STORE_URL (the simulated payment
# provider's callbacks), so both join one network. Tried on one machine, as copied:
#
#   docker build -t workflow-store .
#   docker network create workflow-store && docker volume create workflow-store-data
#   export SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
#   release  docker run --rm --network workflow-store -v workflow-store-data:/data -e SECRET_KEY -e STORE_URL=http://store-web:8080 -e STORE_PUBLIC_URL=http://localhost:8080 workflow-store sh -c 'python manage.py migrate --noinput && python manage.py store_bootstrap'
#   web      docker run -d --name store-web --network workflow-store -v workflow-store-data:/data -p 127.0.0.1:8080:8080 -e SECRET_KEY -e STORE_URL=http://store-web:8080 -e STORE_PUBLIC_URL=http://localhost:8080 workflow-store
#   worker   docker run -d --name store-worker --network workflow-store -v workflow-store-data:/data -e SECRET_KEY -e STORE_URL=http://store-web:8080 -e STORE_PUBLIC_URL=http://localhost:8080 workflow-store python manage.py qcluster
#   staff    docker run --rm -it --network workflow-store -v workflow-store-data:/data -e SECRET_KEY workflow-store python manage.py createsuperuser
#
# gunicorn listens on loopback here: it never faces clients itself. In production put nginx in
# front (observability/nginx/), use PostgreSQL and Redis, and the environment of
# docs/operations.md ("Container image"); docker-compose.yml runs the whole stack.

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
 && python -m compileall -q store accounts catalog providers orders notifications workflows storefront backoffice \
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
# /data holds the SQLite default and uploaded images: mount a named volume there, the same one
# for every container of the store (no VOLUME here: it would give each container a private,
# anonymous one). With DATABASE_URL (PostgreSQL) only the images are written to it.

# No HEALTHCHECK: the worker runs this image too and serves no HTTP. Probe the web container
# with /livez (liveness) and /readyz (readiness); /healthz also checks broker and workers.
CMD ["sh", "-c", "exec gunicorn store.wsgi --bind \"${HOST}:${PORT}\" --workers \"${WEB_CONCURRENCY:-2}\" --threads \"${GUNICORN_THREADS:-4}\" --worker-tmp-dir /dev/shm --access-logfile - --error-logfile - --no-control-socket"]
