/** Number formatting shared by the results file and the README table. KB = 1,024 bytes throughout. */
export const fmtInt = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en-US'));
export const kb = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 1024).toFixed(2)} KB`);
export const mib = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
export const pct = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? 'n/a' : `${(r * 100).toFixed(1)}%`);
export const ms = (v: number | undefined, digits = 0): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(digits)} ms`);
export const verdict = (met: boolean | null): string => (met === null ? 'not measured' : met ? 'met' : 'MISSED');
