// Small SVG charts drawn by hand: a sparkline (line or bars) and a line chart with axes.
// Values may be null (an empty bucket, or not counted): a line breaks there and the line
// chart marks the bucket with a hollow tick on its time axis; a bar is drawn as "not counted".
// A zero is a value like any other: a dot at zero.

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return null;
  // A flat series still needs a visible height.
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

// Path data through the points, starting a new segment after each gap (null value).
function linePath(points, x, y) {
  let d = "";
  let pen = "M";
  for (const [t, v] of points) {
    if (v === null || !Number.isFinite(v)) { pen = "M"; continue; }
    d += `${pen}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    pen = "L";
  }
  return d;
}

// A sparkline of values (evenly spaced). kind "bars" suits counts, "line" measurements.
export function sparkline(values, { width = 180, height = 36, kind = "line", label = "" } = {}) {
  // Stretched to its box (the line keeps its width: non-scaling stroke in the CSS).
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": label, class: `spark spark-${kind}`, preserveAspectRatio: "none" });
  const span = extent(kind === "bars" ? [0, ...values] : values);
  if (!span || values.length === 0) return svg;
  const [lo, hi] = span;
  const pad = 2;
  const y = (v) => height - pad - ((v - lo) / (hi - lo)) * (height - 2 * pad);
  if (kind === "bars") {
    const w = width / values.length;
    values.forEach((v, i) => {
      const x = (i * w + 0.5).toFixed(1);
      const bw = Math.max(w - 1, 1).toFixed(1);
      if (v === null) {
        svg.append(el("rect", { x, y: height - 3, width: bw, height: 3, class: "spark-unknown" }));
      } else if (v > 0) {
        const top = Math.min(y(v), height - 2);
        svg.append(el("rect", { x, y: top.toFixed(1), width: bw,
          height: (height - top).toFixed(1), class: "spark-bar" }));
      }
    });
    return svg;
  }
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const x = (i) => pad + i * step;
  const d = linePath(values.map((v, i) => [i, v]), x, y);
  svg.append(el("path", { d, class: "spark-line" }));
  return svg;
}

// Round tick values covering [lo, hi]: about `count` steps of 1, 2 or 5 times a power of
// ten, the first at or below lo and the last at or above hi, so the axis ends on a label.
export function niceTicks(lo, hi, count = 5) {
  const raw = (hi - lo) / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => raw <= s) ?? 10 * power;
  const ticks = [];
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= last + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs > 3 * 86_400_000) return d.toLocaleDateString([], { month: "short", day: "numeric" });
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (spanMs > 86_400_000) return `${d.toLocaleDateString([], { weekday: "short" })} ${hm}`;
  return hm;
}

function valueLabel(v) {
  const a = Math.abs(v);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(6)).toLocaleString();
}

// A line chart of [ms, value|null] points with a time axis and a value axis. `domain`
// ([start ms, end ms]) fixes the time axis, e.g. to the whole range asked for. `zero` puts
// zero on the value axis (counts and sums: a bar-like reading from the baseline).
// `emptyLabel` is the tooltip of a null point's mark ("" draws no marks).
export function lineChart(points, { width = 900, height = 280, label = "", unit = "",
  domain = null, zero = false, emptyLabel = "" } = {}) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
    class: "line-chart", preserveAspectRatio: "xMidYMid meet" });
  const m = { top: 12, right: 16, bottom: 28, left: width < 500 ? 48 : 64 };
  const values = points.map((p) => p[1]);
  const span = extent(zero && values.some((v) => v !== null) ? [0, ...values] : values);
  if (!span || points.length === 0) {
    svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle",
      class: "chart-empty" }, emptyLabel ? `No data in these ${points.length} buckets`
      : "No numeric data in this range"));
    return svg;
  }
  const [t0, t1] = domain ?? [points[0][0], points[points.length - 1][0]];
  const tSpan = Math.max(t1 - t0, 1);
  const yTicks = niceTicks(span[0], span[1], 5);
  const [lo, hi] = [yTicks[0], yTicks[yTicks.length - 1]];
  const x = (t) => m.left + ((t - t0) / tSpan) * (width - m.left - m.right);
  const y = (v) => height - m.bottom - ((v - lo) / (hi - lo)) * (height - m.top - m.bottom);

  const grid = el("g", { class: "grid" });
  const axis = el("g", { class: "axis" });
  for (const v of yTicks) {
    grid.append(el("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
    axis.append(el("text", { x: m.left - 8, y: y(v) + 4, "text-anchor": "end" },
      valueLabel(v) + unit));
  }
  for (const t of niceTimeTicks(t0, t1, width < 500 ? 3 : 6)) {
    axis.append(el("line", { x1: x(t), x2: x(t), y1: height - m.bottom, y2: height - m.bottom + 5 }));
    // Labels near an edge are anchored inward so they are not clipped.
    const anchor = x(t) > width - 40 ? "end" : x(t) < m.left + 30 ? "start" : "middle";
    axis.append(el("text", { x: x(t), y: height - 8, "text-anchor": anchor }, timeLabel(t, tSpan)));
  }
  axis.append(el("line", { x1: m.left, x2: width - m.right, y1: height - m.bottom,
    y2: height - m.bottom }));
  svg.append(grid, axis);
  svg.append(el("path", { d: linePath(points, x, y), class: "series-line" }));

  if (emptyLabel) {
    const marks = el("g", { class: "empty-marks" });
    for (const [t] of points.filter((p) => p[1] === null)) {
      const mark = el("rect", { x: (x(t) - 2.5).toFixed(1), y: height - m.bottom - 6, width: 5,
        height: 5, class: "empty-mark" });
      mark.append(el("title", {}, `${new Date(t).toLocaleString()}: ${emptyLabel}`));
      marks.append(mark);
    }
    svg.append(marks);
  }

  // Dots with native tooltips while they stay legible; a dense series is only a line.
  const shown = points.filter((p) => p[1] !== null);
  if (shown.length <= 120) {
    const dots = el("g", { class: "dots" });
    for (const [t, v] of shown) {
      const dot = el("circle", { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3,
        class: "series-dot" });
      dot.append(el("title", {}, `${new Date(t).toLocaleString()}: ${valueLabel(v)}${unit}`));
      dots.append(dot);
    }
    svg.append(dots);
  }
  return svg;
}

// Time ticks on round boundaries (minutes, hours, days) in the viewer's time zone.
function niceTimeTicks(t0, t1, count) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map(
    (minutes) => minutes * 60_000);
  const step = steps.find((s) => (t1 - t0) / s <= count) ?? steps[steps.length - 1];
  const offset = new Date(t0).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return ticks;
}

// The width to draw a chart at for its container, so text keeps its size on a phone (the SVG
// still scales with the container, e.g. when the window is resized).
export function fitWidth(container, fallback = 900) {
  const width = container.clientWidth;
  return width > 0 ? Math.max(280, Math.min(Math.round(width), 1400)) : fallback;
}
