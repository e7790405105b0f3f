// A real OpenID provider (oidc-provider, a certified implementation) on
// 127.0.0.1 for the single sign-on tests. Driven by
// crates/testkit/src/oidc.rs; install its packages with scripts/oidc.sh.
//
//   node tests/oidc/provider.mjs CONFIG.json [PORT]   (or STRATA_OIDC_CONFIG=CONFIG.json)
//   node tests/oidc/provider.mjs --generate-key       (prints one private RS256 JWK)
//
// CONFIG: { clients: [{client_id, client_secret, redirect_uris}],
//           accounts: [{sub, email, email_verified, name, groups, password}],
//           keys?: [private JWK, ...]   (the first one signs),
//           id_token_ttl?: seconds      (negative: already expired when issued),
//           port?: number }             (0 or absent: any free port)
//
// When listening it prints one JSON line to stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"keys":[...private JWKs in use...]}
// so the caller learns the port and can restart it later with the same port
// and a new key in front of the old ones (key rotation). It stops when stdin
// closes or on SIGTERM. GET /_test/requests answers how many discovery, JWKS
// and token requests it served.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

function generateKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

if (process.argv[2] === '--generate-key') {
  process.stdout.write(`${JSON.stringify(generateKey())}\n`);
  process.exit(0);
}

const configPath = process.argv[2] ?? process.env.STRATA_OIDC_CONFIG;
if (!configPath) {
  console.error('usage: provider.mjs CONFIG.json [PORT]  (or STRATA_OIDC_CONFIG=CONFIG.json)');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const keys = config.keys?.length ? config.keys : [generateKey()];
const accounts = config.accounts ?? [];
const port = Number(process.argv[3] ?? config.port ?? 0);

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The issuer must carry the real port, so bind before building the provider;
// requests are only routed once it exists (the JSON line is printed after).
let route = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => route(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const { port: boundPort } = server.address();
const issuer = `http://127.0.0.1:${boundPort}`;

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys },
  // Cookie signing keys only need to outlive one process.
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The relying party reads identity from the id_token alone, so the scope's
  // claims go into it even though an access token is issued too.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  // Our own pages below check the password; the dev ones accept anything.
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Only positive TTLs are accepted here; negative ones are handled below.
  ...(config.id_token_ttl > 0 ? { ttl: { IdToken: config.id_token_ttl } } : {}),
  async findAccount(_ctx, id) {
    const account = accounts.find((a) => a.sub === id);
    if (!account) return undefined;
    return {
      accountId: account.sub,
      async claims() {
        const { sub, email, email_verified, name, groups } = account;
        return { sub, email, email_verified, name, groups };
      },
    };
  },
});

// oidc-provider refuses a TTL below one second; a test that needs an id_token
// that is already expired asks for a negative one, so pin the expiry instead.
if (config.id_token_ttl < 0) {
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = function issueExpired(options = {}) {
    const expiresAt = Math.floor(Date.now() / 1000) + config.id_token_ttl;
    return issue.call(this, options.use === 'idtoken' ? { ...options, expiresAt } : options);
  };
}

function loginPage(res, uid, error) {
  res.statusCode = error ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html>
<html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <input type="text" name="login" autofocus>
  <input type="password" name="password">
  <button type="submit">Sign in</button>
</form>
</body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The pages a person would see: a login form that checks the password, and
// a consent step granted without asking (the tests are about the RP).
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session, grantId } = details;

  if (prompt.name === 'login' && action === undefined && req.method === 'GET') {
    return loginPage(res, uid);
  }
  if (prompt.name === 'login' && action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const account = accounts.find((a) => a.email === login || a.sub === login);
    if (!account || account.password !== form.get('password')) {
      return loginPage(res, uid, 'Invalid email or password.');
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
      mergeWithLastSubmission: true,
    });
  }
  res.statusCode = 400;
  res.end(`unexpected ${req.method} for prompt ${prompt.name}`);
}

// What relying parties fetched, for the tests that bound it (one discovery
// per cache period, one JWKS per rotation): GET /_test/requests.
const requests = { discovery: 0, jwks: 0, token: 0 };
const counted = { '/.well-known/openid-configuration': 'discovery', '/jwks': 'jwks', '/token': 'token' };

const callback = provider.callback();
route = (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/_test/requests') {
    res.setHeader('Content-Type', 'application/json');
    return res.end(JSON.stringify(requests));
  }
  if (counted[path]) requests[counted[path]] += 1;
  const match = /^\/interaction\/([^/?]+)(?:\/([^/?]+))?(?:\?|$)/.exec(req.url);
  if (!match) return callback(req, res);
  return interaction(req, res, match[1], match[2]).catch((err) => {
    // An expired or unknown interaction: say so, like oidc-provider would.
    res.statusCode = err.statusCode ?? 500;
    res.end(`${err.name}: ${err.error_description ?? err.message}`);
  });
};

process.stdout.write(`${JSON.stringify({ issuer, port: boundPort, keys })}\n`);

// Nothing to flush: the provider keeps its state in memory only.
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
// The parent holds our stdin: when it goes away, so do we.
process.stdin.on('end', stop).on('close', stop).resume();
