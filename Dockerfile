# One image for the web (Daphne) and worker (Celery) services of docker-compose.yml.
# Chart.js (the insights page's charts) comes from npm, pinned in package-lock.json, and is served as a static file.
FROM node:20-slim AS vendor
WORKDIR /vendor
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=vendor /vendor/node_modules/chart.js/dist node_modules/chart.js/dist
# Production settings need a strong key even to collect files: a throwaway one, kept in no layer.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DJANGO_SETTINGS_MODULE=returns_console.settings python manage.py collectstatic --noinput
EXPOSE 8000
# Daphne on uvloop (returns_console/serve.py), its client bounds as in returns_console/devstack.py (DAPHNE_OPTIONS).
CMD ["python", "-m", "returns_console.serve", "--websocket_connect_timeout=5", "--ping-interval=20", "--ping-timeout=20", \
     "--application-close-timeout=10", "-b", "0.0.0.0", "-p", "8000", "returns_console.asgi:application"]
