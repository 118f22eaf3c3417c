#!/usr/bin/env bash
# Builds comet-lab/prometheus-local offline from Debian's /usr/bin/prometheus, laid out like the official
# prom/prometheus image (same entrypoint, config path, data path and user), so docker-compose.yml runs either.
# Rebuilds only when the binary changed. Prints the image tag.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/rootfs-lib.sh

tag="${1:-comet-lab/prometheus-local:latest}"
bin=/usr/bin/prometheus
[ -x "$bin" ] || { echo "comet-lab: $bin missing (apt-get install prometheus)" >&2; exit 1; }
source="rootfs2-prometheus-$(stat -c %s-%Y "$bin")"
if [ "$(image_source "$tag")" = "$source" ]; then
  echo "$tag"
  exit 0
fi

root="$(mktemp -d /tmp/comet-lab-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
rootfs_add_binary "$root" "$bin" /bin/prometheus
rootfs_add_etc "$root"
mkdir -p "$root/etc/prometheus" "$root/usr/share/prometheus" "$root/prometheus"
cp -a /usr/share/prometheus/. "$root/usr/share/prometheus/"
# A config that scrapes only Prometheus itself; the lab mounts dashboards/prometheus over it when present.
printf 'global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ["localhost:9090"]\n' \
  >"$root/etc/prometheus/prometheus.yml"
chown 65534:65534 "$root/prometheus"
rootfs_import "$root" "$tag" "$source" \
  --change 'USER nobody' \
  --change 'WORKDIR /prometheus' \
  --change 'EXPOSE 9090' \
  --change 'ENTRYPOINT ["/bin/prometheus"]' \
  --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/usr/share/prometheus/console_libraries", "--web.console.templates=/usr/share/prometheus/consoles"]'
echo "$tag"
