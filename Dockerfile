# One image for web, worker, beat and the demo simulator (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ERROR_DESK_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app
# Dependencies first, so code changes do not invalidate the package layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY manage.py ./
COPY dashboard ./dashboard
COPY celigo_api ./celigo_api
COPY templates ./templates
COPY static ./static
# Collecting static files reads the settings but no secret: DEBUG lets them load without any.
RUN DEBUG=true python manage.py collectstatic --noinput -v0

RUN useradd --create-home --uid 10001 errordesk && mkdir -p /app/var && chown errordesk /app/var
USER errordesk

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["gunicorn", "dashboard.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
