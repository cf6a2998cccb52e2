# Warden controller: the API, the session manager, the gateways and the audit ledger.
#
# Built by `warden image build --controller` (docs/deployment.md), which stages this
# file's context: images/controller/, policies/ and wheels/ (Warden's wheel, built from
# the checkout, and its dependencies from PyPI). BASE is the offline debootstrap base
# (warden-base:<hash> with images/controller/packages.txt), or any Debian bookworm image
# when a registry is available. The build itself needs no network.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=unknown
ARG CONTENT_HASH=unknown
LABEL org.opencontainers.image.title="warden-controller" \
      org.opencontainers.image.description="Warden: Claude Code in hardened sandboxes, gated by policy, with a signed audit log" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      warden.image.hash="${CONTENT_HASH}"

# A registry base lacks our packages; the debootstrap base already has them all, so
# this step installs nothing there (and needs no network).
COPY images/controller/packages.txt /tmp/warden-packages.txt
RUN set -eu; \
    wanted="$(grep -v '^#' /tmp/warden-packages.txt | tr '\n' ' ')"; \
    missing=""; \
    for p in $wanted; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done; \
    if [ -n "$missing" ]; then \
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
        && rm -rf /var/lib/apt/lists/*; \
    fi; \
    rm /tmp/warden-packages.txt

# Never root at run time. uid/gid 1000 is also the sandbox image's user: on the Docker
# backend a non-root controller runs sessions under its own ids, so the agent keeps a
# passwd entry (Claude Code looks its user up) and owns the session home it is given.
RUN groupadd --gid 1000 warden \
    && useradd --uid 1000 --gid 1000 --home-dir /var/lib/warden --no-create-home \
       --shell /usr/sbin/nologin warden \
    && install -d -o warden -g warden -m 0700 /var/lib/warden

# Warden from its wheel, offline: only the staged wheels, no index. pip runs from
# Debian's wheel and is not installed into the venv.
COPY wheels /tmp/wheels
RUN set -eu; pip_wheel="$(ls /usr/share/python-wheels/pip-*.whl)"; \
    python3 -m venv --without-pip /opt/warden \
    && /opt/warden/bin/python "$pip_wheel/pip" install \
       --no-index --no-cache-dir --disable-pip-version-check --find-links /tmp/wheels \
       'warden[postgres,k8s]' \
    && rm -rf /tmp/wheels \
    && /opt/warden/bin/warden --help >/dev/null

# Root-owned, read-only to the controller at run time.
COPY policies /opt/warden/policies
COPY images/controller/warden-healthcheck /usr/local/bin/warden-healthcheck

# The data dir (database when SQLite, signing keys, session directories) is the only
# place written: a VOLUME, so `docker run --read-only` works as it is. On the Docker
# backend it must sit at the same path on the host (docs/deployment.md).
ENV PATH=/opt/warden/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/var/lib/warden \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WARDEN_DATA_DIR=/var/lib/warden \
    WARDEN_POLICIES_DIR=/opt/warden/policies
VOLUME ["/var/lib/warden"]
WORKDIR /var/lib/warden
# Numeric, so Kubernetes can check runAsNonRoot without a runAsUser.
USER 1000:1000
EXPOSE 9100 8788

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/warden-healthcheck"]
# tini reaps and forwards signals. uvicorn re-raises SIGTERM once it has shut down
# gracefully; -e 143 makes that clean stop exit 0 (a stop is not a failure).
ENTRYPOINT ["/usr/bin/tini", "-e", "143", "--", "/opt/warden/bin/warden"]
CMD ["serve"]
