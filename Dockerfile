# plantcarbon services (edge, ingest, metering, API, simulators, dashboards builder) in one image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY edge edge
COPY ingest ingest
COPY metering metering
COPY dashboards dashboards
COPY simulators simulators
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/plantcarbon plantcarbon
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER plantcarbon
WORKDIR /var/lib/plantcarbon
ENV PLANTCARBON_DATA_DIR=/var/lib/plantcarbon
ENTRYPOINT ["plantcarbon"]
CMD ["--help"]
