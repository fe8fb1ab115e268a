// The pages' one way to call the API: JSON in, JSON out, {"error": "..."} becomes ApiError.
// Also the viewer's identity: an anonymous session id kept in this browser (upvotes, views,
// finish, watch time) and, for reactions, a user token handed over once in the URL fragment.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, token, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    keepalive: method !== "GET",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
  return data;
}

const SESSION_KEY = "mediaq.sessionId";

// One anonymous session per browser (the seed's crypto.randomUUID() idea).
export function sessionId() {
  let id = localStorage.getItem(SESSION_KEY);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

// A token given once as #token=... (fragments never reach a server) is kept under `key` in
// this browser and removed from the address bar; later visits find it in localStorage.
export function storedToken(key) {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const given = params.get("token");
  if (given) {
    localStorage.setItem(key, given);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  return localStorage.getItem(key);
}

export function forgetToken(key) {
  localStorage.removeItem(key);
}

export const USER_TOKEN_KEY = "mediaq.userToken";
export const ADMIN_TOKEN_KEY = "mediaq.adminToken";

// An answer that means the admin token is missing, expired or not an admin's.
export function signInRefused(error) {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}

// The admin pages' sign-in, in one place: the token kept in this browser (given once as
// #token=... or typed into the page's #login form), API calls that carry it, and on a 401 or
// 403 the token forgotten and the form shown again with the answer's message. `run` draws
// the page once signed in; `onSignOut` stops what the page keeps doing (a refresh timer).
// Returns {start, call, token}: `start()` signs in (or shows the form), `call` is `api` with
// the token, `token()` the token itself.
export function adminSession(run, { onSignOut } = {}) {
  let token = null;
  const byId = (id) => document.getElementById(id);
  function showLogin(message) {
    byId("app").hidden = true;
    byId("login").hidden = false;
    byId("login-error").hidden = !message;
    byId("login-error").textContent = message || "";
    if (onSignOut) onSignOut();
  }
  function start() {
    token = storedToken(ADMIN_TOKEN_KEY);
    if (!token) {
      showLogin("");
      return;
    }
    byId("login").hidden = true;
    byId("app").hidden = false;
    run();
  }
  byId("login").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(ADMIN_TOKEN_KEY, byId("token").value.trim());
    start();
  });
  return {
    start,
    token: () => token,
    call(path, options = {}) {
      return api(path, { ...options, token }).catch((error) => {
        if (signInRefused(error)) {
          forgetToken(ADMIN_TOKEN_KEY);
          showLogin(error.message);
        }
        throw error;
      });
    },
  };
}
