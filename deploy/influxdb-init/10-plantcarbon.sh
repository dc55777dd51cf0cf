#!/bin/bash
# Runs once, at InfluxDB's first start (DOCKER_INFLUXDB_INIT_MODE=setup), after `raw` exists.
# Creates the `metering` bucket and one least-privilege token per service, written to the
# influx-tokens volume (this container's user only, mode 0600); the compose `tokens` step then
# copies each into that service's own volume, owned by the service's user, mode 0400
# (PLANTCARBON_INFLUX_TOKEN_FILE):
#   ingest   writes raw
#   metering reads raw and metering, writes metering
#   api      reads raw and metering, writes metering (alerts measurement)
#   grafana  reads raw and metering
set -euo pipefail
umask 077
out=/run/plantcarbon-tokens
mkdir -p "$out"
influx bucket create --name metering --retention 0 --org "$DOCKER_INFLUXDB_INIT_ORG"
raw=$(influx bucket list --name raw --hide-headers | cut -f1)
met=$(influx bucket list --name metering --hide-headers | cut -f1)
token() {  # description, then the permission flags
  local desc=$1; shift
  influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" --description "$desc" "$@" --hide-headers | cut -f3
}
token plantcarbon-ingest --write-bucket "$raw" > "$out/ingest.token"
token plantcarbon-metering --read-bucket "$raw" --read-bucket "$met" --write-bucket "$met" > "$out/metering.token"
token plantcarbon-api --read-bucket "$raw" --read-bucket "$met" --write-bucket "$met" > "$out/api.token"
token plantcarbon-grafana --read-bucket "$raw" --read-bucket "$met" > "$out/grafana.token"
chmod 0600 "$out"/*.token
