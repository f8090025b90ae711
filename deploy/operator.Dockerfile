# The operator's image: the services' recipe plus deploy/ (the `skillbridge` CLI), for the
# one-shot ACL job of compose and Kubernetes (`skillbridge acls apply`). The services' own
# image (deploy/Dockerfile) holds shared/ and services/ only. Build from the repository root:
#   docker build -f deploy/operator.Dockerfile -t skillbridge-operator:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy

RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 skillbridge \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin skillbridge

# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001

CMD ["skillbridge", "--help"]
