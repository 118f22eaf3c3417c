/**
 * Another RFC 6455 client no one here wrote: Chromium's WebSocket (Debian's chromium driven by playwright-core, no
 * browser download), against the raw engine's hand-written handshake and framing and the http engine's `ws`
 * library. What a browser user relies on: the welcome, heartbeats, a routed message, and a clean close (1000,
 * wasClean). Chromium offers permessage-deflate; the lean engines decline it by not answering it. About 5 s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { request, startServerProcess, type ServerProcess } from '../test-helpers.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let context: BrowserContext;
let userData = '';
before(async () => {
  userData = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-chromium-ws-'));
  context = await chromium.launchPersistentContext(userData, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
after(async () => {
  await context?.close();
  await rm(userData, { recursive: true, force: true });
});

for (const engine of ['raw', 'http']) {
  test(`Chromium's WebSocket on the ${engine} engine: welcome, heartbeats, a routed message, a clean close`, { timeout: 60_000 }, async () => {
    const server: ServerProcess = await startServerProcess(['--engine', engine, '--workers', '1', '--interval', '200ms'], { COMET_ADMIN_TOKEN: '' });
    const page = await context.newPage();
    try {
      // a page of the server's own origin: Chromium's local-network checks refuse loopback from about:blank
      await page.goto(`${server.url}/health`);
      const url = `ws://127.0.0.1:${server.port}/ws/browser`;
      await page.evaluate((u) => {
        const g = globalThis as any;
        g.got = [];
        g.wsClosed = null;
        g.ws = new WebSocket(u);
        g.ws.onmessage = (e: { data: unknown }) => g.got.push(typeof e.data === 'string' ? e.data : 'binary!');
        g.ws.onclose = (e: { code: number; wasClean: boolean }) => (g.wsClosed = { code: e.code, wasClean: e.wasClean });
      }, url);
      await page.waitForFunction(() => (globalThis as any).got.includes('Chunk 2 for ID browser'), undefined, { timeout: 10_000 });
      const sent = await request(`${server.url}/send/browser`, { method: 'POST', body: 'to the browser', headers: { 'content-type': 'text/plain' } });
      assert.equal(sent.status, 200, sent.body);
      await page.waitForFunction(() => (globalThis as any).got.some((t: string) => t.endsWith(' to the browser')), undefined, { timeout: 10_000 });
      const got = (await page.evaluate(() => (globalThis as any).got)) as string[];
      assert.deepEqual(got.slice(0, 3), ['Welcome to comet-lab, browser', 'Chunk 1 for ID browser', 'Chunk 2 for ID browser']);
      assert.match(got.find((t) => t.endsWith(' to the browser'))!, /^@\d+\.\d{3} to the browser$/);
      await page.evaluate(() => (globalThis as any).ws.close(1000, 'bye'));
      await page.waitForFunction(() => (globalThis as any).wsClosed !== null, undefined, { timeout: 10_000 });
      assert.deepEqual(await page.evaluate(() => (globalThis as any).wsClosed), { code: 1000, wasClean: true });
    } finally {
      await page.close();
      await server.stop();
    }
  });
}
