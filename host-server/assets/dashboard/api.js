// The session and the server: log in, call the API with the access token
// (refreshing it once when it expires), and keep a live WebSocket open.
// The access token lives in memory only; the refresh token in this tab's
// sessionStorage, so a reload keeps the login and closing the tab ends it.

const REFRESH_KEY = "solarwire.refresh";
let access = null;
let user = null;
let refreshing = null;

/** Thrown for any answer that is not 2xx: `status`, `code` and `message`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? "http_error";
  }
}

function keep(tokens) {
  access = tokens.access_token;
  user = tokens.user;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
}

async function post(path, fields) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

/** Logs in with the OAuth2 password form. */
export async function login(username, password) {
  keep(await post("/api/v1/auth/login", { grant_type: "password", username, password }));
  return user;
}

/** Exchanges the refresh token (it rotates); false when the login is over. */
export async function refresh() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return false;
  refreshing ??= post("/api/v1/auth/refresh", { grant_type: "refresh_token", refresh_token: token })
    .then((tokens) => { keep(tokens); return true; })
    .catch(() => { forget(); return false; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

function forget() {
  access = null;
  user = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

/** Logs out: the server revokes the refresh token. */
export async function logout() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (token) await post("/api/v1/auth/logout", { refresh_token: token }).catch(() => {});
}

/** The logged-in user, resuming a login kept in this tab if there is one. */
export async function currentUser() {
  if (user) return user;
  return (await refresh()) ? user : null;
}

/** GETs from the API; refreshes an expired token once. */
async function get(path) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await fetch(path, { headers: access ? { authorization: `Bearer ${access}` } : {} });
    if (r.status === 401 && attempt === 0 && (await refresh())) continue;
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    return r;
  }
  throw new ApiError(401, { error: "unauthorized", message: "log in again" });
}

/** GETs JSON from the API. */
export async function api(path) {
  return (await get(path)).json();
}

/** GETs a file (e.g. CSV) from the API. */
export async function download(path) {
  return (await get(path)).blob();
}

/** The live feed: calls `onMessage(json)` per message and `onState(text)`
 * on connection changes; reconnects with backoff; pings every 25 s. */
export function live(onMessage, onState) {
  let socket = null;
  let delay = 1000;
  let closed = false;
  let pinger = null;
  const open = async () => {
    if (closed) return;
    if (!access && !(await refresh())) return onState("logged out");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(access)}`);
    socket.onopen = () => {
      delay = 1000;
      onState("live");
      pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), 25000);
    };
    socket.onmessage = (e) => {
      try { onMessage(JSON.parse(e.data)); } catch (err) { console.warn("bad live message", err); }
    };
    socket.onclose = async () => {
      clearInterval(pinger);
      if (closed) return;
      onState("reconnecting");
      // The token may have expired: refresh before trying again.
      await refresh();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  open();
  return { close() { closed = true; clearInterval(pinger); socket?.close(); } };
}
