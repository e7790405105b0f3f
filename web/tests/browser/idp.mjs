// The test OpenID provider (tests/oidc/provider.mjs, a certified
// implementation with its own login page) started for the browser walk.
// Its packages are installed by scripts/oidc.sh.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Starts the provider with one client whose redirect URI is `callback` and
 * the given accounts ({sub, email, email_verified, name, groups, password});
 * resolves with `{ issuer, stop() }` once it listens.
 */
export function startProvider({ root, work, callback, clientId, clientSecret, accounts }) {
  const config = join(work, "oidc-provider.json");
  const clients = [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [callback] }];
  writeFileSync(config, JSON.stringify({ clients, accounts }));
  const child = spawn(process.execPath, [join(root, "tests", "oidc", "provider.mjs"), config], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-10_000);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the OpenID provider did not start:\n${stderr}`)), 30_000);
    child.on("exit", (code) => reject(new Error(`the OpenID provider exited (${code}); run scripts/oidc.sh:\n${stderr}`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      // Only whole lines: the JSON one may arrive in pieces.
      const line = out.split("\n").slice(0, -1).find((l) => l.startsWith("{"));
      if (!line) return;
      clearTimeout(timer);
      const { issuer } = JSON.parse(line);
      resolve({ issuer, stop: () => child.kill("SIGTERM") });
    });
  });
}
