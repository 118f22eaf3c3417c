/**
 * Where connections go: a URL template (`http://host:8000/test/{i}`, `{i}` replaced by the connection's index;
 * `ws://host:8000/ws/{i}` for WebSocket) or a file of URLs, one per line (the seed's /tmp/mochi-urls.txt). Hosts are resolved once, at start: the raw TCP layer
 * connects to addresses. Connection index `i` uses the template with `i`, or line `i` of the file (wrapping around).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface Target {
  address: string; // IP the connection goes to
  port: number;
  host: string; // Host header value
  path: string; // path and query, `{i}` already replaced
}

export interface TargetSet {
  /** How many distinct URLs (a template has unlimited; reported as 0). */
  readonly urls: number;
  at(index: number): Target;
}

/** A problem line of a URL file: counted and reported, never fatal unless no line is usable. */
export interface BadUrlLine {
  line: number;
  text: string;
  reason: string;
}

export interface UrlFileContents {
  urls: URL[];
  blank: number;
  comments: number;
  bad: BadUrlLine[];
}

/** Checks one URL string; returns the reason it cannot be used, or undefined. */
export function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'ws:') return `scheme ${url.protocol.replace(':', '')} is not supported (plain http and ws only)`;
  if (url.hostname === '') return 'no host';
  return undefined;
}

/** Parses a URL file's text: blank lines and `#` comments are skipped and counted; bad lines are listed. */
export function parseUrlFile(text: string): UrlFileContents {
  const out: UrlFileContents = { urls: [], blank: 0, comments: 0, bad: [] };
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, k) => {
    const line = raw.trim();
    if (line === '') out.blank++;
    else if (line.startsWith('#')) out.comments++;
    else {
      const problem = urlProblem(line);
      if (problem === undefined) out.urls.push(new URL(line));
      else out.bad.push({ line: k + 1, text: line.length > 80 ? `${line.slice(0, 77)}...` : line, reason: problem });
    }
  });
  return out;
}

function portOf(url: URL): number {
  return url.port === '' ? 80 : Number(url.port);
}

async function resolveHost(hostname: string): Promise<string> {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0) return bare;
  const { address } = await lookup(bare, { family: 4 });
  return address;
}

/** A template target set; the template is checked with `{i}` = 0. */
export async function templateTargets(template: string): Promise<TargetSet> {
  const probe = new URL(template.replaceAll('{i}', '0'));
  const address = await resolveHost(probe.hostname);
  const port = portOf(probe);
  const host = probe.host;
  // Keep the path template as typed (URL() would percent-encode the braces).
  const afterHost = template.slice(template.indexOf('//') + 2);
  const slash = afterHost.indexOf('/');
  const pathTemplate = slash < 0 ? '/' : afterHost.slice(slash);
  const [before, ...rest] = pathTemplate.split('{i}');
  const after = rest.join('{i}');
  const hasIndex = rest.length > 0;
  return {
    urls: 0,
    at: (index) => ({ address, port, host, path: hasIndex ? `${before}${index}${after}` : pathTemplate }),
  };
}

/** A target set over a URL file's URLs (resolved once per distinct host). */
export async function fileTargets(urls: URL[]): Promise<TargetSet> {
  const resolved = new Map<string, string>();
  for (const url of urls) if (!resolved.has(url.hostname)) resolved.set(url.hostname, await resolveHost(url.hostname));
  const targets: Target[] = urls.map((url) => ({
    address: resolved.get(url.hostname)!,
    port: portOf(url),
    host: url.host,
    path: `${url.pathname}${url.search}`,
  }));
  return { urls: targets.length, at: (index) => targets[index % targets.length]! };
}
