// Fails the build when the app shell (index.html's script and style, with
// what they import at load) is above the budget in gzip bytes. Lazy routes
// (the DAG with its layout library) are reported but not counted.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const BUDGET = 300 * 1024;
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const entry = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]);
const gz = (name) => gzipSync(readFileSync(join(dist, "assets", name))).length;
let shell = 0;
for (const name of entry) shell += gz(name);
const all = readdirSync(join(dist, "assets"));
const lazy = all.filter((n) => !entry.includes(n) && /\.(js|css)$/.test(n));
const kib = (n) => (n / 1024).toFixed(1) + " KiB";
console.log(`app shell: ${kib(shell)} gzip (budget ${kib(BUDGET)}): ${entry.join(", ")}`);
for (const name of lazy) console.log(`  lazy ${name}: ${kib(gz(name))} gzip`);
if (shell > BUDGET) {
  console.error(`the app shell is over its budget by ${kib(shell - BUDGET)}`);
  process.exit(1);
}
