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
CMD ["python", "-m", "daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
