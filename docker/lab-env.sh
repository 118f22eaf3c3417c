#!/usr/bin/env bash
# Shared by lab-up.sh and lab-down.sh: the lab's settings (defaults, overridable from the environment) and the
# compose command. Sourced, not run.

export COMET_LAB_PROJECT="${COMET_LAB_PROJECT:-comet-lab}"
export COMET_LAB_SUBNET="${COMET_LAB_SUBNET:-172.28.0.0/16}"
# Fixed addresses inside the subnet: .10 server, .20 Prometheus, .30 Grafana; load generators from .100 up.
_base="${COMET_LAB_SUBNET%/*}"
IFS=. read -r _a _b _c _d <<<"$_base"
export COMET_LAB_SERVER_IP="${COMET_LAB_SERVER_IP:-$_a.$_b.$_c.$((_d + 10))}"
export COMET_LAB_PROMETHEUS_IP="${COMET_LAB_PROMETHEUS_IP:-$_a.$_b.$_c.$((_d + 20))}"
export COMET_LAB_GRAFANA_IP="${COMET_LAB_GRAFANA_IP:-$_a.$_b.$_c.$((_d + 30))}"
export COMET_LAB_SERVER_PORT="${COMET_LAB_SERVER_PORT:-18000}"
export COMET_LAB_PROMETHEUS_PORT="${COMET_LAB_PROMETHEUS_PORT:-19090}"
export COMET_LAB_GRAFANA_PORT="${COMET_LAB_GRAFANA_PORT:-13000}"
export COMET_ADMIN_TOKEN="${COMET_ADMIN_TOKEN:-comet-lab}"
export COMPOSE_PROJECT_NAME="$COMET_LAB_PROJECT"
unset _base _a _b _c _d

# `docker compose` (v2 plugin) where it exists, else Debian's docker-compose (v1).
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose -p "$COMET_LAB_PROJECT" -f docker-compose.yml)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose -p "$COMET_LAB_PROJECT" -f docker-compose.yml)
else
  COMPOSE=()
fi

# engine_answers: true when a Docker engine answers within a few seconds.
engine_answers() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# lab_containers [extra filters...]: ids of every container of this lab, Compose's and the orchestrator's.
lab_containers() {
  {
    docker ps -aq --filter "label=com.docker.compose.project=$COMET_LAB_PROJECT" "$@"
    docker ps -aq --filter "label=comet-lab.lab=$COMET_LAB_PROJECT" "$@"
  } | sort -u
}
