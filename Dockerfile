# plantcarbon services (edge, ingest, metering, API, simulators, dashboards builder) in one image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY plantcarbon plantcarbon
COPY plantcarbon_core plantcarbon_core
COPY edge edge
COPY ingest ingest
COPY metering metering
COPY dashboards dashboards
COPY simulators simulators
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# The control room's charts library, at the version metering/api/web/package.json pins.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY metering/api/web/package.json ./
RUN npm install --no-audit --no-fund --ignore-scripts --no-package-lock

FROM python:3.11-slim
# A fixed uid: compose's `tokens` step gives each service's token file to this user (0400).
# factors/ and tariffs/ exist so the named volumes mounted there start owned by it.
RUN groupadd --system --gid 10001 plantcarbon \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/plantcarbon plantcarbon \
    && install -d -o plantcarbon -g plantcarbon /var/lib/plantcarbon/factors /var/lib/plantcarbon/tariffs
COPY --from=web /web/node_modules/echarts/dist /opt/plantcarbon/echarts
ENV PLANTCARBON_CHARTS_DIR=/opt/plantcarbon/echarts
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER plantcarbon
WORKDIR /var/lib/plantcarbon
ENV PLANTCARBON_DATA_DIR=/var/lib/plantcarbon
ENTRYPOINT ["plantcarbon"]
CMD ["--help"]
