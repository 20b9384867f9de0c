// Small SVG charts of our own: a time line chart and a bar chart, with
// axes, "nice" value ticks, local-time ticks, a tooltip, and a redraw
// whenever the container changes size.

const NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 22, right: 14, bottom: 26, left: 56 };
const SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const TIME_STEPS = [
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY,
];

function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

/** Round numbers covering [min, max]: about `count` ticks at 1, 2 or 5 × 10^n. */
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toFixed(10)));
  return { lo, hi, step, ticks };
}

/** Local-time ticks between t0 and t1, at most `max` of them, on round times. */
export function timeTicks(t0, t1, max = 8) {
  const span = Math.max(t1 - t0, 1);
  const step = TIME_STEPS.find((s) => span / s <= max) ?? Math.ceil(span / max / DAY) * DAY;
  // Align to local midnight's grid, so "06:00" means 06:00 where the reader is.
  const offset = -new Date(t0).getTimezoneOffset() * MINUTE;
  const first = Math.ceil((t0 + offset) / step) * step - offset;
  const ticks = [];
  for (let t = first; t <= t1; t += step) ticks.push(t);
  return { step, ticks };
}

/** A time label suited to the tick step. */
export function formatTime(t, step) {
  const d = new Date(t);
  const two = (n) => String(n).padStart(2, "0");
  if (step >= DAY) return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return step < MINUTE ? `${hm}:${two(d.getSeconds())}` : hm;
}

/** A number for people: at most 3 significant decimals, thousands grouped. */
export function formatValue(v, unit = "") {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${v.toLocaleString(undefined, { maximumFractionDigits: digits })}${unit ? " " + unit : ""}`;
}

/** Base: an SVG in a container, redrawn on resize, with a tooltip. */
class Chart {
  constructor(container, { unit = "" } = {}) {
    this.container = container;
    this.unit = unit;
    this.container.replaceChildren();
    this.root = svg("svg", { role: "img" }, container);
    this.tip = document.createElement("div");
    this.tip.className = "tooltip";
    this.tip.hidden = true;
    container.appendChild(this.tip);
    this.observer = new ResizeObserver(() => this.render());
    this.observer.observe(container);
    this.root.addEventListener("mousemove", (e) => this.hover(e));
    this.root.addEventListener("mouseleave", () => this.unhover());
  }

  size() {
    const width = Math.max(this.container.clientWidth, 120);
    const height = Math.max(this.container.clientHeight, 100);
    return { width, height, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
  }

  frame() {
    this.root.replaceChildren();
    const s = this.size();
    this.root.setAttribute("viewBox", `0 0 ${s.width} ${s.height}`);
    this.plot = svg("g", { transform: `translate(${MARGIN.left},${MARGIN.top})` }, this.root);
    return s;
  }

  yAxis(ticks, y, w) {
    const grid = svg("g", { class: "grid" }, this.plot);
    const axis = svg("g", { class: "axis" }, this.plot);
    for (const v of ticks) {
      svg("line", { x1: 0, x2: w, y1: y(v), y2: y(v) }, grid);
      svg("text", { x: -8, y: y(v), "text-anchor": "end", "dominant-baseline": "middle" }, axis)
        .textContent = formatValue(v);
    }
    svg("text", { x: -8, y: -12, "text-anchor": "end" }, axis).textContent = this.unit;
  }

  empty(s, text) {
    svg("text", { class: "empty", x: s.w / 2, y: s.h / 2, "text-anchor": "middle" }, this.plot).textContent = text;
  }

  showTip(x, y, text) {
    this.tip.textContent = text;
    this.tip.hidden = false;
    this.tip.style.left = `${x + MARGIN.left}px`;
    this.tip.style.top = `${y + MARGIN.top}px`;
  }

  unhover() {
    this.tip.hidden = true;
    this.cursor?.remove();
    this.cursor = null;
  }
}

/** A line over time; `null` values break the line (gaps stay visible). */
export class LineChart extends Chart {
  constructor(container, options = {}) {
    super(container, options);
    this.points = [];
    this.windowMs = options.windowMs ?? null;
    this.emptyText = options.emptyText ?? "no data in this range";
    this.range = null;
  }

  /** Replaces the points (`[{t, v}]`, sorted by t); `range` fixes the x axis. */
  setData(points, range = null) {
    this.points = points;
    this.range = range;
    this.render();
  }

  /** Adds newer points and keeps only the last `windowMs` of them. */
  append(points) {
    const merged = this.points.concat(points).sort((a, b) => a.t - b.t);
    const last = merged.length ? merged[merged.length - 1].t : 0;
    this.points = this.windowMs ? merged.filter((p) => p.t >= last - this.windowMs) : merged;
    this.render();
  }

  render() {
    const s = this.frame();
    const known = this.points.filter((p) => p.v !== null);
    this.root.dataset.points = String(known.length);
    if (!known.length && !this.range) {
      this.empty(s, this.emptyText);
      return;
    }
    const t0 = this.range ? this.range[0] : known[0].t;
    let t1 = this.range ? this.range[1] : known[known.length - 1].t;
    if (t1 <= t0) t1 = t0 + MINUTE;
    const values = known.map((p) => p.v);
    const { lo, hi, ticks } = niceTicks(Math.min(0, ...values), Math.max(...values, 1));
    const x = (t) => ((t - t0) / (t1 - t0)) * s.w;
    const y = (v) => s.h - ((v - lo) / (hi - lo)) * s.h;
    this.scale = { x, y, t0, t1, w: s.w };
    this.yAxis(ticks, y, s.w);
    const axis = svg("g", { class: "axis" }, this.plot);
    const time = timeTicks(t0, t1, Math.max(2, Math.floor(s.w / 90)));
    for (const t of time.ticks) {
      svg("line", { x1: x(t), x2: x(t), y1: s.h, y2: s.h + 4 }, axis);
      svg("text", { x: x(t), y: s.h + 17, "text-anchor": "middle" }, axis).textContent = formatTime(t, time.step);
    }
    if (!known.length) {
      this.empty(s, this.emptyText);
      return;
    }
    // Segments between gaps: a path per run of known values, with an area under it.
    let run = [];
    const runs = [];
    for (const p of this.points) {
      if (p.v === null) {
        if (run.length) runs.push(run);
        run = [];
      } else run.push(p);
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      const d = r.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
      if (r.length > 1) {
        const base = y(Math.max(lo, 0)).toFixed(1);
        svg("path", { class: "area", d: `${d}L${x(r[r.length - 1].t).toFixed(1)},${base}L${x(r[0].t).toFixed(1)},${base}Z` }, this.plot);
      }
      if (r.length > 1) svg("path", { class: "line", d }, this.plot);
      else svg("circle", { class: "dot", cx: x(r[0].t), cy: y(r[0].v), r: 3 }, this.plot);
    }
  }

  hover(event) {
    const known = this.points.filter((p) => p.v !== null);
    if (!known.length || !this.scale) return;
    const box = this.root.getBoundingClientRect();
    const px = event.clientX - box.left - MARGIN.left;
    const { x, y, t0, t1, w } = this.scale;
    const t = t0 + (px / w) * (t1 - t0);
    let best = known[0];
    for (const p of known) if (Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
    this.cursor?.remove();
    this.cursor = svg("g", {}, this.plot);
    svg("line", { class: "cursor", x1: x(best.t), x2: x(best.t), y1: 0, y2: this.size().h }, this.cursor);
    svg("circle", { class: "dot", cx: x(best.t), cy: y(best.v), r: 4 }, this.cursor);
    const when = new Date(best.t).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
    this.showTip(x(best.t), y(best.v), `${when} · ${formatValue(best.v, this.unit)}`);
  }
}

/** Bars with labels; `note` adds to the tooltip, `partial` lightens a bar. */
export class BarChart extends Chart {
  constructor(container, options = {}) {
    super(container, options);
    this.bars = [];
  }

  /** `[{label, value, note, partial}]`. */
  setData(bars) {
    this.bars = bars;
    this.render();
  }

  render() {
    const s = this.frame();
    this.root.dataset.bars = String(this.bars.length);
    if (!this.bars.length) {
      this.empty(s, "no data");
      return;
    }
    const { lo, hi, ticks } = niceTicks(0, Math.max(...this.bars.map((b) => b.value), 1));
    const y = (v) => s.h - ((v - lo) / (hi - lo)) * s.h;
    this.yAxis(ticks, y, s.w);
    const slot = s.w / this.bars.length;
    const every = Math.ceil(this.bars.length / Math.max(1, Math.floor(s.w / 40)));
    const axis = svg("g", { class: "axis" }, this.plot);
    this.slot = slot;
    this.bars.forEach((b, i) => {
      const height = Math.max(0, s.h - y(b.value));
      svg("rect", {
        class: b.partial ? "bar partial" : "bar",
        x: i * slot + slot * 0.15, width: slot * 0.7, y: s.h - height, height,
      }, this.plot);
      if (i % every === 0) {
        svg("text", { x: i * slot + slot / 2, y: s.h + 17, "text-anchor": "middle" }, axis).textContent = b.label;
      }
    });
  }

  hover(event) {
    if (!this.bars.length || !this.slot) return;
    const box = this.root.getBoundingClientRect();
    const i = Math.floor((event.clientX - box.left - MARGIN.left) / this.slot);
    const b = this.bars[i];
    if (!b) return this.unhover();
    const s = this.size();
    const text = `${b.title ?? b.label}: ${formatValue(b.value, this.unit)}${b.note ? " · " + b.note : ""}`;
    this.showTip(i * this.slot + this.slot / 2, Math.min(s.h - 10, s.h / 2), text);
  }
}
