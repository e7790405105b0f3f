// The console in a real browser (Debian's Chromium through playwright-core)
// against a real `strata dev` on PostgreSQL with a fresh data directory:
// sign up → verify → create an organisation → create a workspace → READY →
// files and a two-stage pipeline (CLI) → DAG → job → file preview and
// download → API tokens → a second user invited as a reader, in a second
// browser context.
// Screenshots of the main pages go to docs/images/; figures are printed.
//
//   STRATA_BIN=path/to/strata node tests/browser/walk.mjs
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const web = resolve(new URL("../..", import.meta.url).pathname);
const root = resolve(web, "..");
const bin = process.env.STRATA_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "strata");
const shots = join(root, "docs", "images");
const postgres = process.env.STRATA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PASSWORD = "correct horse battery staple";

const work = mkdtempSync(join(tmpdir(), "strata-browser-"));
const database = `strata_browser_${process.pid}_${Date.now()}`;
const figures = [];
let server;
let browser;
let serverLog = "";

function step(text) {
  console.log(`- ${text}`);
}

function psql(sql) {
  execFileSync("psql", [postgres, "-q", "-c", sql], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Starts `strata dev` and resolves with its URL. */
function startServer() {
  const databaseUrl = new URL(postgres);
  databaseUrl.pathname = `/${database}`;
  const env = {
    ...process.env,
    HOME: work,
    STRATA_CONFIG: join(work, "cli.toml"),
    STRATA_WEB_DIR: join(web, "dist"),
    STRATA_SCALE_DOWN_COOLDOWN_SECS: "2",
    // The operator gives acme the team plan, so the walk can move a workspace to it.
    STRATA_ORG_PLANS: "acme=team",
    // The walk is about the console: its pipelines run as processes whatever
    // the machine has, and the hub workspace it makes may run them so.
    STRATA_RUNNER: "process",
    STRATA_INSECURE_WORKSPACES_WITHOUT_CONTAINERS: "true",
    RUST_LOG: process.env.WALK_RUST_LOG ?? "warn",
  };
  const args = ["dev", "--listen", "127.0.0.1:0", "--data-dir", join(work, "data"), "--database-url", databaseUrl.href, "--log-level", "warn"];
  server = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (chunk) => {
    stderr += chunk;
    serverLog = (serverLog + chunk).slice(-20_000);
  });
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`strata dev did not start:\n${stderr}`)), 60_000);
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const found = out.match(/running at (http:\/\/[^\s]+)/);
      if (found) {
        clearTimeout(timer);
        resolvePromise(found[1].replace(/\/$/, ""));
      }
    });
    server.on("exit", (code) => reject(new Error(`strata dev exited (${code}):\n${stderr}`)));
  });
}

/** The link to `page` in the dev outbox's mail to `to`, on this server. */
function mailLink(to, page, base) {
  const dir = join(work, "data", "outbox");
  const pattern = new RegExp(`https?://[^\\s"\\\\]+/${page}\\?token=[A-Za-z0-9_-]+`);
  for (const name of readdirSync(dir).sort().reverse()) {
    const text = readFileSync(join(dir, name), "utf8");
    const link = text.includes(to) ? text.match(pattern) : null;
    if (link) {
      const url = new URL(link[0]);
      return `${base}${url.pathname}${url.search}`;
    }
  }
  throw new Error(`no mail to ${to} with a ${page} link in ${dir}`);
}

function cli(base, token, args) {
  const env = { ...process.env, HOME: work, STRATA_CONFIG: join(work, "ci-cli.toml"), STRATA_ENDPOINT: base, STRATA_TOKEN: token };
  return execFileSync(bin, ["--workspace", "acme/vision", ...args], { env, cwd: root, encoding: "utf8", timeout: 120_000 });
}

/**
 * Does `action` (a select that saves on change) and waits until the server
 * answered its GraphQL mutation `operation`, so a reload reads what it saved.
 */
async function saved(page, operation, action) {
  const answered = page.waitForResponse(
    (response) => response.url().endsWith("/graphql") && (response.request().postData() ?? "").includes(`mutation ${operation}`),
  );
  await action();
  const response = await answered;
  expect(response.ok(), `${operation} answered ${response.status()}`);
}

async function gqlAs(page, query, variables) {
  return page.evaluate(
    async ([q, v]) => {
      const refresh = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "X-CSRF-Token": decodeURIComponent(document.cookie.match(/strata_csrf=([^;]+)/)?.[1] ?? "") },
      });
      const { accessToken } = await refresh.json();
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ query: q, variables: v }),
      });
      return response.json();
    },
    [query, variables],
  );
}

async function signUpAndVerify(page, base, email) {
  await page.goto(`${base}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await page.goto(mailLink(email, "verify-email", base));
  await page.getByText("is confirmed").waitFor();
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
}

const axePath = new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname;
const accessibility = [];
const cspViolations = [];

/** Fails the walk on any error the page logs about its security policy. */
function watch(page) {
  page.on("pageerror", (error) => console.error("page error:", error));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
}

/** axe-core on the current page: serious or critical violations fail. */
async function audit(page, name) {
  // Evaluated through the DevTools protocol: the page's CSP forbids inline scripts.
  await page.evaluate(readFileSync(axePath, "utf8"));
  const result = await page.evaluate(async () => {
    const { violations } = await window.axe.run(document, { resultTypes: ["violations"] });
    return violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  accessibility.push(`${name}: ${result.length} axe violations (${bad.length} serious or critical)`);
  if (bad.length > 0) throw new Error(`accessibility of ${name}: ${JSON.stringify(bad)}`);
}

async function shot(page, name) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
}

function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

async function main() {
  psql(`CREATE DATABASE ${database}`);
  const base = await startServer();
  step(`strata dev at ${base} on PostgreSQL database ${database}`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const ada = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  watch(ada);

  step("sign up, verify the email from the outbox, log in");
  await ada.goto(`${base}/signup`);
  await ada.getByRole("button", { name: "Sign up" }).waitFor();
  await audit(ada, "sign-up");
  await shot(ada, "signup");
  await signUpAndVerify(ada, base, "ada@example.com");
  await ada.getByRole("heading", { name: "Create an organisation" }).waitFor();

  step("create an organisation; a bad slug is refused next to its field");
  await ada.getByLabel("Slug").fill("Not A Slug");
  await ada.getByRole("button", { name: "Create organisation" }).click();
  await ada.locator(".field-error").first().waitFor();
  await ada.getByLabel("Slug").fill("acme");
  await ada.getByLabel("Name").fill("Acme Research");
  await ada.getByRole("button", { name: "Create organisation" }).click();
  await ada.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();
  await ada.getByText("No workspaces yet").waitFor();

  step("create a workspace and watch it become READY");
  await ada.getByLabel("Slug").fill("vision");
  await ada.getByRole("button", { name: "Create workspace" }).click();
  const row = ada.getByTestId("workspace-vision");
  await row.locator(".state-ready").waitFor({ timeout: 30_000 });
  await audit(ada, "workspaces");
  await shot(ada, "workspaces");

  step("move the workspace to the team plan");
  await saved(ada, "SetWorkspacePlan", () => ada.getByLabel("Plan of vision").selectOption("team"));
  await ada.reload();
  expect((await ada.getByLabel("Plan of vision").inputValue()) === "team", "the plan change is kept");

  step("delete a workspace by typing its slug");
  await ada.getByLabel("Slug").fill("scratch");
  await ada.getByRole("button", { name: "Create workspace" }).click();
  await ada.getByTestId("workspace-scratch").locator(".state-ready").waitFor({ timeout: 30_000 });
  await ada.getByTestId("workspace-scratch").getByRole("button", { name: "Delete…" }).click();
  const confirm = ada.locator(".danger-zone");
  expect(await confirm.getByRole("button", { name: "Delete workspace" }).isDisabled(), "delete waits for the slug");
  await confirm.getByLabel("Slug").fill("scratch");
  await confirm.getByRole("button", { name: "Delete workspace" }).click();
  // DELETING, then gone from the list once DELETED.
  await ada.waitForFunction(() => {
    const row = document.querySelector('[data-testid="workspace-scratch"]');
    return !row || row.querySelector(".state-deleted, .state-deleting");
  });

  step("an API token for the CLI (shown once), another revoked");
  await ada.goto(`${base}/orgs/acme/tokens`);
  await ada.getByLabel("Name").fill("ci");
  await ada.locator("#token-role").selectOption("WRITER");
  await ada.getByRole("button", { name: "Create token" }).click();
  const secret = (await ada.getByTestId("new-token").locator("code").innerText()).trim();
  expect(secret.startsWith("stp_"), `a token secret, got ${secret}`);
  await ada.getByRole("button", { name: "Done" }).click();
  await ada.getByLabel("Name").fill("throwaway");
  await ada.getByRole("button", { name: "Create token" }).click();
  await ada.getByTestId("token-throwaway").waitFor();
  await ada.getByRole("button", { name: "Done" }).click();
  await ada.getByTestId("token-throwaway").getByRole("button", { name: "Revoke" }).click();
  await ada.getByTestId("token-throwaway").locator(".state-revoked").waitFor();
  await shot(ada, "tokens");

  step("files and a two-stage pipeline through the CLI with the token");
  cli(base, secret, ["repo", "create", "documents"]);
  cli(base, secret, ["put", "file", "documents@master:/", "-f", "examples/word-count/data", "-r"]);
  cli(base, secret, ["pipeline", "create", "-f", "examples/word-count/count.yaml"]);
  cli(base, secret, ["pipeline", "create", "-f", "examples/word-count/top.json"]);
  cli(base, secret, ["job", "wait", "-p", "top"]);

  step("the workspace page: DAG nodes and edges; time to interactive");
  const started = Date.now();
  await ada.goto(`${base}/w/acme/vision`);
  await ada.getByTestId("dag").waitFor();
  const interactive = await ada.evaluate(() => performance.now());
  figures.push(`workspace page interactive (DAG drawn) after ${Math.round(interactive)} ms of page time (${Date.now() - started} ms wall)`);
  const nodes = await ada.locator("[data-node]").evaluateAll((all) => all.map((n) => n.getAttribute("data-node")).sort());
  expect(
    JSON.stringify(nodes) === JSON.stringify(["pipeline:count", "pipeline:top", "repo:count", "repo:documents", "repo:top"]),
    `DAG nodes ${JSON.stringify(nodes)}`,
  );
  const edges = await ada.locator("[data-edge]").evaluateAll((all) => all.map((e) => e.getAttribute("data-edge")).sort());
  expect(
    JSON.stringify(edges) ===
      JSON.stringify(["pipeline:count->repo:count", "pipeline:top->repo:top", "repo:count->pipeline:top", "repo:documents->pipeline:count"]),
    `DAG edges ${JSON.stringify(edges)}`,
  );
  await ada.locator('[data-node="pipeline:top"].state-success').waitFor();
  await audit(ada, "workspace");
  await shot(ada, "workspace-dag");

  step("open the pipeline from the DAG, then its job: datum counts, timeline, logs");
  await ada.locator('[data-node="pipeline:count"]').click();
  await ada.getByRole("heading", { name: "Jobs" }).waitFor();
  // This installation runs processes (STRATA_RUNNER above): the page says so loudly.
  const warning = await ada.getByTestId("runner-warning").innerText();
  expect(warning.includes("not in the pipeline's image"), `the runner warning, saw ${warning}`);
  await ada.locator("table a code").first().click();
  const counts = ada.getByTestId("datum-counts");
  await counts.waitFor();
  const total = await counts.locator("div", { hasText: "total" }).locator("dd").innerText();
  expect(total.trim() === "3", `3 datums in the job, saw ${total}`);
  await ada.getByTestId("timeline").waitFor();
  await audit(ada, "job");
  await shot(ada, "job");

  step("browse a file at a commit and preview it");
  await ada.goto(`${base}/w/acme/vision/repos/top`);
  await ada.locator("table a code").first().click();
  await ada.getByRole("link", { name: "top10.txt" }).click();
  const preview = await ada.getByTestId("text-preview").innerText();
  expect(/\d+ \w+/.test(preview), `top10.txt previews as text: ${preview.slice(0, 80)}`);
  await shot(ada, "file-preview");

  step("download it: the browser saves the file's bytes under its name");
  const [download] = await Promise.all([ada.waitForEvent("download"), ada.getByRole("button", { name: "Download" }).click()]);
  expect(download.suggestedFilename() === "top10.txt", `the download is named top10.txt, not ${download.suggestedFilename()}`);
  const downloadFailure = await download.failure();
  expect(downloadFailure === null, `the download completes: ${downloadFailure}`);
  const downloaded = readFileSync(await download.path(), "utf8");
  expect(downloaded.trim() === preview.trim(), `the saved file is the previewed one: ${downloaded.slice(0, 80)}`);

  step("invite Grace as a member");
  await ada.goto(`${base}/orgs/acme/members`);
  await ada.getByLabel("Email").fill("grace@example.com");
  await ada.getByRole("button", { name: "Send invitation" }).click();
  await ada.getByText("grace@example.com as member").waitFor();
  await shot(ada, "members");

  const grace = await (await browser.newContext({ viewport: { width: 390, height: 800 } })).newPage();
  watch(grace);
  await signUpAndVerify(grace, base, "grace@example.com");
  await grace.getByRole("heading", { name: "Create an organisation" }).waitFor();
  await grace.goto(mailLink("grace@example.com", "accept-invitation", base));
  await grace.getByRole("button", { name: "Accept the invitation" }).click();
  await grace.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();

  step("Ada makes Grace a reader of the workspace on its Access section");
  await ada.goto(`${base}/w/acme/vision`);
  await ada.getByLabel("Person").selectOption({ label: "grace@example.com" });
  await ada.getByLabel("Role", { exact: true }).selectOption("READER");
  await ada.getByRole("button", { name: "Give role" }).click();
  await ada.getByTestId("binding-grace@example.com").waitFor();
  await shot(ada, "access");

  step("Grace, a reader: no admin pages, no changes");
  await grace.reload();
  await grace.getByTestId("workspace-vision").waitFor();
  expect((await grace.getByRole("link", { name: "Members" }).count()) === 0, "no Members link for a member");
  expect((await grace.getByRole("button", { name: "Create workspace" }).count()) === 0, "no workspace form for a member");
  expect((await grace.getByRole("button", { name: /Delete/ }).count()) === 0, "no delete for a reader");
  await grace.goto(`${base}/orgs/acme/members`);
  await grace.getByText("Only owners and admins manage members").waitFor();
  await grace.goto(`${base}/orgs/acme/audit`);
  await grace.getByText("Only owners and admins read the audit log").waitFor();
  const refused = await gqlAs(grace, "mutation { createWorkspace(input: {organization: \"acme\", slug: \"sneaky\"}) { userErrors { code } } }", {});
  expect(refused.data.createWorkspace.userErrors[0]?.code === "FORBIDDEN", `createWorkspace as a member: ${JSON.stringify(refused)}`);
  const deleteRepo = await gqlAs(
    grace,
    "mutation { deleteRepo(input: {target: {organization: \"acme\", workspace: \"vision\"}, name: \"documents\"}) { userErrors { code } } }",
    {},
  );
  expect(JSON.stringify(deleteRepo).includes("FORBIDDEN") || JSON.stringify(deleteRepo).includes("errors"), `deleteRepo as a reader: ${JSON.stringify(deleteRepo)}`);
  await grace.goto(`${base}/w/acme/vision`);
  await grace.getByTestId("dag").waitFor();
  await shot(grace, "reader-mobile");

  step("Ada changes Grace's organisation role, then removes her");
  await ada.goto(`${base}/orgs/acme/members`);
  await saved(ada, "UpdateMemberRole", () => ada.getByLabel("Role of grace@example.com").selectOption("ADMIN"));
  await ada.reload();
  expect((await ada.getByLabel("Role of grace@example.com").inputValue()) === "ADMIN", "the new role is kept");
  await ada.getByRole("row", { name: /grace@example.com/ }).getByRole("button", { name: "Remove" }).click();
  await ada.getByRole("row", { name: /grace@example.com/ }).waitFor({ state: "detached" });
  const gone = await gqlAs(grace, "{ organization(slug: \"acme\") { slug } }", {});
  expect(gone.data.organization === null, `a removed member sees nothing of the organisation: ${JSON.stringify(gone)}`);

  step("a DAG of 50 pipelines: layout and render time");
  cli(base, secret, ["repo", "create", "raw"]);
  const specs = join(work, "specs");
  mkdirSync(specs, { recursive: true });
  for (let i = 0; i < 50; i++) {
    const input = i === 0 ? { pfs: { repo: "raw", glob: "/*" } } : { pfs: { repo: `stage-${i - 1}`, glob: "/*" } };
    const spec = { pipeline: { name: `stage-${i}` }, input, transform: { cmd: ["sh", "-c", "cp -r $PFS/* $PFS/out/ || true"] }, autoscaling: true };
    writeFileSync(join(specs, `stage-${i}.json`), JSON.stringify(spec));
    cli(base, secret, ["pipeline", "create", "-f", join(specs, `stage-${i}.json`)]);
  }
  const timings = [];
  const layouts = [];
  const commits = [];
  for (let round = 0; round < 5; round++) {
    await ada.goto(`${base}/w/acme/vision`);
    await ada.locator('[data-node="pipeline:stage-49"]').waitFor();
    const measured = await ada.evaluate(() => ["strata:dag", "strata:dag-layout", "strata:dag-commit"].map((name) => Math.max(...performance.getEntriesByName(name).map((m) => m.duration))));
    timings.push(measured[0]);
    layouts.push(measured[1]);
    commits.push(measured[2]);
  }
  timings.sort((a, b) => a - b);
  layouts.sort((a, b) => a - b);
  commits.sort((a, b) => a - b);
  const count = await ada.locator("[data-node]").count();
  figures.push(`DAG of ${count} nodes (52 pipelines): layout + render median ${timings[2].toFixed(0)} ms, max ${timings[4].toFixed(0)} ms; layout alone median ${layouts[2].toFixed(0)} ms, to the DOM commit ${commits[2].toFixed(0)} ms (5 loads)`);
  await shot(ada, "dag-50");

  step("log out; reset the password from the emailed link; log in with the new one");
  await ada.goto(`${base}/orgs/acme`);
  await ada.getByRole("button", { name: "Log out" }).click();
  await ada.getByRole("heading", { name: "Log in" }).waitFor();
  await ada.goto(`${base}/orgs/acme`);
  await ada.getByRole("heading", { name: "Log in" }).waitFor();
  await ada.getByRole("link", { name: "Forgot your password?" }).click();
  await ada.getByLabel("Email").fill("ada@example.com");
  await ada.getByRole("button", { name: "Send a reset link" }).click();
  await ada.getByText("a reset link is on its way").waitFor();
  await ada.goto(mailLink("ada@example.com", "reset-password", base));
  await ada.getByLabel("New password").fill(`${PASSWORD} again`);
  await ada.getByRole("button", { name: "Set password" }).click();
  await ada.getByText("Your password is changed").waitFor();
  await ada.goto(`${base}/login`);
  await ada.getByLabel("Email").fill("ada@example.com");
  await ada.getByLabel("Password").fill(`${PASSWORD} again`);
  await ada.getByRole("button", { name: "Log in" }).click();
  await ada.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();

  expect(cspViolations.length === 0, `no Content-Security-Policy violations: ${cspViolations.join("; ")}`);
  console.log("\nfigures:");
  for (const figure of figures) console.log(`  ${figure}`);
  for (const line of accessibility) console.log(`  ${line}`);
  console.log("the browser walk passed");
}

/** On failure: the end of every workspace's server and worker logs. */
function printLogs() {
  console.error(`--- strata dev (end of its log)\n${serverLog}`);
  const dir = join(work, "data", "workspaces");
  let workspaces = [];
  try {
    workspaces = readdirSync(dir);
  } catch {
    return;
  }
  for (const id of workspaces) {
    for (const log of ["server.log", "workers.log"]) {
      try {
        const lines = readFileSync(join(dir, id, log), "utf8").trimEnd().split("\n");
        console.error(`--- ${id}/${log} (last 40 lines)\n${lines.slice(-40).join("\n")}`);
      } catch {
        // No such log.
      }
    }
  }
}

/** The server's process tree with what each process waits on, for hangs. */
function printProcesses() {
  if (!server?.pid) {
    return;
  }
  try {
    const all = execFileSync("ps", ["-e", "-o", "pid,ppid,stat,wchan:28,etime,args", "--forest"], { encoding: "utf8" });
    const tree = all.split("\n").filter((line, n) => n === 0 || line.includes(bin));
    console.error(`--- strata processes\n${tree.join("\n")}`);
  } catch {
    // ps is missing or the group is gone.
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
  printLogs();
  printProcesses();
  const hold = Number(process.env.WALK_HOLD_ON_FAILURE_SECS ?? 0);
  if (hold > 0) {
    console.error(`holding the server for ${hold} s for a look (HOME=${work})`);
    await new Promise((r) => setTimeout(r, hold * 1000));
  }
} finally {
  await browser?.close().catch(() => {});
  server?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  try {
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } catch {
    // The database is gone already.
  }
  rmSync(work, { recursive: true, force: true });
}
