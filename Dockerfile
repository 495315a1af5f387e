# Backprop Lab in a container: the app, its front-end packages, and MNIST + Fashion-MNIST
# fetched at build time so the container trains offline.
#
#   docker build -t backprop-lab .
#   docker run --rm -p 8000:8000 -v backprop-lab-data:/var/lib/backprop-lab backprop-lab
#
# then open http://127.0.0.1:8000. Runs, metrics and weights live in the volume.
# The same image runs the training workers (python -m app.worker): compose.yaml starts two
# servers and two workers on PostgreSQL and Redis (docker compose up --build).

# --- front-end packages from the npm registry (package-lock.json) --------------------------
FROM node:20-slim AS ui
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- Python dependencies and the package, in a virtual environment -------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY app ./app
RUN pip install --no-cache-dir .

# --- the datasets, downloaded and verified (SHA-256) once, at build time -------------------
FROM builder AS data
ENV BACKPROP_LAB_CACHE_DIR=/data
RUN python -c "from engine.data import load_dataset; \
[load_dataset(n, progress=False) for n in ('mnist', 'fashion-mnist')]"

# --- runtime ------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BACKPROP_LAB_DATA_DIR=/var/lib/backprop-lab \
    BACKPROP_LAB_CACHE_DIR=/data \
    BACKPROP_LAB_OFFLINE=1 \
    MNIST_DIR=/data/mnist \
    FASHION_MNIST_DIR=/data/fashion-mnist
# A CJK font, so that the Chinese interface rendered in this image (a headless browser taking
# screenshots, a kiosk) shows its characters instead of empty boxes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 lab \
    && useradd --system --uid 10001 --gid lab --home-dir /app --shell /usr/sbin/nologin lab \
    && mkdir -p /var/lib/backprop-lab \
    && chown lab:lab /var/lib/backprop-lab
COPY --from=builder /opt/venv /opt/venv
COPY --from=data --chown=lab:lab /data /data
WORKDIR /app
COPY engine ./engine
COPY app ./app
COPY static ./static
COPY templates ./templates
COPY --from=ui /src/node_modules ./node_modules
USER 10001:10001
VOLUME ["/var/lib/backprop-lab"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["python", "-m", "app.serve", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--app-dir", "/app"]
