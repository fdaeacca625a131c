// Sign-in through the city's OpenID Connect provider: authorization code + PKCE (S256).
//
// GET /api/auth/config says how this platform signs people in. With {"mode": "oidc"},
// the token box is replaced by a "Sign in with your city account" button; the
// provider sends the browser back here with ?code=&state=, which is traded (with the
// PKCE verifier kept in sessionStorage) for an access token at the provider's token
// endpoint, then handed to the console's sign-in entry point `window.rtccSignIn(token)`.
// Without OIDC nothing here changes the page. No client secret exists: the console
// is a public client. Web Crypto needs a secure context (https, or 127.0.0.1/localhost).
"use strict";

(function () {
  const KEY = "rtcc-oidc-request";

  function b64url(bytes) {
    let text = "";
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString(size) {
    return b64url(crypto.getRandomValues(new Uint8Array(size)));
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  async function discover(config) {
    return getJson(config.issuer.replace(/\/$/, "") + "/.well-known/openid-configuration");
  }

  function redirectUri() {
    return location.origin + "/";
  }

  // Send the browser to the provider's sign-in page.
  async function begin(config) {
    const meta = await discover(config);
    const verifier = randomString(48);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = randomString(16);
    sessionStorage.setItem(KEY, JSON.stringify({ verifier, state, hash: location.hash }));
    const params = new URLSearchParams({
      client_id: config.client_id,
      redirect_uri: redirectUri(),
      response_type: "code",
      scope: config.scopes.join(" "),
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    if (config.resource) params.set("resource", config.resource);
    location.assign(meta.authorization_endpoint + "?" + params.toString());
  }

  // Back from the provider: trade the code for an access token (or throw saying why).
  async function complete(config, query) {
    const pending = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
    const back = location.pathname + (pending && pending.hash ? pending.hash : "");
    history.replaceState(null, "", back);
    if (query.get("error")) throw new Error(query.get("error_description") || query.get("error"));
    if (!pending || pending.state !== query.get("state")) throw new Error("the sign-in answer does not match a request from this page; sign in again");
    const meta = await discover(config);
    const response = await fetch(meta.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: query.get("code"),
        redirect_uri: redirectUri(),
        client_id: config.client_id,
        code_verifier: pending.verifier,
      }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) throw new Error(body.error_description || body.error || "the provider refused the code");
    return body.access_token;
  }

  function showButton(config) {
    const form = document.getElementById("signin-form");
    const section = document.getElementById("signin");
    if (!section) return;
    if (form) form.hidden = true;
    for (const p of section.querySelectorAll("p:not([role=alert])")) p.hidden = true;
    const button = document.createElement("button");
    button.id = "oidc-signin";
    button.type = "button";
    button.textContent = "Sign in with your city account";
    button.addEventListener("click", () => begin(config).catch(fail));
    section.insertBefore(button, document.getElementById("signin-error"));
  }

  function fail(error) {
    const out = document.getElementById("signin-error");
    if (out) out.textContent = "Sign-in failed: " + error.message;
  }

  async function start() {
    const config = await getJson("/api/auth/config").catch(() => ({ mode: "token" }));
    window.rtccAuthConfig = config;
    if (config.mode !== "oidc") return;
    showButton(config);
    const query = new URLSearchParams(location.search);
    if (!query.has("code") && !query.has("error")) return;
    try {
      const token = await complete(config, query);
      await window.rtccSignIn(token);
    } catch (error) {
      fail(error);
    }
  }

  window.rtccOidc = { begin: () => begin(window.rtccAuthConfig), start };
  start();
})();
