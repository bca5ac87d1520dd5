import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { Client } from "pg";
import { randomId } from "@cipherbox/crypto";

const SERVICE = "@cipherbox/api";
const CHECK_TIMEOUT_MS = 2000;

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return process.env.npm_package_version ?? "unknown";
  }
}

const VERSION = readVersion();
const INSTANCE = randomId(8);

type CheckResult =
  | { configured: false }
  | { configured: true; host: string; port: number; reachable: boolean; latencyMs: number; error?: string };

function envPort(name: string, fallback: number): number {
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

async function checkPostgres(): Promise<CheckResult> {
  const host = process.env.DB_HOST;
  if (!host) return { configured: false };
  const port = envPort("DB_PORT", 5432);
  const started = Date.now();
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
    await withTimeout(
      (async () => {
        await client.connect();
        await client.query("SELECT 1");
      })(),
      CHECK_TIMEOUT_MS,
      "postgres check",
    );
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

async function checkRedis(): Promise<CheckResult> {
  const host = process.env.REDIS_HOST;
  if (!host) return { configured: false };
  const port = envPort("REDIS_PORT", 6379);
  const started = Date.now();
  try {
    await withTimeout(
      redisPing(host, port, process.env.REDIS_PASSWORD || undefined),
      CHECK_TIMEOUT_MS,
      "redis check",
    );
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

function sendJson(res: http.ServerResponse, status: number, body: unknown, head = false): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(data),
    "cache-control": "no-store",
  });
  res.end(head ? undefined : data);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/health") {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { error: "method not allowed" });
      return;
    }
    const strictParam = url.searchParams.get("strict");
    const strict = strictParam === "1" || strictParam === "true";
    const [postgres, redis] = await Promise.all([checkPostgres(), checkRedis()]);
    const checks = { postgres, redis };
    const degraded = Object.values(checks).some((c) => c.configured && !c.reachable);
    const failing = strict && degraded;
    sendJson(
      res,
      failing ? 503 : 200,
      {
        // "ok" means the API itself is up; `degraded` flags unreachable dependencies.
        status: failing ? "unavailable" : "ok",
        degraded,
        service: SERVICE,
        version: VERSION,
        instance: INSTANCE,
        checks,
      },
      req.method === "HEAD",
    );
    return;
  }
  sendJson(res, 404, { error: "not found", path: url.pathname });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error("request failed:", err);
    if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
    else res.destroy();
  });
});

const PORT = envPort("PORT", 3000);
server.listen(PORT, "0.0.0.0", () => {
  console.log(`listening on :${PORT}`);
});

let shuttingDown = false;
function shutdown(signal: NodeJS.Signals): void {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`received ${signal}, shutting down`);
  server.close((err) => {
    if (err) {
      console.error("error while closing server:", err);
      process.exit(1);
    }
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error("forced shutdown after 10 s");
    process.exit(1);
  }, 10_000).unref();
}

process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
