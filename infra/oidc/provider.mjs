// A real OpenID Connect provider for OpenRTCC's sign-in tests and demo (npm
// `oidc-provider`, OpenID Certified). Not for production: accounts live in a JSON
// file, keys in memory, and anyone may register a client (RFC 7591) - tests register
// one whose redirect URI is the console they started.
//
//   node infra/oidc/provider.mjs --port 9400 --config infra/oidc/users.json
//
// Issues RS256 JWT access tokens for the configured audience (RFC 8707 resource
// indicators; the audience is the default resource), carrying each user's `agency`,
// `groups`, `name` and `preferred_username` claims. Authorization code + PKCE (S256)
// is required of public clients. The login form checks the password from the file.
// Multi-factor authentication belongs to a real provider, not to OpenRTCC.

import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import Provider, { errors } from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "9400" },
    host: { type: "string", default: "127.0.0.1" },
    config: { type: "string" },
    "token-ttl": { type: "string", default: "600" },
  },
});
if (!args.config) {
  console.error("usage: provider.mjs --port N --config users.json");
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, "utf8"));
const AUDIENCE = config.audience;
const RESOURCE_SCOPE = "rtcc";
const issuer = `http://${args.host}:${args.port}`;

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };

function accountClaims(id) {
  const user = config.users[id];
  if (!user) return undefined;
  return { sub: id, name: user.name, preferred_username: id, agency: user.agency, groups: user.groups };
}

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function loginPage(uid, error) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>City sign-in</title></head><body>
<h1>City sign-in</h1>${error ? `<p id="login-error" role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>User <input name="login" id="login" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" required></label>
<button type="submit" id="login-submit">Sign in</button></form></body></html>`;
}

async function formBody(req) {
  let data = "";
  for await (const chunk of req) data += chunk;
  return new URLSearchParams(data);
}

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomUUID(), randomUUID()] },
  pkce: { required: () => true },
  scopes: ["openid", "profile"],
  claims: { openid: ["sub"], profile: ["name", "preferred_username"] },
  ttl: { AccessToken: Number(args["token-ttl"]), AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== AUDIENCE) throw new errors.InvalidTarget(`unknown resource ${resource}`);
        return {
          scope: RESOURCE_SCOPE,
          audience: AUDIENCE,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        };
      },
    },
  },
  findAccount: (_ctx, id) => {
    const claims = accountClaims(id);
    return claims && { accountId: id, claims: () => claims };
  },
  // Our API's authorisation needs the agency and groups in the access token itself.
  extraTokenClaims: (_ctx, token) => {
    if (token.kind !== "AccessToken" || !token.accountId) return undefined;
    const { sub, ...claims } = accountClaims(token.accountId) ?? {};
    return claims;
  },
  clientBasedCORS: (ctx, origin, client) =>
    client.clientAuthMethod === "none" && client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin),
  renderError: (ctx, out) => {
    ctx.type = "html";
    ctx.body = `<!doctype html><h1>Sign-in error</h1><p id="oidc-error">${escape(out.error)}: ${escape(out.error_description ?? "")}</p>`;
  },
});

// The login interaction: a form whose password is checked against the file.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name === "consent") {
    // First-party console: consent is implied (a city's provider can be set the same way).
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(" "));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (ctx.method === "GET" && !match[2]) {
    ctx.type = "html";
    ctx.body = loginPage(details.uid);
    return undefined;
  }
  if (ctx.method === "POST" && match[2]) {
    const form = await formBody(ctx.req);
    const login = form.get("login") ?? "";
    const user = config.users[login];
    if (!user || user.password !== form.get("password")) {
      ctx.status = 401;
      ctx.type = "html";
      ctx.body = loginPage(details.uid, "Unknown user or wrong password.");
      return undefined;
    }
    return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  ctx.status = 405;
  return undefined;
});

provider.listen(Number(args.port), args.host, () => {
  console.log(`oidc-provider ready at ${issuer} (audience ${AUDIENCE})`);
});
