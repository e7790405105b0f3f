// The console in a real browser (Debian's Chromium through playwright-core)
// against a real `strata dev` on PostgreSQL with a fresh data directory:
// sign up → verify → create an organisation → create a workspace → READY →
// files and a two-stage pipeline (CLI) → DAG → job → file preview and
// download → API tokens → a second user invited as a reader, in a second
// browser context → teams (one given a role on the workspace) → the local
// admin's single sign-on settings (third context) against a real OpenID
// provider and a DNS server on loopback → a new person signs in through the
// provider's login page, lands in a team with a workspace role and is
// deprovisioned by SCIM (fourth context) → the login page's SSO parts and a
// CLI device login approved on /device.
// Screenshots of the main pages go to docs/images/ (or $WALK_SHOTS); figures
// are printed.
//
//   STRATA_BIN=path/to/strata node tests/browser/walk.mjs
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { chromium } from "playwright-core";

import { startDns } from "./dns.mjs";
import { startProvider } from "./idp.mjs";

const web = resolve(new URL("../..", import.meta.url).pathname);
const root = resolve(web, "..");
const bin = process.env.STRATA_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "strata");
// WALK_SHOTS puts the screenshots elsewhere (a trial run leaves docs/ alone).
const shots = process.env.WALK_SHOTS ?? join(root, "docs", "images");
const postgres = process.env.STRATA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PASSWORD = "correct horse battery staple";
const LIN_PASSWORD = "lin's password at the provider";

const work = mkdtempSync(join(tmpdir(), "strata-browser-"));
const database = `strata_browser_${process.pid}_${Date.now()}`;
const figures = [];
let server;
let stripeDouble;
let browser;
let dns;
let idp;
let serverLog = "";
let serverOut = "";

function step(text) {
  console.log(`- ${text}`);
}

function psql(sql) {
  execFileSync("psql", [postgres, "-q", "-c", sql], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Starts the local Stripe double (crates/testkit) and resolves with its URL. */
function startStripeDouble() {
  const path = join(dirname(bin), "stripe-double");
  stripeDouble = spawn(path, [], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Stripe double (${path}) did not start`)), 30_000);
    stripeDouble.stdout.on("data", (chunk) => {
      const found = String(chunk).match(/stripe double at (http:\/\/[^\s]+)/);
      if (found) {
        clearTimeout(timer);
        resolvePromise(found[1]);
      }
    });
    stripeDouble.on("exit", (code) => reject(new Error(`the Stripe double exited (${code})`)));
  });
}

/** Starts `strata dev` (SSO domains checked at `dnsServer`, Stripe at `stripe`) and resolves with its URL. */
function startServer(dnsServer, stripe) {
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
    // The test identity provider listens on loopback, which the default
    // (public issuers only) refuses; domains are proven on the walk's DNS.
    STRATA_SSO_ISSUERS: "any",
    STRATA_SSO_DNS_SERVER: dnsServer,
    // Billing on, against the local Stripe double (its test keys and prices).
    STRATA_STRIPE_SECRET_KEY: "sk_test_strata_double",
    STRATA_STRIPE_WEBHOOK_SECRET: "whsec_strata_double",
    STRATA_STRIPE_API_BASE: `${stripe}/`,
    STRATA_STRIPE_SEAT_PRICES: "team=price_team_seat,enterprise=price_enterprise_seat",
    STRATA_STRIPE_METERED_PRICES: "price_cpu_seconds,price_memory_gib_seconds",
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
      serverOut += chunk;
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

/** The one-time link `strata dev` prints to log the browser in as its local administrator, on this server. */
async function localAdminLink(base) {
  for (let i = 0; i < 100; i++) {
    const found = serverOut.match(/one-time link\): (\S+)/);
    if (found) {
      const url = new URL(found[1]);
      return `${base}${url.pathname}${url.search}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`strata dev printed no login link:\n${serverOut}`);
}

/** Polls `check` until it is true (e.g. a control a reload updates). */
async function until(check, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Teams, single sign-on and device logins: steps of this walk that the SSO
// walk against a real identity provider reuses.

/** Creates a team on the organisation's Teams page; resolves with its card. */
async function createTeam(page, base, org, { slug, name = "" }) {
  await page.goto(`${base}/orgs/${org}/teams`);
  const form = page.locator("form", { has: page.getByRole("heading", { name: "New team" }) });
  await form.getByLabel("Slug").fill(slug);
  await form.getByLabel("Name").fill(name);
  await form.getByRole("button", { name: "Create team" }).click();
  const card = page.getByTestId(`team-${slug}`);
  await card.waitFor();
  return card;
}

/** Adds an organisation member to a team, on the Teams page (open). */
async function addTeamMember(page, team, email) {
  const card = page.getByTestId(`team-${team}`);
  await card.getByLabel("Add a member").selectOption({ label: email });
  await card.getByRole("button", { name: "Add", exact: true }).click();
  await card.getByRole("row", { name: new RegExp(email) }).waitFor();
}

/** Gives a team a role (READER, WRITER, ADMIN) on a workspace, or one repo, on its Access section. */
async function grantTeamRole(page, base, org, ws, { team, role, repo = "" }) {
  await page.goto(`${base}/w/${org}/${ws}`);
  await page.getByLabel("Team", { exact: true }).selectOption(team);
  await page.getByLabel("Team's role", { exact: true }).selectOption(role);
  if (repo) await page.getByLabel("Team's role on").selectOption(repo);
  await page.getByRole("button", { name: "Grant to team" }).click();
  await page.getByTestId(`team-binding-${team}`).waitFor();
}

/** Opens an organisation's Single sign-on page (owners and admins); resolves with its connection form. */
async function openSsoSettings(page, base, org) {
  await page.goto(`${base}/orgs/${org}/sso`);
  await page.getByRole("heading", { level: 1, name: "Single sign-on" }).waitFor();
  const form = page.getByRole("form", { name: "Connection", exact: true });
  await form.getByLabel("Issuer URL").waitFor();
  return form;
}

/**
 * Saves the connection on the open Single sign-on page; an empty
 * `clientSecret` keeps the stored one, and fields left out stay as they
 * are. Resolves with the redirect URI to register at the provider.
 */
async function configureSso(page, { issuer, clientId, clientSecret = "", scopes, emailClaim, nameClaim, groupsClaim }) {
  const form = page.getByRole("form", { name: "Connection", exact: true });
  await form.getByLabel("Issuer URL").fill(issuer);
  await form.getByLabel("Client ID").fill(clientId);
  await form.getByLabel("Client secret").fill(clientSecret);
  const optional = { Scopes: scopes, "Email claim": emailClaim, "Name claim": nameClaim, "Groups claim": groupsClaim };
  for (const [label, value] of Object.entries(optional)) if (value !== undefined) await form.getByLabel(label).fill(value);
  await form.getByRole("button", { name: "Save connection" }).click();
  await form.getByText("Saved.").waitFor();
  // The stored connection is back from the server once it can be removed.
  await form.getByRole("button", { name: "Remove…" }).waitFor();
  return (await form.locator(".command code").innerText()).trim();
}

/** "Test connection" on the open Single sign-on page: `ok` with what the provider offers, or the error. */
async function testSso(page, { timeout = 60_000 } = {}) {
  const form = page.getByRole("form", { name: "Test the connection" });
  await form.getByRole("button", { name: "Test connection" }).click();
  const result = form.getByTestId("sso-test-result").or(form.locator(".banner.error"));
  await result.first().waitFor({ timeout });
  return { ok: (await form.getByTestId("sso-test-result").count()) > 0, text: await result.first().innerText() };
}

/** Claims a domain on the open Single sign-on page; resolves with the TXT record that proves it. */
async function claimDomain(page, domain) {
  const section = page.getByRole("region", { name: "Domains" });
  await section.getByLabel("Domain").fill(domain);
  await section.getByRole("button", { name: "Add domain" }).click();
  const row = section.getByTestId(`domain-${domain}`);
  await row.waitFor();
  const codes = row.locator(".record dd > code");
  return { name: (await codes.nth(0).innerText()).trim(), value: (await codes.nth(1).innerText()).trim() };
}

/** "Verify" on a claimed domain whose TXT record is published; waits until it shows verified. */
async function verifyDomain(page, domain) {
  const row = page.getByTestId(`domain-${domain}`);
  await row.getByRole("button", { name: "Verify" }).click();
  await row.locator(".state-verified").waitFor();
}

/** Maps an identity provider group to a team and/or an org role (MEMBER or ADMIN) on the open Single sign-on page. */
async function mapGroup(page, { group, team, orgRole }) {
  const section = page.getByRole("region", { name: "Identity provider groups" });
  await section.getByLabel("Group", { exact: true }).fill(group);
  await section.getByLabel("Joins team").selectOption(team ?? "");
  await section.getByLabel("Org role").selectOption(orgRole ?? "");
  await section.getByRole("button", { name: "Map group" }).click();
  const row = section.getByTestId(`mapping-${group}`);
  await row.waitFor();
  return (await row.innerText()).trim();
}

/** Turns "Require single sign-on" on or off on the open Single sign-on page, once the server kept it. */
async function setSsoRequired(page, required) {
  const toggle = page.getByRole("switch", { name: "Members must log in with single sign-on" });
  if ((await toggle.isChecked()) !== required) await saved(page, "SetSsoRequired", () => toggle.click());
  await until(async () => (await toggle.isChecked()) === required, `Require SSO ${required ? "on" : "off"}`);
}

/** Issues the SCIM token on the open Single sign-on page; resolves with it and the SCIM base URL (shown once). */
async function issueScimToken(page) {
  const form = page.getByRole("form", { name: "SCIM provisioning" });
  await form.getByRole("button", { name: "Issue SCIM token" }).click();
  const shown = form.getByTestId("scim-token");
  await shown.waitFor();
  const [baseUrl, token] = (await shown.locator("pre code").allInnerTexts()).map((t) => t.trim());
  return { token, baseUrl };
}

/**
 * Starts a single sign-on login on the console's login page for `email`
 * (whose domain an organisation with a connection verified): resolves once
 * the browser left for the identity provider. `returnTo` is the console
 * page to come back to.
 */
async function startSsoLogin(page, base, email, returnTo = "/") {
  await page.goto(`${base}/login${returnTo === "/" ? "" : `?next=${encodeURIComponent(returnTo)}`}`);
  await page.getByLabel("Email").fill(email);
  const button = page.getByRole("button", { name: "Continue with single sign-on" });
  await button.waitFor();
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), button.click()]);
}

/** Signs in on the identity provider's own login page (open in `page`). */
async function signInAtProvider(page, provider, login, password) {
  await page.waitForURL((url) => url.origin === provider.issuer && url.pathname.startsWith("/interaction/"));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Deactivates a person as an identity provider's SCIM app does: finds them by userName, then PATCHes active off. */
async function scimDeactivate({ baseUrl, token }, userName) {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" };
  const filter = encodeURIComponent(`userName eq "${userName}"`);
  const found = await (await fetch(`${baseUrl}/Users?filter=${filter}`, { headers })).json();
  const id = found.Resources?.[0]?.id;
  expect(typeof id === "string", `SCIM finds ${userName}: ${JSON.stringify(found)}`);
  const patch = { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", value: { active: false } }] };
  const answer = await fetch(`${baseUrl}/Users/${id}`, { method: "PATCH", headers, body: JSON.stringify(patch) });
  const body = await answer.json();
  expect(answer.status === 200 && body.active === false, `SCIM deactivation answered ${answer.status}: ${JSON.stringify(body)}`);
}

/** Starts a device login as the CLI does (`strata auth login --device`): its codes. */
async function startDeviceLogin(base) {
  const response = await fetch(`${base}/auth/device`, { method: "POST" });
  expect(response.ok, `POST /auth/device answered ${response.status}`);
  return response.json();
}

/** One poll of a device login as the CLI does: the tokens once approved, else the OAuth error. */
async function pollDeviceLogin(base, deviceCode) {
  const response = await fetch(`${base}/auth/device/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ device_code: deviceCode }),
  });
  return response.json();
}

/** Approves a device login's code on /device (logged in). */
async function approveDeviceLogin(page, base, userCode) {
  await page.goto(`${base}/device?code=${encodeURIComponent(userCode)}`);
  await page.getByRole("button", { name: "Approve" }).click();
  await page.getByTestId("device-approved").waitFor();
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
  dns = await startDns();
  const stripe = await startStripeDouble();
  const base = await startServer(dns.address, stripe);
  const target = await fetch(`${stripe}/_test/webhook_target`, { method: "POST", body: base });
  expect(target.status === 204, `the Stripe double delivers webhooks to ${base}`);
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
  await ada.reload();
  const usage = await ada.getByTestId("org-usage").innerText();
  expect(usage.includes("Team plan: 1 of 25 workspaces, 1 of 50 seats"), `the organisation's usage of its plan: ${usage}`);
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
  const cost = await ada.getByTestId("job-cost").innerText();
  expect(/Cost: <?\$[0-9.]+ at the team plan's prices/.test(cost) && cost.includes("CPU-seconds"), `the job's cost, saw ${cost}`);
  await audit(ada, "job");
  await shot(ada, "job");

  step("a second organisation starts on free and upgrades through Stripe Checkout; the plan changes when the signed webhook arrives");
  await ada.goto(`${base}/orgs/new`);
  await ada.getByLabel("Slug").fill("beta");
  await ada.getByRole("button", { name: "Create organisation" }).click();
  await ada.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();
  await ada.goto(`${base}/orgs/beta/billing`);
  const before = await ada.getByTestId("billing-plan").innerText();
  expect(before.includes("Free"), `a new organisation is on the free plan, saw ${before}`);
  await audit(ada, "billing");
  await ada.getByTestId("upgrade-team").click();
  await ada.getByRole("heading", { name: "Subscribe to the team plan" }).waitFor();
  await ada.getByRole("button", { name: "Pay" }).click();
  await ada.getByTestId("checkout-outcome").waitFor();
  await ada.waitForFunction(() => document.querySelector('[data-testid="billing-plan"]')?.textContent?.includes("Team"));
  const after = await ada.getByTestId("billing-plan").innerText();
  expect(after.includes("subscription active"), `the subscription, saw ${after}`);
  await ada.getByTestId("open-portal").waitFor();
  await shot(ada, "billing");

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

  step("Ada creates a team, adds Grace and gives the team a role on the workspace");
  await createTeam(ada, base, "acme", { slug: "research", name: "Research" });
  await audit(ada, "teams");
  await addTeamMember(ada, "research", "grace@example.com");
  const source = await ada.getByTestId("team-research").getByRole("row", { name: /grace@example.com/ }).innerText();
  expect(source.includes("added by hand"), `Grace is in the team by hand: ${source}`);
  await shot(ada, "teams");
  // A reader, as Grace is already: the checks of her below stay what they say.
  await grantTeamRole(ada, base, "acme", "vision", { team: "research", role: "READER", repo: "documents" });
  const teamBinding = await ada.getByTestId("team-binding-research").innerText();
  expect(/reader/.test(teamBinding) && /repo documents/.test(teamBinding), `the team's binding: ${teamBinding}`);
  await audit(ada, "workspace access with teams");

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
  expect((await grace.getByRole("link", { name: "Single sign-on" }).count()) === 0, "no Single sign-on link for a member");
  await grace.goto(`${base}/orgs/acme/sso`);
  await grace.getByText("Only owners and admins manage single sign-on").waitFor();
  await grace.goto(`${base}/orgs/acme/teams`);
  await grace.getByTestId("team-research").getByRole("row", { name: /grace@example.com/ }).waitFor();
  expect((await grace.getByRole("button", { name: /Create team|Delete team|Remove/ }).count()) === 0, "a member sees teams without changing them");
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

  step("the local admin's Single sign-on page: connection form, a save refused without the secret, a saved one kept write-only");
  const admin = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  watch(admin);
  await admin.goto(await localAdminLink(base));
  await admin.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();
  await createTeam(admin, base, "local", { slug: "platform", name: "Platform" });
  // Deleting asks first, and says what follows.
  const scratch = await createTeam(admin, base, "local", { slug: "scratch" });
  await scratch.getByRole("button", { name: "Delete team…" }).click();
  await scratch.getByRole("alert").getByText("Its members lose the roles it gives them").waitFor();
  await scratch.getByRole("button", { name: "Delete team", exact: true }).click();
  await scratch.waitFor({ state: "detached" });
  await grantTeamRole(admin, base, "local", "default", { team: "platform", role: "WRITER" });
  const connection = await openSsoSettings(admin, base, "local");
  await audit(admin, "sso-settings");
  await connection.getByLabel("Issuer URL").fill("https://login.acme.example");
  await connection.getByLabel("Client ID").fill("strata-console");
  await connection.getByRole("button", { name: "Save connection" }).click();
  await connection.locator(".field-error", { hasText: "client secret" }).waitFor();
  const placeholder = { issuer: "https://login.acme.example", clientId: "strata-console", groupsClaim: "roles" };
  const redirectUri = await configureSso(admin, { ...placeholder, clientSecret: "not-a-real-secret" });
  expect(redirectUri === `${base}/auth/sso/callback`, `the redirect URI to register: ${redirectUri}`);
  expect((await connection.getByLabel("Client secret").inputValue()) === "", "the client secret is never shown again");
  await admin.reload();
  expect((await connection.getByLabel("Groups claim").inputValue()) === "roles", "the groups claim is kept");
  // Saved again with the secret left empty: the stored one is kept.
  await configureSso(admin, { ...placeholder, clientId: "strata-console-2" });

  step("the connection pointed at a real OpenID provider on loopback, with the redirect URI the page showed; 'Test connection' reaches it");
  const idpSecret = "the provider's secret for strata";
  const lin = { sub: "lin-1", email: "lin@acme.example", email_verified: true, name: "Lin", groups: ["eng"], password: LIN_PASSWORD };
  idp = await startProvider({ root, work, callback: redirectUri, clientId: "strata-console", clientSecret: idpSecret, accounts: [lin] });
  await configureSso(admin, { issuer: idp.issuer, clientId: "strata-console", clientSecret: idpSecret, groupsClaim: "groups" });
  const tested = await testSso(admin);
  expect(tested.ok && tested.text.includes(`Reached ${idp.issuer}`) && tested.text.includes("1 key."), `Test connection: ${tested.text}`);

  step("the local admin claims acme.example (its TXT record shown), publishes the record and verifies it; maps groups to teams; issues a SCIM token");
  const record = await claimDomain(admin, "acme.example");
  expect(record.name === "_strata-challenge.acme.example", `the TXT record's name: ${record.name}`);
  expect(record.value.startsWith("strata-domain-verification="), `the TXT record's value: ${record.value}`);
  await admin.getByTestId("domain-acme.example").locator(".state-pending").waitFor();
  dns.setTxt(record.name, [record.value]);
  await verifyDomain(admin, "acme.example");
  const mapping = await mapGroup(admin, { group: "strata-admins", team: "platform", orgRole: "ADMIN" });
  expect(mapping.includes("joins team platform and is admin of the organisation"), `the group mapping: ${mapping}`);
  const engineers = await mapGroup(admin, { group: "eng", team: "platform" });
  expect(engineers.includes("joins team platform"), `the group mapping: ${engineers}`);
  const scim = await issueScimToken(admin);
  expect(scim.token.length >= 20 && scim.baseUrl === `${base}/scim/v2/local`, `a SCIM token and base URL: ${JSON.stringify({ baseUrl: scim.baseUrl })}`);
  await shot(admin, "sso-settings");

  step("Require SSO: a member's password session is refused and offered the organisation's single sign-on; the owner keeps access");
  await admin.goto(`${base}/orgs/local/members`);
  await admin.getByLabel("Email").fill("grace@example.com");
  await admin.getByRole("button", { name: "Send invitation" }).click();
  await admin.getByText("grace@example.com as member").waitFor();
  await grace.goto(mailLink("grace@example.com", "accept-invitation", base));
  await grace.getByRole("button", { name: "Accept the invitation" }).click();
  await grace.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();
  await openSsoSettings(admin, base, "local");
  await setSsoRequired(admin, true);
  // The owner's email-link session still acts (break-glass).
  await admin.reload();
  await admin.getByRole("switch", { name: "Members must log in with single sign-on" }).waitFor();
  await grace.goto(`${base}/orgs/local`);
  await grace.getByText("requires single sign-on").waitFor();
  const again = await grace.getByRole("link", { name: "Log in with single sign-on" }).getAttribute("href");
  expect(again === "/auth/sso/start?org=local&return_to=%2Forgs%2Flocal", `the way to the organisation's SSO: ${again}`);
  await audit(grace, "sso required");

  step("Lin, new to Strata, signs in through the provider's login page (a wrong password is refused there) and lands on the workspace she asked for, a writer through team platform; SSO required lets her SSO session pass");
  const linPage = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  watch(linPage);
  const signInStarted = Date.now();
  await startSsoLogin(linPage, base, lin.email, "/w/local/default");
  await signInAtProvider(linPage, idp, lin.email, "not her password");
  await linPage.getByRole("alert").getByText("Invalid email or password.").waitFor();
  await signInAtProvider(linPage, idp, lin.email, LIN_PASSWORD);
  await linPage.waitForURL(`${base}/w/local/default`);
  await linPage.getByRole("heading", { level: 1, name: /^default/ }).waitFor();
  figures.push(`SSO sign-in in Chromium (console login page → provider's login page, one wrong password → workspace page shown): ${Date.now() - signInStarted} ms`);
  const viewer = await gqlAs(linPage, '{ viewer { email } organization(slug: "local") { viewerRole workspace(slug: "default") { viewerRole } } }', {});
  expect(viewer.data?.viewer.email === lin.email, `signed in as Lin: ${JSON.stringify(viewer)}`);
  expect(viewer.data.organization.viewerRole === "MEMBER", `Lin joined the organisation as a member: ${JSON.stringify(viewer)}`);
  expect(viewer.data.organization.workspace.viewerRole === "WRITER", `Lin is a writer through her team: ${JSON.stringify(viewer)}`);
  await linPage.goto(`${base}/orgs/local/teams`);
  const linRow = await linPage.getByTestId("team-platform").getByRole("row", { name: /lin@acme.example/ }).innerText();
  expect(linRow.includes("from an identity provider group"), `Lin is in team platform through her group: ${linRow}`);

  step("SCIM (as the provider's provisioning app) deactivates Lin: her next page asks her to log in, and signing in again is refused");
  await scimDeactivate(scim, lin.email);
  await linPage.reload();
  await linPage.getByRole("heading", { name: "Log in" }).waitFor();
  await linPage.getByLabel("Email").fill(lin.email);
  await linPage.getByRole("button", { name: "Continue with single sign-on" }).click();
  // The provider remembers her, so it sends her straight back; Strata refuses.
  await linPage.getByTestId("sso-error").getByText("deactivated").waitFor();
  await linPage.context().close();

  step("Require SSO off: Grace's password session works again");
  await setSsoRequired(admin, false);
  await grace.reload();
  await grace.getByRole("heading", { level: 1, name: /: workspaces$/ }).waitFor();
  await admin.context().close();

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

  step("the login page: an SSO failure is shown; 'Log in with SSO' asks for the email only and says when its domain has none");
  await ada.getByRole("button", { name: "Log out" }).click();
  await ada.getByRole("heading", { name: "Log in" }).waitFor();
  await ada.goto(`${base}/login?ssoError=${encodeURIComponent("the identity provider refused: access_denied")}`);
  await ada.getByTestId("sso-error").getByText("access_denied").waitFor();
  await audit(ada, "login with an SSO error");
  await ada.getByRole("link", { name: "Log in with SSO" }).click();
  await ada.getByRole("heading", { name: "Log in with single sign-on" }).waitFor();
  expect((await ada.getByLabel("Password").count()) === 0, "SSO login asks for the email only");
  await ada.getByLabel("Email").fill("ada@example.com");
  await ada.getByRole("button", { name: "Continue with single sign-on" }).click();
  await ada.locator(".field-error", { hasText: "example.com" }).waitFor();

  step("home-realm discovery: an address of a domain with SSO gets 'Continue with single sign-on', which starts at /auth/sso/start with the way back; a password stays possible");
  const isStart = (url) => url.pathname === "/auth/sso/start";
  await ada.goto(`${base}/login?next=${encodeURIComponent("/orgs/acme/teams")}`);
  await ada.getByLabel("Email").fill("lin@acme.example");
  const continueSso = ada.getByRole("button", { name: "Continue with single sign-on" });
  await continueSso.waitFor();
  expect((await ada.getByLabel("Password").count()) === 0, "an SSO domain's login asks for no password");
  await audit(ada, "login with SSO");
  const [startRequest] = await Promise.all([ada.waitForRequest((request) => isStart(new URL(request.url()))), continueSso.click()]);
  const startQuery = new URL(startRequest.url()).searchParams;
  expect(startQuery.get("email") === "lin@acme.example" && startQuery.get("return_to") === "/orgs/acme/teams", `the SSO start: ${startRequest.url()}`);
  await ada.waitForURL((url) => url.origin === idp.issuer);
  // Owners keep their password (break-glass); other domains log in as before.
  await ada.goto(`${base}/login`);
  await ada.getByLabel("Email").fill("lin@acme.example");
  await ada.getByRole("button", { name: "Use your password instead" }).click();
  await ada.getByLabel("Password").waitFor();
  await ada.getByLabel("Email").fill("ada@example.com");
  await ada.getByLabel("Password").waitFor();

  step("a CLI's device login: /device while logged out goes to the login page and back, then approves the code");
  const device = await startDeviceLogin(base);
  const pending = await pollDeviceLogin(base, device.device_code);
  expect(pending.error === "authorization_pending", `before approval: ${JSON.stringify(pending)}`);
  await ada.goto(`${base}/device?code=${encodeURIComponent(device.user_code)}`);
  await ada.getByRole("heading", { name: "Log in" }).waitFor();
  expect(new URL(ada.url()).searchParams.get("next") === `/device?code=${device.user_code}`, `the login page keeps the way back: ${ada.url()}`);
  await ada.getByLabel("Email").fill("ada@example.com");
  await ada.getByLabel("Password").fill(`${PASSWORD} again`);
  await ada.getByRole("button", { name: "Log in" }).click();
  await ada.getByRole("heading", { name: "Log in the CLI" }).waitFor();
  expect((await ada.getByLabel("Code").inputValue()) === device.user_code, "the code is filled in from the link");
  await audit(ada, "device");
  await ada.getByRole("button", { name: "Approve" }).click();
  await ada.getByTestId("device-approved").waitFor();
  const approved = await pollDeviceLogin(base, device.device_code);
  expect(approved.email === "ada@example.com" && typeof approved.accessToken === "string", `the CLI's tokens after approval: ${Object.keys(approved)}`);
  await ada.goto(`${base}/device?code=${encodeURIComponent(device.user_code)}`);
  await ada.getByRole("button", { name: "Approve" }).click();
  await ada.locator(".field-error", { hasText: "no login waits for this code" }).waitFor();

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
  stripeDouble?.kill("SIGTERM");
  idp?.stop();
  dns?.stop();
  await new Promise((r) => setTimeout(r, 300));
  try {
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } catch {
    // The database is gone already.
  }
  rmSync(work, { recursive: true, force: true });
}
