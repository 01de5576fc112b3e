# galera-exporter: Prometheus exporter for one MariaDB Galera node.
#
#   docker build -t galera-exporter .
#   docker run -d --name galera-exporter --network host \
#     -v /var/lib/mysql:/var/lib/mysql:ro -v /run/mysqld:/run/mysqld \
#     -v /etc/galera-exporter/my.cnf:/etc/galera-exporter/my.cnf:ro \
#     galera-exporter --mysql.defaults-file=/etc/galera-exporter/my.cnf
#
# The base image is a build argument (docs/deploy.md builds it with buildah on a
# debootstrap base where no registry is reachable).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# Only set where the build host intercepts TLS: a CA bundle for pip (see docs/deploy.md).
ARG PIP_CERT
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The exporter only: the lab (lab/, its own distribution) kills and wipes nodes and stays out.
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python3 -m venv /opt/galera-exporter \
    && /opt/galera-exporter/bin/pip install --no-cache-dir --disable-pip-version-check /src \
    && find /opt/galera-exporter -name __pycache__ -prune -exec rm -rf {} + \
    && /opt/galera-exporter/bin/python -m compileall -q /opt/galera-exporter/lib

FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 9878 galera-exporter \
    && useradd --system --uid 9878 --gid galera-exporter --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin galera-exporter
COPY --from=build /opt/galera-exporter /opt/galera-exporter
ENV PATH=/opt/galera-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so runtimes that enforce "run as non-root" can check it without /etc/passwd.
USER 9878:9878
EXPOSE 9878
# /-/healthy needs no password even with basic auth; with TLS on, override this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9878/-/healthy', timeout=4)"]
ENTRYPOINT ["galera-exporter"]
CMD ["--galera.datadir=/var/lib/mysql"]
