// The dashboard: login, the fleet, one device (live power, history, the
// month's energy, alerts, firmware, configuration, commands, faults). Routes are URL hashes: `#/` and `#/device/ID`.

import { api, ApiError, currentUser, download, live, login, logout } from "./api.js";
import { BarChart, LineChart } from "./chart.js";
import { loadManagement } from "./manage.js";
import { alertList, duration, energy, fleetRows, h, pill, summary, toast } from "./views.js";

const $ = (id) => document.getElementById(id);
const MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const LIVE_WINDOW = 15 * MINUTE;
const RANGES = { "6h": [6 * HOUR, "1m"], "24h": [DAY, "5m"], "7d": [7 * DAY, "30m"], "30d": [30 * DAY, "2h"] };
const REGISTERS = ["Pac", "Vac1", "Iac1", "Fac1", "Vpv1", "Vpv2", "Ipv1", "Ipv2", "Temp", "Pow"];
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

let feed = null;
let device = null; // the open device page: { id, live, history, energy, range, register }
let fleetTimer = null;

function show(view) {
  for (const v of ["login", "fleet", "device"]) $(`${v}-view`).hidden = v !== view;
  document.body.dataset.view = view;
}

async function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("fleet-filter").addEventListener("input", () => loadFleet());
  $("history-register").replaceChildren(...REGISTERS.map((r) => Object.assign(h("option", "", r), { value: r })));
  $("history-register").addEventListener("change", () => loadHistory());
  for (const b of $("history-range").querySelectorAll("button")) {
    b.addEventListener("click", () => {
      for (const o of $("history-range").querySelectorAll("button")) o.classList.toggle("active", o === b);
      loadHistory();
    });
  }
  $("history-csv").addEventListener("click", downloadCsv);
  window.addEventListener("hashchange", route);
  fetch("/inspector/", { method: "HEAD" }).then((r) => { $("inspector-link").hidden = !r.ok; }).catch(() => {});
  const user = await currentUser();
  if (user) signedIn(user);
  else show("login");
}

async function onLogin(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    signedIn(await login($("username").value.trim(), $("password").value));
    $("password").value = "";
  } catch (e) {
    $("login-error").textContent = e instanceof ApiError && e.status === 429
      ? "Too many attempts; wait a minute."
      : e.message;
  }
}

async function onLogout() {
  feed?.close();
  feed = null;
  await logout();
  $("nav").hidden = $("logout").hidden = $("live-state").hidden = true;
  $("whoami").textContent = "";
  show("login");
}

function signedIn(user) {
  $("whoami").textContent = `${user.name} (${user.role})`;
  $("nav").hidden = $("logout").hidden = $("live-state").hidden = false;
  feed ??= live(onLive, (state) => {
    $("live-state").textContent = state;
    $("live-state").className = state === "live" ? "pill online" : "pill";
    if (state === "logged out") onLogout();
  });
  route();
}

function route() {
  clearInterval(fleetTimer);
  const match = location.hash.match(/^#\/device\/(.+)$/);
  if (match) return openDevice(decodeURIComponent(match[1]));
  device = null;
  show("fleet");
  loadFleet();
  fleetTimer = setInterval(loadFleet, 15000);
}

async function guarded(work) {
  try {
    await work();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return onLogout();
    toast(e.message);
  }
}

function loadFleet() {
  return guarded(async () => {
    const q = encodeURIComponent($("fleet-filter").value.trim());
    const [fleet, stats, alerts] = await Promise.all([
      api(`/api/v1/devices?limit=200&tz=${encodeURIComponent(zone)}${q ? `&q=${q}` : ""}`),
      api("/api/v1/stats"),
      api("/api/v1/alerts?open=true&limit=50"),
    ]);
    summary($("fleet-summary"), stats);
    fleetRows($("fleet-table").querySelector("tbody"), fleet.devices, (id) => {
      location.hash = `#/device/${encodeURIComponent(id)}`;
    });
    $("fleet-empty").hidden = fleet.total > 0;
    alertList($("fleet-alerts"), alerts.alerts, { withDevice: true });
  });
}

function openDevice(id) {
  show("device");
  $("device-title").textContent = id;
  device = {
    id,
    live: new LineChart($("live-chart"), { unit: "W", windowMs: LIVE_WINDOW, emptyText: "waiting for uploads…" }),
    history: new LineChart($("history-chart"), { unit: "" }),
    energy: new BarChart($("energy-chart"), { unit: "kWh" }),
  };
  return guarded(async () => {
    const fleet = await api(`/api/v1/devices?q=${encodeURIComponent(id)}&limit=200&tz=${encodeURIComponent(zone)}`);
    const d = fleet.devices.find((x) => x.device_id === id);
    if (!d) throw new Error(`no device ${id}`);
    $("device-title").textContent = d.name ? `${id} · ${d.name}` : id;
    pill($("device-status"), d.status);
    $("device-power").textContent = d.power_w === null ? "–" : `${Math.round(d.power_w)} W`;
    await Promise.all([loadLive(d), loadHistory(), loadEnergy(), loadAlerts(), loadManagement(id, $)]);
  });
}

/** The live chart starts with the device's last 15 minutes of samples. */
async function loadLive(d) {
  if (!d.power_t_ms) return device.live.setData([]);
  const from = d.power_t_ms - LIVE_WINDOW;
  const history = await api(`/api/v1/devices/${encodeURIComponent(d.device_id)}/history?registers=Pac&from=${from}&to=${d.power_t_ms + 1}&limit=2000`);
  device.live.setData(history.samples.map((s) => ({ t: s.t_ms, v: s.values.Pac ?? null })));
}

function historyQuery() {
  const range = $("history-range").querySelector("button.active").dataset.range;
  const [span, step] = RANGES[range];
  const to = Date.now();
  return `/api/v1/devices/${encodeURIComponent(device.id)}/series?register=${$("history-register").value}&from=${to - span}&to=${to}&step=${step}&agg=avg`;
}

function loadHistory() {
  if (!device) return;
  return guarded(async () => {
    const query = historyQuery();
    const s = await api(query);
    device.history.unit = s.unit;
    const to = Date.now();
    device.history.setData(s.points.map((p) => ({ t: p.t_ms, v: p.value })), [s.from, to]);
  });
}

async function downloadCsv(event) {
  event.preventDefault();
  await guarded(async () => {
    const link = h("a");
    link.href = URL.createObjectURL(await download(`${historyQuery()}&format=csv`));
    link.download = `${device.id}-${$("history-register").value}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  });
}

async function loadEnergy() {
  const e = await api(`/api/v1/devices/${encodeURIComponent(device.id)}/energy?period=month&tz=${encodeURIComponent(zone)}`);
  $("energy-total").textContent = `${energy(e.total_wh)} in ${e.at}` + (e.missing_s ? ` · ${duration(e.missing_s)} without data` : "");
  device.energy.setData(e.buckets.map((b) => ({
    label: String(Number(b.label.slice(8))),
    title: b.label,
    value: b.energy_wh / 1000,
    partial: !b.complete,
    note: b.missing_s ? `${duration(b.missing_s)} missing` : "complete",
  })));
}

async function loadAlerts() {
  const a = await api(`/api/v1/alerts?device=${encodeURIComponent(device.id)}&limit=50`);
  alertList($("device-alerts"), a.alerts);
}

function onLive(message) {
  if (message.type === "sample") {
    const points = message.samples.map((s) => ({ t: s.t_ms, v: s.values.Pac ?? null })).filter((p) => p.v !== null);
    const last = points[points.length - 1];
    const row = document.querySelector(`#fleet-table tr[data-device="${CSS.escape(message.device_id)}"]`);
    if (row && last) row.querySelector(".power").textContent = `${Math.round(last.v)} W`;
    if (device && device.id === message.device_id && points.length) {
      device.live.append(points);
      $("device-power").textContent = `${Math.round(last.v)} W`;
      pill($("device-status"), "online");
    }
  } else if (message.type === "alert") {
    const a = message.alert;
    toast(`${message.event === "opened" ? "Alert" : "Cleared"}: ${a.device_id} · ${a.rule_name ?? a.kind} · ${a.message}`);
    if (device && device.id === a.device_id) guarded(loadAlerts);
    else if (!device) loadFleet();
  } else if (message.type === "device_status") {
    if (device && device.id === message.device_id) pill($("device-status"), message.status);
    const row = document.querySelector(`#fleet-table tr[data-device="${CSS.escape(message.device_id)}"]`);
    if (row) pill(row.querySelector(".pill"), message.status);
  }
}

start();
