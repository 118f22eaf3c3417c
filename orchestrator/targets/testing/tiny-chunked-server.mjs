// The targets tests' own server, a server the lab did not write (target.case.test.ts runs it as cmd: and url:,
// image-target.test.ts builds it into an image): any request gets a chunked 200 and a first chunk, then a chunk a
// second. It listens on port argv[2] (else $PORT) of $TINY_SERVER_HOST (default 127.0.0.1) and says so on stdout.
import net from 'node:net';

const open = new Set();
net.createServer((s) => {
  s.on('error', () => undefined);
  s.once('data', () => {
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n');
    open.add(s);
    s.on('close', () => open.delete(s));
  });
}).listen(Number(process.argv[2] ?? process.env.PORT), process.env.TINY_SERVER_HOST ?? '127.0.0.1', () => console.log('tiny server listening'));
setInterval(() => { for (const s of open) s.write('5\r\ntick\n\r\n'); }, 1000);
