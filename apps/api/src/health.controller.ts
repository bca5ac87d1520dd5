import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Controller, Get, Header, Query, ServiceUnavailableException } from "@nestjs/common";
import { randomId } from "@cipherbox/crypto";
import { checkPostgres, checkRedis } from "./checks";

const SERVICE = "@cipherbox/api";

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

const VERSION = readVersion();
const INSTANCE = randomId(8);

@Controller("health")
export class HealthController {
  // GET (and HEAD, which express answers from the GET route without a body).
  @Get()
  @Header("cache-control", "no-store")
  async health(@Query("strict") strictParam?: string) {
    const strict = strictParam === "1" || strictParam === "true";
    const [postgres, redis] = await Promise.all([checkPostgres(), checkRedis()]);
    const checks = { postgres, redis };
    const degraded = Object.values(checks).some((c) => c.configured && !c.reachable);
    const failing = strict && degraded;
    const body = {
      // "ok" means the API itself is up; `degraded` flags unreachable dependencies.
      status: failing ? "unavailable" : "ok",
      degraded,
      service: SERVICE,
      version: VERSION,
      instance: INSTANCE,
      checks,
    };
    if (failing) throw new ServiceUnavailableException(body);
    return body;
  }
}
