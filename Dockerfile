# One image for the web (Daphne) and worker (Celery) services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Production settings need a strong key even to collect files: a throwaway one, kept in no layer.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DJANGO_SETTINGS_MODULE=returns_console.settings python manage.py collectstatic --noinput
EXPOSE 8000
# Daphne's client bounds as in returns_console/devstack.py (DAPHNE_OPTIONS).
CMD ["daphne", "--websocket_connect_timeout=5", "--ping-interval=20", "--ping-timeout=20", \
     "--application-close-timeout=10", "-b", "0.0.0.0", "-p", "8000", "returns_console.asgi:application"]
