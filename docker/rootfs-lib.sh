#!/usr/bin/env bash
# Helpers for building a minimal root filesystem from this host's own binaries, for images that must be made
# without a registry (air-gapped hosts). Sourced by build-node-base.sh and build-prometheus-local.sh.

# rootfs_add_binary ROOT SRC DEST: copies SRC to ROOT/DEST and every shared library it links (as ldd resolves them on
# this host, at the same paths, so the dynamic loader finds them without configuration).
rootfs_add_binary() {
  local root="$1" src="$2" dest="$3"
  install -D -m 0755 "$src" "$root$dest"
  local lib
  # ldd prints "name => /path (addr)" for libraries and "/lib64/ld-linux... (addr)" for the loader itself.
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(ldd "$src" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]+ \(/{print $1}')
}

# rootfs_add_etc ROOT: the few files a process expects to find: users (root, nobody, node 1000), name lookup order,
# and a world-writable /tmp. Docker supplies /etc/hosts and /etc/resolv.conf at run time.
rootfs_add_etc() {
  local root="$1"
  mkdir -p "$root/etc" "$root/tmp" "$root/root"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
}

# rootfs_import ROOT TAG LABEL_VALUE [--change ...]: docker import of ROOT as TAG, labelled comet-lab.source=LABEL_VALUE
# so that a later lab-up can tell whether the image still matches the host's binary.
rootfs_import() {
  local root="$1" tag="$2" source="$3"
  shift 3
  tar -C "$root" --numeric-owner -cf - . | docker import --change "LABEL comet-lab.source=$source" "$@" - "$tag" >/dev/null
}

# image_source TAG: the comet-lab.source label of a local image, empty when the image is absent.
image_source() {
  docker image inspect --format '{{index .Config.Labels "comet-lab.source"}}' "$1" 2>/dev/null || true
}
