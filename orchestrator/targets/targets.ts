/**
 * From the text of `--target` (or one name of `compare --targets`) to a Target: the four built-in names and the
 * three prefixes. `targetProblems` checks the text alone (no I/O) so that config validation reports it with every
 * other problem before anything starts; `makeTarget` builds the target, whose preflight() then checks the world.
 */
import { cmdProblem, cmdTarget } from './cmd.ts';
import { cometLabTarget } from './comet-lab.ts';
import { imageTarget } from './image.ts';
import { mochiwebTarget } from './mochiweb.ts';
import { nchanTarget } from './nchan.ts';
import { nginxIdleTarget } from './nginx-idle.ts';
import type { Target } from './target.ts';
import { parseUrlTemplate, urlTarget } from './url.ts';

export const BUILT_IN_TARGETS = {
  'comet-lab': cometLabTarget,
  nchan: nchanTarget,
  'nginx-idle': nginxIdleTarget,
  mochiweb: mochiwebTarget,
} as const;

export const TARGET_FORMS = `${Object.keys(BUILT_IN_TARGETS).join(', ')}, cmd:'<command with {port}>', image:<name>, url:<template>`;

export interface TargetOptions {
  serverPid?: number;
  serverContainer?: string;
  /** cmd: how long its server gets to listen (default 30 s). */
  readySeconds?: number;
}

function prefixed(text: string): { prefix: 'cmd' | 'image' | 'url'; rest: string } | undefined {
  const m = /^(cmd|image|url):([\s\S]*)$/.exec(text);
  return m ? { prefix: m[1] as 'cmd' | 'image' | 'url', rest: m[2]! } : undefined;
}

/** Everything wrong with a target's text and the flags that go with it; empty when it can be built. */
export function targetProblems(text: string, opts: TargetOptions = {}): string[] {
  const problems: string[] = [];
  const p = prefixed(text);
  if (!p && !(text in BUILT_IN_TARGETS)) problems.push(`unknown target '${text}': use one of ${TARGET_FORMS}`);
  if (p?.prefix === 'cmd') {
    const why = cmdProblem(p.rest);
    if (why) problems.push(why);
  }
  if (p?.prefix === 'image' && !/^[a-z0-9][A-Za-z0-9_.\/:@-]*$/.test(p.rest)) problems.push(`image:${p.rest} is not an image name (e.g. image:my-server:latest)`);
  if (p?.prefix === 'url') {
    const parsed = parseUrlTemplate(p.rest);
    if (typeof parsed === 'string') problems.push(parsed);
  }
  if ((opts.serverPid !== undefined || opts.serverContainer !== undefined) && p?.prefix !== 'url') {
    problems.push(`--server-pid and --server-container name the process of a url: target (the lab measures the servers it starts itself), not of '${text}'`);
  }
  if (opts.serverPid !== undefined && opts.serverContainer !== undefined) problems.push('give --server-pid or --server-container, not both');
  return problems;
}

/** The target for `text` (check targetProblems first: this throws on what it reports). */
export function makeTarget(text: string, opts: TargetOptions = {}): Target {
  const p = prefixed(text);
  if (!p) {
    const make = BUILT_IN_TARGETS[text as keyof typeof BUILT_IN_TARGETS];
    if (!make) throw new Error(`unknown target '${text}'`);
    return make();
  }
  if (p.prefix === 'cmd') return cmdTarget(p.rest, opts.readySeconds);
  if (p.prefix === 'image') return imageTarget(p.rest);
  return urlTarget(p.rest, opts);
}
