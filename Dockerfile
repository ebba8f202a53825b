# The Costline worker and CLI. Kafka and ClickHouse run beside it
# (docker-compose.yml); locally, `make demo` runs them without Docker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    COSTLINE_HOME=/var/lib/costline \
    COSTLINE_WORKER_DATA_DIR=/var/lib/costline/worker

WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY costline ./costline
COPY sql ./sql
COPY prices ./prices
COPY billing ./billing
COPY plans ./plans
# Our modules' bytecode, compiled once here: an editable install leaves none, and a worker can
# not write it (PYTHONDONTWRITEBYTECODE, and /app is root's), so every start, a restart after a
# kill too, compiled ~85 modules from source before Faust started (bench/RESULTS.md, session 23).
# The dashboard's charting library, pinned and hash-checked, into the package (never a CDN).
RUN pip install --editable . \
    && python -m compileall -q schemas streams costline billing \
    && python -m costline.dev.vendor \
    && useradd --system --home /var/lib/costline costline \
    && mkdir -p /var/lib/costline && chown costline /var/lib/costline

USER costline
ENTRYPOINT ["costline"]
CMD ["worker"]
