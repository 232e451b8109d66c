# syntax=docker/dockerfile:1
# Build stage: compile wheels for newsbot and its dependencies.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: no compilers, no build cache, a non-root user, data on a volume.
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/newsbot.db \
    NEWSBOT_CONFIG=/config/newsbot.toml \
    NEWSBOT_HTTP_LISTEN=0.0.0.0:9464
RUN groupadd --system --gid 10001 newsbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin newsbot \
    && mkdir -p /data /config \
    && chown newsbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config/newsbot.toml /config/newsbot.toml
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["newsbot", "healthcheck"]
ENTRYPOINT ["newsbot"]
CMD ["run"]
