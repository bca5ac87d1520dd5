import "reflect-metadata";
import { ConsoleLogger, Logger } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import type { NestExpressApplication } from "@nestjs/platform-express";
import { AppModule } from "./app.module";
import { envPort } from "./checks";

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    // Plain lines for log collectors (no ANSI colours).
    logger: new ConsoleLogger({ colors: false, logLevels: ["log", "warn", "error"] }),
  });
  app.disable("x-powered-by");
  // SIGTERM/SIGINT close the server and the module graph (docker stop, compose down).
  app.enableShutdownHooks();
  const port = envPort("PORT", 3000);
  await app.listen(port, "0.0.0.0");
  new Logger("bootstrap").log(`listening on :${port}`);
}

bootstrap().catch((err) => {
  console.error("failed to start:", err);
  process.exit(1);
});
