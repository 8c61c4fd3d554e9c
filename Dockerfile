# The demo service image. Built by scripts/build-image.sh (`make image`), which stages a small context
# holding pyproject.toml, README.md, demo_app/ and wheels/ (a host-side wheelhouse: containers here
# cannot reach PyPI). Only classic-builder features are used: the engine may have no BuildKit.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY wheels/ /wheels/
# Dependencies first, in their own layer, so a change to the service code reuses it.
RUN python3 -m venv /opt/demoapp \
 && /opt/demoapp/bin/pip install -q --no-index --find-links /wheels -r /wheels/requirements.txt
COPY pyproject.toml README.md /src/
COPY demo_app/ /src/demo_app/
# The build backend (setuptools, from requirements.txt) is already in the venv, so no isolated build
# env is needed. pip and setuptools only serve the install; the runtime copies the venv without them.
RUN /opt/demoapp/bin/pip install -q --no-index --no-deps --no-build-isolation /src \
 && /opt/demoapp/bin/pip uninstall -q -y pip setuptools

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin demoapp
# Read-only root filesystem: no bytecode writes at run time (pip compiled it at install); the service
# writes only to tmpfs: its ephemeral store to /dev/shm, anything else to TMPDIR (`--tmpfs /tmp`).
ENV PATH=/opt/demoapp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    DEMOAPP_HOST=0.0.0.0 \
    DEMOAPP_PORT=8080
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
HEALTHCHECK --interval=3s --timeout=3s --start-period=10s --retries=3 CMD ["demo-app", "healthcheck"]
ENTRYPOINT ["demo-app"]
CMD ["serve", "--host", "0.0.0.0"]
# The settings above stay cached; a code change rebuilds from here. The venv stays root-owned: the
# service cannot modify its own code.
COPY --from=build /opt/demoapp /opt/demoapp
# Last, so a new hash does not invalidate the cached layers above.
ARG CONTENT_HASH=unknown
LABEL org.opencontainers.image.title="demoapp" \
      org.opencontainers.image.description="The demo web service driven by the Terraform demos" \
      demoapp.content-hash="${CONTENT_HASH}"
