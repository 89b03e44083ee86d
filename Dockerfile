# One image for web, workers and beat. Build the GPU worker image with a CUDA build of
# torch: docker build --build-arg TORCH_PIP_ARGS="--index-url <your CUDA wheel index>" .
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_PIP_ARGS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 DJANGO_SETTINGS_MODULE=emotionhub.settings.production

WORKDIR /app
# tesseract-ocr: the OCR binary of the image_sentiment analyzer (run by the workers).
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr \
    && rm -rf /var/lib/apt/lists/*
RUN pip install "torch==${TORCH_VERSION}" ${TORCH_PIP_ARGS}
COPY pyproject.toml README.md ./
COPY emotionhub ./emotionhub
COPY ml ./ml
COPY plugins ./plugins
# The server and the shipped analyzers in one resolver run: a failed install fails the build.
# The example analyzer of tests/ is for the quick start and tests, never in this image.
RUN pip install ".[postgres,server]" ./plugins/facial_emotion ./plugins/text_sentiment \
    ./plugins/image_sentiment
# docs/: error messages and the admin point at docs/responsible-use.md and docs/security.md.
COPY docs ./docs
COPY manage.py ./
RUN useradd --create-home --uid 1000 emotionhub && mkdir -p /data && chown emotionhub /data
USER emotionhub
ENV EMOTIONHUB_VAR_DIR=/data MEDIA_ROOT=/data/media STATIC_ROOT=/data/static
EXPOSE 8000
CMD ["gunicorn", "emotionhub.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30"]
