// Helpers shared by the Node-driven end-to-end tests (ui/e2e and tests/native).
import { createServer } from "node:net";

/** A TCP port that was free on loopback a moment ago. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on("error", fail);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
