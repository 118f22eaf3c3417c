#!/usr/bin/env bash
# `make lab-down`: removes everything the Docker lab made: the load-generator containers the orchestrator created
# (Compose does not know them, so `compose down` alone would leave them and keep the network busy), the compose
# stack, its network and its volume; then puts back the host-wide sysctls the tuner replaced (and says which) and
# removes the lab's secrets. Never starts an engine; says so when there was nothing to take down.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/lab-env.sh

say() { echo "comet-lab: $*"; }
# Compose insists on these being set even to take the stack down (lab-up sets the real ones).
export COMET_ADMIN_TOKEN="${COMET_ADMIN_TOKEN:-unused}" COMET_LAB_GRAFANA_PASSWORD="${COMET_LAB_GRAFANA_PASSWORD:-unused}"
saved="$COMET_LAB_PROJECT_STATE/sysctl-saved.json"

# restore_sysctls: the tuner's saved values back on this host. The state file is in the host's network namespace
# (the tuner runs with network_mode: host), so kernel/cli.ts untune restores it here with the same semantics as
# `make untune`; it keeps what it could not restore and says so.
restore_sysctls() {
  [ -s "$saved" ] || return 0
  say "restoring the host-wide sysctls lab-up replaced ($saved)"
  if node_modules/.bin/node kernel/cli.ts untune --state "$saved" | sed 's/^/  /'; then
    [ -e "$saved" ] || rm -rf "$COMET_LAB_PROJECT_STATE"
  else
    say "LAB_ERR_UNTUNE: some values could not be restored; they are still in $saved (make untune ... --state $saved)"
    return 1
  fi
}

if ! engine_answers; then
  say "no Docker engine is running: no lab to take down"
  restore_sysctls
  exit 0
fi

# The swarm lab (make lab-up BACKEND=swarm): its services, gateway, configs, network and every node's tuning.
# BACKEND=swarm takes down only that; without BACKEND both kinds go, the swarm part only where the engine manages one.
case "${COMET_LAB_BACKEND:-}" in
  swarm)
    node_modules/.bin/node orchestrator/backends/swarm/swarm-lab-cli.ts down || exit $?
    # The lab's secrets (the swarm keeps its tuning state on each node, not here): gone with the lab.
    rm -f "$COMET_LAB_PROJECT_STATE/admin-token" "$COMET_LAB_PROJECT_STATE/grafana-password"
    rmdir "$COMET_LAB_PROJECT_STATE" 2>/dev/null || true
    exit 0 ;;
  docker) ;;
  *) node_modules/.bin/node orchestrator/backends/swarm/swarm-lab-cli.ts down --if-swarm || exit $? ;;
esac

network="${COMET_LAB_PROJECT}_lab"
volume="${COMET_LAB_PROJECT}_prometheus-data"
mapfile -t ids < <(lab_containers)
has_network=$(docker network inspect "$network" >/dev/null 2>&1 && echo 1 || echo 0)
has_volume=$(docker volume inspect "$volume" >/dev/null 2>&1 && echo 1 || echo 0)
if [ ${#ids[@]} -eq 0 ] && [ "$has_network" = 0 ] && [ "$has_volume" = 0 ]; then
  say "the lab '$COMET_LAB_PROJECT' is not up: nothing to take down"
  restore_sysctls
  rm -rf "$COMET_LAB_PROJECT_STATE" "$COMET_LAB_TARGETS_DIR"
  exit 0
fi

# The orchestrator's containers first (label comet-lab.lab=<project>), then Compose's.
mapfile -t extra < <(docker ps -aq --filter "label=comet-lab.lab=$COMET_LAB_PROJECT")
if [ ${#extra[@]} -gt 0 ]; then
  say "removing ${#extra[@]} load-generator container(s)"
  docker rm -f "${extra[@]}" >/dev/null
fi
if [ ${#COMPOSE[@]} -gt 0 ]; then
  "${COMPOSE[@]}" down -v --remove-orphans --timeout 10 2>&1 | sed 's/^/  /' || true
fi
# Whatever Compose could not remove (no compose installed, a container it did not know): by hand.
mapfile -t rest < <(lab_containers)
[ ${#rest[@]} -eq 0 ] || docker rm -f "${rest[@]}" >/dev/null
docker network rm "$network" >/dev/null 2>&1 || true
docker volume rm "$volume" >/dev/null 2>&1 || true

left="$(lab_containers | wc -l)"
if [ "$left" -ne 0 ] || docker network inspect "$network" >/dev/null 2>&1; then
  say "LAB_ERR_LAB_DOWN: could not remove everything (containers: $left, network $network); see docker ps -a"
  exit 1
fi
say "lab '$COMET_LAB_PROJECT' is down: containers, network $network and volume removed"
restore_sysctls
rm -rf "$COMET_LAB_PROJECT_STATE" "$COMET_LAB_TARGETS_DIR"
