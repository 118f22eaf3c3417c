/** The periodic line: the seed's `{Active, Closed, Chunks}` triple, then errors by cause (and WebSocket close codes), messages and latency. */
import { ERROR_CAUSES, type LoadgenStatus } from '../shared/contracts.ts';

const f = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

export function reportLine(s: LoadgenStatus): string {
  const atStop = (s as LoadgenStatus & { activeAtStop?: number }).activeAtStop;
  const errors = ERROR_CAUSES.filter((c) => s.errors[c] > 0)
    .map((c) => `${c}=${s.errors[c]}`)
    .join(' ');
  const codes = Object.entries(s.wsCloseCodes ?? {}).map(([code, n]) => `${code}=${n}`);
  const closes = codes.length > 0 ? ` ws close codes: ${codes.join(' ')}` : '';
  const l = s.latencyMs;
  const latency = l.count > 0 ? `latency ms p50=${f(l.p50)} p90=${f(l.p90)} p99=${f(l.p99)} max=${f(l.max)}` : 'latency -';
  return (
    `{Active, Closed, Chunks} = {${s.active}, ${s.closed}, ${s.chunks}}  ` +
    `${atStop === undefined ? '' : `held at stop=${atStop} `}connecting=${s.connecting} target=${s.target} messages=${s.messages} ` +
    `errors: ${errors || 'none'}${closes}  ${latency}`
  );
}
