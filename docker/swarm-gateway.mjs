// The swarm backend's way in from the manager host to the overlay network (no published ports: the routing mesh
// needs IPVS, which this kind of kernel lacks). A container on the manager's engine, attached to the host's bridge
// and to the lab's overlay, forwards TCP: each `port=address:port` pair of GW_MAP listens on the container's bridge
// address and connects to that task on the overlay. That address is reachable from the manager host and from every
// container on the engine's default bridge, not from other hosts (no port is published). The tokens still guard
// control (a load generator's ramp/stop, the server's send/broadcast); the server's /stats and a load generator's
// /status answer anyone who reaches them. Plain JavaScript: the
// swarm backend passes this file's text to `node -e` in the load-generator image, so no image of its own is needed.
import net from 'node:net';
import os from 'node:os';

const overlay = process.env.GW_OVERLAY_PREFIX ?? '';
const pairs = (process.env.GW_MAP ?? '').split(',').filter(Boolean).map((p) => {
  const [listen, target] = p.split('=');
  const i = target.lastIndexOf(':');
  return { listen: Number(listen), host: target.slice(0, i), port: Number(target.slice(i + 1)) };
});
const address = Object.values(os.networkInterfaces()).flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith(overlay))?.address;
if (!address) {
  console.error('gateway: no bridge address outside the overlay');
  process.exit(1);
}
let listening = 0;
for (const p of pairs) {
  const server = net.createServer((inbound) => {
    const outbound = net.connect(p.port, p.host);
    inbound.pipe(outbound).pipe(inbound);
    const close = () => { inbound.destroy(); outbound.destroy(); };
    inbound.on('error', close);
    outbound.on('error', close);
    inbound.on('close', close);
    outbound.on('close', close);
  });
  server.listen(p.listen, address, () => {
    if (++listening === pairs.length) console.log(`comet-lab gateway ready ${JSON.stringify({ address, ports: pairs.length })}`);
  });
}
process.on('SIGTERM', () => process.exit(0));
