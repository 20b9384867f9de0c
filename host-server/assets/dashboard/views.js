// DOM pieces of the dashboard. Every value from the server goes in through
// textContent, never as HTML.

import { formatValue } from "./chart.js";

/** An element with a class and text. */
export function h(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== "") node.textContent = text;
  return node;
}

/** "12 s ago", "5 min ago", or a date. */
export function ago(t) {
  if (!t) return "never";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

/** Energy for people: Wh below 1 kWh, kWh above. */
export function energy(wh) {
  return wh >= 1000 ? formatValue(wh / 1000, "kWh") : formatValue(wh, "Wh");
}

/** "3 h 20 min" from seconds. */
export function duration(s) {
  const hours = Math.floor(s / 3600);
  const minutes = Math.round((s % 3600) / 60);
  return hours ? `${hours} h ${minutes} min` : `${minutes} min`;
}

/** A status pill. */
export function pill(node, status) {
  node.className = `pill ${status}`;
  node.textContent = status;
  return node;
}

/** The fleet summary cards. */
export function summary(container, stats) {
  const by = stats.devices?.by_status ?? {};
  const cards = [
    [String(stats.devices?.total ?? 0), "devices"],
    [String(by.online ?? 0), "online"],
    [String((by.offline ?? 0) + (by.never ?? 0)), "offline or silent"],
    [formatValue(stats.uploads_per_minute ?? 0), "uploads per minute"],
    [stats.compression_ratio ? `${Math.round(stats.compression_ratio * 100)} %` : "–", "compressed size"],
  ];
  container.replaceChildren(...cards.map(([value, label]) => {
    const card = h("div", "card");
    card.append(h("div", "value", value), h("div", "label", label));
    return card;
  }));
}

/** The fleet table's rows; `open(id)` is called on a click. */
export function fleetRows(tbody, devices, open) {
  tbody.replaceChildren(...devices.map((d) => {
    const row = h("tr");
    row.dataset.device = d.device_id;
    const name = h("td");
    name.append(h("strong", "", d.device_id));
    if (d.name) name.append(h("span", "muted", ` · ${d.name}`));
    const status = h("td");
    status.append(pill(h("span"), d.status));
    row.append(
      name,
      status,
      h("td", "muted", ago(d.last_seen_ms)),
      h("td", "num power", formatValue(d.power_w, "W")),
      h("td", "num", energy(d.energy_today_wh ?? 0)),
    );
    row.addEventListener("click", () => open(d.device_id));
    return row;
  }));
}

/** An alert list. */
export function alertList(list, alerts, { withDevice = false } = {}) {
  if (!alerts.length) {
    list.replaceChildren(h("li", "muted", "No alerts."));
    return;
  }
  list.replaceChildren(...alerts.map((a) => {
    const item = h("li", a.open ? "alert-item open" : "alert-item");
    item.dataset.alert = String(a.id);
    item.append(h("strong", "", a.rule_name ?? a.kind ?? "alert"));
    if (withDevice) item.append(h("span", "muted", a.device_id));
    item.append(h("span", "", a.message));
    const when = a.open
      ? `open since ${new Date(a.opened_ms).toLocaleString()}`
      : `closed ${new Date(a.closed_ms).toLocaleString()}`;
    item.append(h("span", "when", when));
    return item;
  }));
}

/** Shows a short message in the corner. */
export function toast(text) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 6000);
}
