/**
 * The doctor's report: every finding of assessCapacity next to the profile's value for its setting, plus the
 * profile's other settings, and the verdict (largest N as it stands and what limits it). Pure: rendering is separate.
 */
import { assessCapacity, type CapacityAssessment, type CapacityOptions, type Finding } from './capacity.ts';
import type { HostLimits } from './host-limits.ts';
import type { Profile } from './profile.ts';
import { readSysctl } from './sysctl.ts';
import { fmtInt } from './format.ts';

export interface DoctorRow extends Finding {
  /** The profile's value for this row's setting, when the profile sets it. */
  profileValue?: string;
  /** The current value equals the profile's (undefined when the profile does not set it or it is absent). */
  matchesProfile?: boolean;
}

export interface DoctorReport extends Omit<CapacityAssessment, 'findings'> {
  profile: string;
  rows: DoctorRow[];
  /** One sentence: the largest N as it stands and what limits it. */
  verdict: string;
}

/** Builds the report; `readCurrent` reads a sysctl by key (the real /proc/sys by default). */
export function buildDoctorReport(
  limits: HostLimits,
  profile: Profile,
  options: CapacityOptions,
  readCurrent: (key: string) => string | undefined = readSysctl,
): DoctorReport {
  const { findings, ...assessment } = assessCapacity(limits, options);
  const byKey = new Map(profile.settings.map((s) => [s.key, s]));
  const rows: DoctorRow[] = findings.map((f) => {
    const s = f.key ? byKey.get(f.key) : undefined;
    if (!s || !f.key) return f;
    const current = readCurrent(f.key);
    return { ...f, profileValue: s.value, ...(current === undefined ? {} : { matchesProfile: current === s.value }) };
  });
  const shown = new Set(findings.map((f) => f.key).filter(Boolean));
  for (const s of profile.settings) {
    if (shown.has(s.key)) continue;
    const current = readCurrent(s.key);
    rows.push({
      id: `profile:${s.key}`,
      key: s.key,
      title: s.key.split('.').pop()!,
      current: current ?? 'absent',
      severity: 'info',
      meaning: s.reason,
      profileValue: s.value,
      ...(current === undefined ? {} : { matchesProfile: current === s.value }),
    });
  }
  const binding = rows.find((r) => r.id === assessment.limitedBy);
  const verdict =
    `largest N this host holds as it stands: ${fmtInt(assessment.maxN)}, limited by ${binding?.title ?? assessment.limitedBy}` +
    `; asked ${fmtInt(assessment.n)}: ${assessment.fits ? 'fits' : 'does NOT fit'}` +
    ` (${fmtInt(assessment.processes.server)} server + ${fmtInt(assessment.processes.loadgen)} load-generator processes)`;
  return { ...assessment, profile: profile.name, rows, verdict };
}
