/** Number formatting for the doctor's sentences: 1,000,000 and 2.2 GiB read faster than 1000000 and 2362556416. */

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return 'unlimited';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}
