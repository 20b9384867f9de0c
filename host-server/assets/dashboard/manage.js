// The device page's management sections: firmware updates, configuration,
// commands, fault recovery events and energy reports. Every value goes in
// through textContent (h()), never as HTML.

import { api } from "./api.js";
import { ago, h } from "./views.js";

const enc = encodeURIComponent;

/** A list of "when · what" lines, or a muted line when empty. */
function lines(list, items, empty) {
  if (!items.length) {
    list.replaceChildren(h("li", "muted", empty));
    return;
  }
  list.replaceChildren(...items.map(([when, what]) => {
    const item = h("li");
    item.append(h("span", "when", ago(when)), h("span", "", what));
    return item;
  }));
}

/** Fills the management card of device `id`. */
export async function loadManagement(id, $) {
  const [fw, config, commands, faults, energy] = await Promise.all([
    api(`/api/v1/devices/${enc(id)}/firmware?limit=8`),
    api(`/config/${enc(id)}`),
    api(`/commands/${enc(id)}/history?limit=5`),
    api(`/fault/recovery/${enc(id)}?limit=5`),
    api(`/power/energy/${enc(id)}?limit=1`),
  ]);
  const s = fw.session;
  $("device-firmware").textContent = s
    ? `update to ${s.version}: ${s.state} (${s.progress} %), ${ago(s.updated_ms)}`
    : "no update session";
  lines($("device-ota-history"), fw.history.map((e) =>
    [e.at_ms, `${e.kind}${e.version ? ` ${e.version}` : ""}${e.detail ? ` · ${e.detail}` : ""}`]), "No update history.");
  const c = config.config;
  $("device-config").textContent =
    `sampling ${c.sampling_interval} s · upload ${c.upload_interval} s · registers ${(c.registers ?? []).join(", ")}` +
    (config.is_pending ? ` · pending: ${Object.keys(config.pending_config.config_update).join(", ")}` : "") +
    (config.is_default ? " · defaults (nothing reported yet)" : "");
  lines($("device-commands"), commands.commands.map((cmd) =>
    [cmd.created_ms, `${cmd.command.action}: ${cmd.state}`]), "No commands.");
  lines($("device-faults"), faults.reports.map((r) =>
    [r.at_ms, `${r.body.fault_type} → ${r.body.recovery_action} (${r.body.success ? "recovered" : "failed"})`]), "No fault events.");
  const pm = energy.reports[0]?.body?.power_management;
  $("device-energy-report").textContent = pm
    ? `average ${pm.avg_current_ma} mA, saved ${pm.energy_saved_mah} mAh, ${ago(energy.reports[0].at_ms)}`
    : "no energy report";
}
