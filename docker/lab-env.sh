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
# Host folder for what the lab must remember between lab-up and lab-down: the sysctl values the tuner replaced
# (restored by lab-down) and the lab's secrets (root-only files, removed by lab-down).
export COMET_LAB_STATE_DIR="${COMET_LAB_STATE_DIR:-/var/lib/comet-lab}"
export COMET_LAB_PROJECT_STATE="$COMET_LAB_STATE_DIR/$COMET_LAB_PROJECT"
export COMET_LAB_TARGETS_DIR="$COMET_LAB_STATE_DIR/prometheus-targets/$COMET_LAB_PROJECT"
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

# lab_secret NAME: a random secret kept in the lab's state folder (mode 600, root's), made on first use. The server's
# admin token and Grafana's admin password are two different secrets: neither is a fixed word, and knowing one does
# not give the other. COMET_ADMIN_TOKEN / COMET_LAB_GRAFANA_PASSWORD given in the environment win.
lab_secret() {
  local file="$COMET_LAB_PROJECT_STATE/$1"
  if [ ! -s "$file" ]; then
    mkdir -p "$COMET_LAB_PROJECT_STATE" && chmod 700 "$COMET_LAB_PROJECT_STATE"
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$file")
  fi
  cat "$file"
}
