#!/usr/bin/env bash
# Starts a Docker engine when none answers, and waits (bounded) until `docker info` does. Idempotent: when an engine
# already answers (systemd's, another run's) it only says so. `make lab-up` and the Docker tests call it.
#
# The engine it starts runs with --iptables=false: the lab's traffic stays on its own bridge and needs no NAT, and
# Docker's iptables rules would switch on connection tracking for the whole host, after which every loopback flood
# (the local backend's, other tests') fills the 262144-entry conntrack table and starts dropping packets.
# Published ports (Prometheus, Grafana) still work for the host through docker-proxy.
# Override with COMET_LAB_DOCKERD_ARGS (replaces the extra flags) and COMET_LAB_DOCKERD_WAIT (seconds, default 60).
set -euo pipefail

wait_s="${COMET_LAB_DOCKERD_WAIT:-60}"
log="${COMET_LAB_DOCKERD_LOG:-/var/log/comet-lab-dockerd.log}"
extra="${COMET_LAB_DOCKERD_ARGS:---iptables=false --ip-masq=false}"

answers() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  echo "comet-lab: LAB_ERR_NO_DOCKER: docker/dockerd not installed (run: bash scripts/install-system-deps.sh as root)" >&2
  exit 3
fi
if answers; then
  echo "comet-lab: Docker engine already running ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "comet-lab: LAB_ERR_NO_DOCKER: no Docker engine answers and starting one needs root" >&2
  exit 3
fi

# A dockerd may be starting already (another test, another make): wait for it rather than start a second one.
pidfile=/var/run/docker.pid
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "comet-lab: dockerd (pid $(cat "$pidfile")) is starting; waiting up to ${wait_s}s"
else
  # flock: two callers at once start one engine.
  exec 9>/var/lock/comet-lab-dockerd.lock
  flock -w "$wait_s" 9
  if answers; then echo "comet-lab: Docker engine already running"; exit 0; fi
  if ! { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
    mkdir -p "$(dirname "$log")"
    echo "comet-lab: starting dockerd (log: $log)"
    # setsid + nohup: the engine outlives this script and the make/test that called it.
    # shellcheck disable=SC2086
    setsid nohup dockerd --storage-driver=overlay2 $extra >>"$log" 2>&1 </dev/null 9>&- &
  fi
fi

deadline=$((SECONDS + wait_s))
until answers; do
  if [ $SECONDS -ge $deadline ]; then
    echo "comet-lab: LAB_ERR_NO_DOCKER: dockerd did not answer within ${wait_s}s; last lines of $log:" >&2
    tail -n 15 "$log" >&2 || true
    exit 3
  fi
  sleep 0.5
done
echo "comet-lab: Docker engine ready ($(docker info --format '{{.ServerVersion}} {{.Driver}} cgroup {{.CgroupVersion}}' 2>/dev/null))"
