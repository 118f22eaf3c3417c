#!/usr/bin/env bash
# `make lab-up`: the Docker lab. Starts a Docker engine if none answers, gets or builds the images (offline when no
# registry answers), starts the compose stack (server, Prometheus, Grafana where its image can be had, the one-shot
# tuner) and waits for the server's ready line. `make flood` then uses the docker backend by itself.
# Safe to call twice (says the lab is already up). A failure part-way removes what it made.
#
# Settings (environment): COMET_LAB_PROJECT (comet-lab), COMET_LAB_SUBNET (172.28.0.0/16; server .10, Prometheus .20,
# Grafana .30), COMET_LAB_SERVER_PORT / _PROMETHEUS_PORT / _GRAFANA_PORT (host loopback ports 18000/19090/13000),
# COMET_WORKERS (auto), COMET_MAX_CONNECTIONS (100000; `make lab-up N=...`), COMET_NOFILE (20000), COMET_INTERVAL
# (10s), COMET_ENGINE (raw), COMET_ADMIN_TOKEN (random per lab, kept root-only in COMET_LAB_STATE_DIR), COMET_LAB_PROFILE
# (c1m), COMET_LAB_TUNE (apply | dry-run | skip; the values replaced are saved and `make lab-down` restores them),
# COMET_LAB_STATE_DIR (/var/lib/comet-lab), BASE_IMAGE (node:24-bookworm-slim, else built offline),
# COMET_LAB_PULL_TIMEOUT (20 s), COMET_LAB_SERVER_IMAGE / COMET_LAB_LOADGEN_IMAGE (ready-made images instead of building),
# COMET_LAB_IMAGE_TAG (latest: the tag the built images get), BACKEND / COMET_LAB_BACKEND (docker | swarm).
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/lab-env.sh

say() { echo "comet-lab: $*"; }
fail() { echo "comet-lab: $1" >&2; [ -n "${2:-}" ] && echo "  hint: $2" >&2; exit "${3:-1}"; }

# Every setting is checked before anything is built or started, and every problem is reported at once (exit 2).
problems=()
int_in() { [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || problems+=("$1=$2: must be a whole number from $3 to $4"); }
int_in COMET_MAX_CONNECTIONS "${COMET_MAX_CONNECTIONS:-100000}" 1 100000000
[[ "${COMET_WORKERS:-auto}" =~ ^(auto|[1-9][0-9]{0,3})$ ]] || problems+=("COMET_WORKERS=${COMET_WORKERS}: must be auto or a number of workers")
int_in COMET_NOFILE "${COMET_NOFILE:-20000}" 1024 1073741816
for v in COMET_LAB_SERVER_PORT COMET_LAB_PROMETHEUS_PORT COMET_LAB_GRAFANA_PORT; do int_in "$v" "${!v}" 1 65535; done
[[ "$COMET_LAB_SUBNET" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/([89]|1[0-9]|2[0-4])$ ]] || problems+=("COMET_LAB_SUBNET=$COMET_LAB_SUBNET: must be an IPv4 network a.b.c.d/8 to /24")
[[ "${COMET_INTERVAL:-10s}" =~ ^[0-9]+(\.[0-9]+)?(ms|s|m|h)?$ ]] || problems+=("COMET_INTERVAL=${COMET_INTERVAL}: must be a duration: 500ms, 10s, 2m, or bare seconds")
[[ "${COMET_ENGINE:-raw}" =~ ^(raw|net|http|express)$ ]] || problems+=("COMET_ENGINE=${COMET_ENGINE}: must be raw, net, http or express")
[[ "${COMET_LAB_TUNE:-apply}" =~ ^(apply|dry-run|skip)$ ]] || problems+=("COMET_LAB_TUNE=${COMET_LAB_TUNE}: must be apply, dry-run or skip")
# BACKEND=swarm (make lab-up BACKEND=swarm): the same images, run as swarm services (orchestrator/backends/swarm/).
backend="${COMET_LAB_BACKEND:-docker}"
[[ "$backend" =~ ^(docker|swarm)$ ]] || problems+=("BACKEND=$backend: must be docker or swarm")
# The tag lab-up builds the lab's images under (latest): a lab of its own (a test's) builds its own, so two labs
# from two checkouts on one engine never swap images under each other.
tag="${COMET_LAB_IMAGE_TAG:-latest}"
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || problems+=("COMET_LAB_IMAGE_TAG=$tag: must be a Docker tag (letters, digits, _ . -)")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'comet-lab: LAB_ERR_USAGE: %s\n' "${problems[@]}" >&2
  echo "  hint: e.g. make lab-up N=100000 (nothing was built or started)" >&2
  exit 2
fi

[ "$backend" = swarm ] || [ ${#COMPOSE[@]} -gt 0 ] || fail "LAB_ERR_NO_COMPOSE: neither 'docker compose' nor 'docker-compose' is installed" \
  "bash scripts/install-system-deps.sh (as root) installs docker-compose" 3
bash scripts/start-dockerd.sh || exit 3

running="$([ "$backend" = swarm ] || lab_containers --filter label=comet-lab.role=server --filter status=running)"
if [ -n "$running" ]; then
  say "the lab '$COMET_LAB_PROJECT' is already up (server $(docker inspect -f '{{.Name}}' $running | tr -d /)); nothing to do"
  say "make lab-down first to rebuild it"
  exit 0
fi
# Leftovers of a lab that did not come up (exited containers, a network): clear them before starting anew.
if [ "$backend" = docker ] && [ -n "$(lab_containers)" ]; then
  say "removing the leftovers of an earlier lab '$COMET_LAB_PROJECT'"
  bash scripts/lab-down.sh >/dev/null
fi

pull_timeout="${COMET_LAB_PULL_TIMEOUT:-20}"
# have_image IMAGE: present locally, or pulled within the timeout.
have_image() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  say "pulling $1 (up to ${pull_timeout}s)"
  timeout "$pull_timeout" docker pull -q "$1" >/dev/null 2>&1
}

base="${BASE_IMAGE:-node:24-bookworm-slim}"
if ! have_image "$base"; then
  say "$base cannot be had (no registry?): building comet-lab/node-base:24 from node_modules/node offline"
  base="$(bash docker/build-node-base.sh)" || fail "LAB_ERR_IMAGE_BUILD: building the offline Node base image failed (output above)"
fi
export BASE_IMAGE="$base"
prom="${COMET_LAB_PROMETHEUS_IMAGE:-prom/prometheus:v2.53.0}"
if [ "$backend" = docker ] && ! have_image "$prom"; then
  say "$prom cannot be had: building comet-lab/prometheus-local from Debian's /usr/bin/prometheus offline"
  prom="$(bash docker/build-prometheus-local.sh)" || fail "LAB_ERR_IMAGE_BUILD: building the offline Prometheus image failed (output above)"
fi
export COMET_LAB_PROMETHEUS_IMAGE="$prom"
grafana="${COMET_LAB_GRAFANA_IMAGE:-grafana/grafana:11.1.0}"
export COMET_LAB_GRAFANA_IMAGE="$grafana"
services=(tuner server prometheus)
if [ "$backend" = swarm ]; then
  :  # no Prometheus or Grafana on the swarm lab (yet): the orchestrator's exporter and live page still run
elif have_image "$grafana"; then
  export COMET_LAB_GRAFANA_SCALE=1
  services+=(grafana)
else
  export COMET_LAB_GRAFANA_SCALE=0
  say "Grafana: the image $grafana cannot be pulled here and is not present locally, so the lab runs without"
  say "  Grafana (Prometheus still scrapes). To add it: docker load -i grafana.tar, then make lab-down lab-up."
fi

# COMET_LAB_SERVER_IMAGE / COMET_LAB_LOADGEN_IMAGE name ready-made images (then nothing is built for that role).
for role in server loadgen; do
  var="COMET_LAB_$(tr a-z A-Z <<<"$role")_IMAGE"
  if [ -n "${!var:-}" ]; then
    say "$role image: ${!var} (given, not built)"
    continue
  fi
  say "building comet-lab/$role:$tag on $base"
  if ! out="$(docker build -q -f "$role/Dockerfile" --build-arg "BASE_IMAGE=$base" -t "comet-lab/$role:$tag" . 2>&1)"; then
    echo "$out" >&2
    fail "LAB_ERR_IMAGE_BUILD: building comet-lab/$role failed (output above)"
  fi
  export "$var=comet-lab/$role:$tag"
done

# Earlier builds of the lab's images, untagged by these: dangling layers only (by label, never anyone else's images).
docker image prune -f --filter label=comet-lab.image >/dev/null 2>&1 || true
docker image prune -f --filter label=comet-lab.source >/dev/null 2>&1 || true

# The lab's secrets: a random admin token for the server (the orchestrator reads it back from the container), a
# different random admin password for Grafana.
COMET_ADMIN_TOKEN="${COMET_ADMIN_TOKEN:-$(lab_secret admin-token)}"
COMET_LAB_GRAFANA_PASSWORD="${COMET_LAB_GRAFANA_PASSWORD:-$(lab_secret grafana-password)}"
export COMET_ADMIN_TOKEN COMET_LAB_GRAFANA_PASSWORD
mkdir -p "$COMET_LAB_PROJECT_STATE"
# The folder the orchestrator writes the load generators' scrape targets to (readable by Prometheus, no secret in it).
mkdir -p "$COMET_LAB_TARGETS_DIR" && chmod 755 "$COMET_LAB_STATE_DIR/prometheus-targets" "$COMET_LAB_TARGETS_DIR"

if [ "$backend" = swarm ]; then
  # The tuner travels to the nodes as an image (they have no copy of kernel/), then the swarm part takes over.
  if [ "${COMET_LAB_TUNE:-apply}" != skip ] && [ -z "${COMET_LAB_TUNER_IMAGE:-}" ]; then
    say "building comet-lab/tuner:$tag on $base"
    if ! out="$(docker build -q -f docker/tuner.Dockerfile --build-arg "BASE_IMAGE=$base" -t "comet-lab/tuner:$tag" . 2>&1)"; then
      echo "$out" >&2
      fail "LAB_ERR_IMAGE_BUILD: building comet-lab/tuner failed (output above)"
    fi
    export COMET_LAB_TUNER_IMAGE="comet-lab/tuner:$tag"
  fi
  exec node_modules/.bin/node orchestrator/backends/swarm/swarm-lab-cli.ts up
fi

# From here on, a failure takes down what was started. Services are named: Compose v1 would try to pull the image
# of a service scaled to 0 (Grafana without its image) and fail offline.
trap 'rc=$?; if [ $rc -ne 0 ]; then say "lab-up failed: removing what it started"; bash scripts/lab-down.sh >/dev/null 2>&1 || true; fi' EXIT

if ! out="$("${COMPOSE[@]}" up -d --no-build "${services[@]}" 2>&1)"; then
  echo "$out" >&2
  if grep -qiE 'overlap|pool' <<<"$out"; then
    fail "LAB_ERR_SUBNET_TAKEN: the lab's subnet $COMET_LAB_SUBNET overlaps a network that already exists" \
      "pick a free one: COMET_LAB_SUBNET=172.30.0.0/16 make lab-up (see docker network ls, ip route)" 3
  fi
  if grep -qiE 'address already in use|port is already allocated' <<<"$out"; then
    fail "LAB_ERR_PORT_TAKEN: a host port of the lab is taken (server $COMET_LAB_SERVER_PORT, Prometheus $COMET_LAB_PROMETHEUS_PORT, Grafana $COMET_LAB_GRAFANA_PORT)" \
      "choose free ones below the ephemeral range, e.g. COMET_LAB_SERVER_PORT=18100 COMET_LAB_PROMETHEUS_PORT=19190 make lab-up" 3
  fi
  fail "LAB_ERR_COMPOSE: '${COMPOSE[*]} up' failed (output above)"
fi

# The tuner is one-shot: wait for it and show what it did (a failure is reported, not fatal: the lab runs untuned).
tuner="$(lab_containers --filter label=comet-lab.role=tuner | head -n1)"
if [ -n "$tuner" ]; then
  code="$(timeout 60 docker wait "$tuner" || echo timeout)"
  docker logs "$tuner" 2>&1 | sed 's/^/  /'
  [ "$code" = 0 ] || say "warning: the tuner exited with $code: host-wide sysctls may not be applied (make doctor)"
fi

server="$(lab_containers --filter label=comet-lab.role=server | head -n1)"
[ -n "$server" ] || fail "LAB_ERR_COMPOSE: compose started no server container"
deadline=$((SECONDS + ${COMET_LAB_READY_TIMEOUT:-60}))
until docker logs "$server" 2>/dev/null | grep -q '^comet-lab server ready'; do
  if [ "$(docker inspect -f '{{.State.Running}}' "$server")" != true ]; then
    docker logs --tail 30 "$server" >&2 || true
    fail "LAB_ERR_SERVER_EXITED: the server container exited before it was ready (log above)"
  fi
  [ $SECONDS -lt $deadline ] || { docker logs --tail 30 "$server" >&2; fail "LAB_ERR_SERVER_TIMEOUT: no ready line from the server"; }
  sleep 0.5
done
trap - EXIT

say "lab '$COMET_LAB_PROJECT' is up on $COMET_LAB_SUBNET"
say "  server      $COMET_LAB_SERVER_IP:8000 (host: http://127.0.0.1:$COMET_LAB_SERVER_PORT)"
say "  prometheus  http://127.0.0.1:$COMET_LAB_PROMETHEUS_PORT ($prom)"
if [ "$COMET_LAB_GRAFANA_SCALE" = 1 ]; then say "  grafana     http://127.0.0.1:$COMET_LAB_GRAFANA_PORT (anonymous viewer; admin password in $COMET_LAB_PROJECT_STATE/grafana-password)"; else say "  grafana     not started (no image)"; fi
say "  admin token for send/broadcast: $COMET_LAB_PROJECT_STATE/admin-token (root only; make flood carries it)"
say "next: make flood N=100000 (uses these containers), make lab-down"
