// A static file server on 127.0.0.1 for the inspector page and the browser
// tests. URLs mirror host-wasm/ (the page is /www/, the web build /pkg/web/,
// the shared runner /tests/), plus the project's vectors under /vectors/.
// Usage: node host-wasm/serve.mjs [port]

import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const MOUNTS = [
  ["/www/", join(here, "www")],
  ["/pkg/web/", join(here, "pkg", "web")],
  ["/tests/", join(here, "tests")],
  ["/vectors/", join(here, "..", "spec-tests", "vectors")],
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/** The file a URL path names, or `null` (also for a malformed path; dot files and node_modules are never served). */
function resolve(pathname) {
  const mount = MOUNTS.find(([prefix]) => pathname.startsWith(prefix));
  if (!mount) return null;
  try {
    const parts = decodeURIComponent(pathname.slice(mount[0].length)).split("/");
    if (parts.some((p) => p.startsWith(".") || p === "node_modules")) return null;
    const file = join(mount[1], ...parts);
    const stat = statSync(file);
    if (stat.isDirectory()) return statSync(join(file, "index.html")).isFile() ? join(file, "index.html") : null;
    return stat.isFile() ? file : null;
  } catch {
    return null;
  }
}

/** Starts the server on 127.0.0.1 (`port` 0 picks a free one); resolves to its base URL and the server. */
export function serve(port = 0) {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url, "http://127.0.0.1");
    if (pathname === "/") {
      response.writeHead(302, { location: "/www/" }).end();
      return;
    }
    const file = request.method === "GET" ? resolve(pathname) : null;
    if (!file) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    response.writeHead(200, { "content-type": type, "cache-control": "no-store" });
    createReadStream(file).pipe(response);
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      done({ server, url: `http://127.0.0.1:${server.address().port}` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8780));
  console.log(`solarwire inspector: ${url}/www/  (Ctrl+C stops)`);
}
