import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Hex-encoded SHA-256 digest of a string or buffer. */
export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Random hex identifier made of `bytes` random bytes (default 8 → 16 hex chars). */
export function randomId(bytes = 8): string {
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw new RangeError(`randomId: bytes must be a positive integer, got ${bytes}`);
  }
  return randomBytes(bytes).toString("hex");
}

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
