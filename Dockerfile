# The image for the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY arena ./arena
COPY annotation ./annotation
COPY ratings ./ratings
COPY workers ./workers
# CPU build of torch; a GPU host installs its CUDA build instead.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -e .
COPY . .
RUN useradd --create-home agora && chown -R agora /app
USER agora
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--lifespan", "off", "--no-proxy-headers", "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "10"]
