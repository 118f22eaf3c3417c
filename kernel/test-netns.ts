/**
 * Network namespaces for the kernel tests: named after the test process, deleted in finally, and swept when a
 * killed run (a timeout, a Ctrl-C) left one behind, so namespaces never pile up on a CI host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { alive } from '../shared/testing/processes.ts';

const PREFIX = 'comet-kernel-';

/** Deletes comet-kernel-*-<pid>* namespaces whose test process is gone. */
export function sweepStaleNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const name of list.split('\n').map((l) => l.split(' ')[0])) {
    const pid = Number(name.match(/^comet-kernel-[a-z]+-(\d+)/)?.[1]);
    if (name.startsWith(PREFIX) && pid && pid !== process.pid && !alive(pid)) spawnSync('ip', ['netns', 'del', name]);
  }
}

/** A fresh namespace name for this process: comet-kernel-<what>-<pid>. */
export function namespaceName(what: string): string {
  return `${PREFIX}${what}-${process.pid}`;
}

/** Creates the namespace (after sweeping stale ones) with loopback up. */
export function addNamespace(name: string): void {
  sweepStaleNamespaces();
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
}

export function deleteNamespace(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
}
