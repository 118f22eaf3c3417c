/**
 * The line a lab process prints once it serves: `comet-lab <kind> ready {json}` (the server, the load generator,
 * the mochiweb target's VMs, the swarm gateway). The CLIs print it, the backends and the tests wait for it: one
 * spelling of the line and one reading of its JSON, here.
 */

/** Who prints a ready line. */
export type ReadyKind = 'server' | 'loadgen' | 'mochiweb' | 'gateway';

/** What `kind`'s ready line starts with: `comet-lab <kind> ready ` (the space included). */
export function readyPrefix(kind: ReadyKind): string {
  return `comet-lab ${kind} ready `;
}

/** `kind`'s ready line carrying `info` (no newline). */
export function readyLine(kind: ReadyKind, info: object): string {
  return `${readyPrefix(kind)}${JSON.stringify(info)}`;
}

/**
 * The JSON object after `prefix` when `line` starts with it (a `readyPrefix(kind)`, or a test tool's own such as
 * `hold-server ready `); undefined for any other line. Throws a SyntaxError naming the line when what follows the
 * prefix is not a JSON object.
 */
export function parseReadyLine<T = Record<string, unknown>>(line: string, prefix: string): T | undefined {
  if (!line.startsWith(prefix)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(line.slice(prefix.length));
  } catch {
    json = undefined;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SyntaxError(`a ready line that is not a JSON object: ${line}`);
  return json as T;
}
