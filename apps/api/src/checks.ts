import * as net from "node:net";
import { Client } from "pg";

const CHECK_TIMEOUT_MS = 2000;

export type CheckResult =
  | { configured: false }
  | { configured: true; host: string; port: number; reachable: boolean; latencyMs: number; error?: string };

export function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw ? Number.parseInt(raw, 10) : NaN;
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // AggregateError (e.g. ECONNREFUSED on both ::1 and 127.0.0.1) has an empty message.
    const code = (err as NodeJS.ErrnoException).code;
    return err.message || code || err.name;
  }
  return String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function timed(
  host: string,
  port: number,
  probe: () => Promise<void>,
  what: string,
): Promise<CheckResult> {
  const started = Date.now();
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS, what);
    return { configured: true, host, port, reachable: true, latencyMs: Date.now() - started };
  } catch (err) {
    return {
      configured: true,
      host,
      port,
      reachable: false,
      latencyMs: Date.now() - started,
      error: errorMessage(err),
    };
  }
}

export async function checkPostgres(): Promise<CheckResult> {
  const host = process.env.DB_HOST;
  if (!host) return { configured: false };
  const port = envPort("DB_PORT", 5432);
  const client = new Client({
    host,
    port,
    user: process.env.DB_USERNAME,
    password: process.env.DB_PASSWORD,
    database: process.env.DB_DATABASE,
    connectionTimeoutMillis: CHECK_TIMEOUT_MS,
    query_timeout: CHECK_TIMEOUT_MS,
  });
  client.on("error", () => {
    /* reported through the awaited promises below */
  });
  try {
    return await timed(
      host,
      port,
      async () => {
        await client.connect();
        await client.query("SELECT 1");
      },
      "postgres check",
    );
  } finally {
    client.end().catch(() => undefined);
  }
}

function respCommand(...args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

function redisPing(host: string, port: number, password: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const expected: string[] = [];
    let payload = "";
    if (password) {
      payload += respCommand("AUTH", password);
      expected.push("+OK");
    }
    payload += respCommand("PING");
    expected.push("+PONG");

    let buffer = "";
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(CHECK_TIMEOUT_MS, () =>
      finish(new Error(`redis check timed out after ${CHECK_TIMEOUT_MS} ms`)),
    );
    socket.on("connect", () => socket.write(payload));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let idx: number;
      while ((idx = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const want = expected.shift();
        if (line !== want) {
          finish(new Error(`unexpected redis reply ${JSON.stringify(line)} (expected ${want})`));
          return;
        }
        if (expected.length === 0) {
          finish();
          return;
        }
      }
    });
    socket.on("error", (err) => finish(err));
    socket.on("close", () => finish(new Error("redis connection closed before PONG")));
  });
}

export async function checkRedis(): Promise<CheckResult> {
  const host = process.env.REDIS_HOST;
  if (!host) return { configured: false };
  const port = envPort("REDIS_PORT", 6379);
  return timed(
    host,
    port,
    () => redisPing(host, port, process.env.REDIS_PASSWORD || undefined),
    "redis check",
  );
}
