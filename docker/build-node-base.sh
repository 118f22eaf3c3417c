#!/usr/bin/env bash
# Builds comet-lab/node-base:24 offline: the project's own Node 24 binary (node_modules/node/bin/node) and the
# libraries it links, in a minimal root filesystem, `docker import`ed. Used as BASE_IMAGE when node:24-bookworm-slim
# cannot be pulled. It has no shell: the lab's Dockerfiles only COPY, and every entrypoint is `node`.
# Rebuilds only when the binary changed (label comet-lab.source = node version + size). Prints the image tag.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/rootfs-lib.sh

tag="${1:-comet-lab/node-base:24}"
node_bin="$(readlink -f node_modules/node/bin/node)"
[ -x "$node_bin" ] || { echo "comet-lab: $node_bin missing: run npm ci first" >&2; exit 1; }
source="rootfs2-node-$("$node_bin" --version)-$(stat -c %s "$node_bin")"
if [ "$(image_source "$tag")" = "$source" ]; then
  echo "$tag"
  exit 0
fi

root="$(mktemp -d /tmp/comet-lab-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
rootfs_add_binary "$root" "$node_bin" /usr/local/bin/node
rootfs_add_etc "$root"
mkdir -p "$root/app"
# The same environment the official node image sets, so the Dockerfiles work on either base.
rootfs_import "$root" "$tag" "$source" \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change "ENV NODE_VERSION=$("$node_bin" --version | tr -d v)" \
  --change 'CMD ["node"]'
echo "$tag"
