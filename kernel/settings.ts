/**
 * The sysctls a profile may set, with their scope and the values the kernel accepts. A profile naming anything else
 * is refused: a typo must not pass as "absent in this kernel". Scope is what Linux 6.x does: `netns` settings have a
 * copy per network namespace (settable per container), `host` settings are shared by the whole machine (and are
 * absent or read-only inside a namespace).
 */

export type Scope = 'netns' | 'host';

export interface SettingSpec {
  scope: Scope;
  /** How many integers the value holds (0: a port list like "8080,9000-9100"). */
  count: number;
  min: number;
  max: number;
  /** The integers must not decrease (tcp_mem, tcp_rmem, tcp_wmem) or must rise (port range low < high). */
  order?: 'nondecreasing' | 'increasing';
}

const INT_MAX = 2 ** 31 - 1;
const LONG_MAX = Number.MAX_SAFE_INTEGER;

const spec = (scope: Scope, count: number, min: number, max: number, order?: SettingSpec['order']): SettingSpec =>
  order ? { scope, count, min, max, order } : { scope, count, min, max };

export const SETTINGS: Readonly<Record<string, SettingSpec>> = Object.freeze({
  'fs.file-max': spec('host', 1, 1024, LONG_MAX),
  'fs.nr_open': spec('host', 1, 1024, 1_073_741_816), // kernel ceiling: INT_MAX rounded down to the fd bitmap word
  'kernel.sched_autogroup_enabled': spec('host', 1, 0, 1),
  'net.core.somaxconn': spec('netns', 1, 1, INT_MAX),
  'net.core.netdev_max_backlog': spec('host', 1, 1, INT_MAX),
  'net.core.rmem_max': spec('host', 1, 4096, INT_MAX),
  'net.core.wmem_max': spec('host', 1, 4096, INT_MAX),
  'net.core.rmem_default': spec('host', 1, 4096, INT_MAX),
  'net.core.wmem_default': spec('host', 1, 4096, INT_MAX),
  'net.ipv4.ip_local_port_range': spec('netns', 2, 1, 65535, 'increasing'),
  'net.ipv4.ip_local_reserved_ports': spec('netns', 0, 0, 65535),
  'net.ipv4.tcp_max_syn_backlog': spec('netns', 1, 1, INT_MAX),
  'net.ipv4.tcp_mem': spec('host', 3, 1, LONG_MAX, 'nondecreasing'),
  'net.ipv4.tcp_rmem': spec('netns', 3, 1, INT_MAX, 'nondecreasing'),
  'net.ipv4.tcp_wmem': spec('netns', 3, 1, INT_MAX, 'nondecreasing'),
  'net.ipv4.tcp_tw_reuse': spec('netns', 1, 0, 2),
  'net.ipv4.tcp_fin_timeout': spec('netns', 1, 1, INT_MAX),
  'net.ipv4.tcp_max_tw_buckets': spec('netns', 1, 0, INT_MAX),
  'net.ipv4.tcp_max_orphans': spec('host', 1, 0, INT_MAX),
  'net.ipv4.tcp_syncookies': spec('netns', 1, 0, 2),
  'net.ipv4.tcp_moderate_rcvbuf': spec('netns', 1, 0, 1),
  'net.netfilter.nf_conntrack_max': spec('host', 1, 0, INT_MAX),
  'net.netfilter.nf_conntrack_tcp_timeout_established': spec('netns', 1, 1, INT_MAX),
  'vm.min_free_kbytes': spec('host', 1, 128, INT_MAX),
  'vm.swappiness': spec('host', 1, 0, 200),
});

/** Problems with one value for a known key ([] when the kernel would accept it). */
export function checkValue(key: string, value: string): string[] {
  const s = SETTINGS[key];
  if (!s) return [`unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(', ')})`];
  if (s.count === 0) return checkPortList(key, value);
  const parts = value.split(/\s+/).filter(Boolean);
  if (parts.length !== s.count) return [`${key} takes ${s.count} integer(s), got ${parts.length}: "${value}"`];
  const problems: string[] = [];
  const nums = parts.map(Number);
  parts.forEach((p, i) => {
    if (!/^\d+$/.test(p)) problems.push(`${key}: "${p}" is not a non-negative integer`);
    else if (nums[i] < s.min || nums[i] > s.max) problems.push(`${key}: ${p} is out of range ${s.min}..${s.max}`);
  });
  if (problems.length === 0 && s.order) {
    for (let i = 1; i < nums.length; i++) {
      const bad = s.order === 'increasing' ? nums[i] <= nums[i - 1] : nums[i] < nums[i - 1];
      if (bad) problems.push(`${key}: values must ${s.order === 'increasing' ? 'rise' : 'not decrease'}: "${value}"`);
    }
  }
  return problems;
}

function checkPortList(key: string, value: string): string[] {
  if (value === '') return [];
  const problems: string[] = [];
  for (const part of value.split(',')) {
    const m = part.match(/^(\d+)(?:-(\d+))?$/);
    const a = Number(m?.[1]);
    const b = Number(m?.[2] ?? m?.[1]);
    if (!m) problems.push(`${key}: "${part}" is not a port or a range like 9000-9100`);
    else if (a < 1 || b > 65535 || a > b) problems.push(`${key}: "${part}" is out of range 1..65535 or reversed`);
  }
  return problems;
}
