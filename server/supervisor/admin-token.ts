/**
 * The admin token check every API path makes (api-app.ts, fast-sends.ts, lean-api.ts): the Authorization header
 * and `Bearer <token>` compared as SHA-256 digests in constant time, so the time taken says nothing about how much
 * of a guess was right (the digests have one length whatever the header's).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A check of an Authorization header against `adminToken`; with no token set every request passes. */
export function bearerCheck(adminToken: string | undefined): (authorization: string | undefined) => boolean {
  if (adminToken === undefined) return () => true;
  const want = digest(`Bearer ${adminToken}`);
  return (authorization) => timingSafeEqual(digest(authorization ?? ''), want);
}
