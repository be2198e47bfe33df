// How numbers, values and times read on the page.

export function rate(perMinute) {
  if (perMinute === 0) return "0";
  if (perMinute < 0.1) return perMinute.toFixed(3);
  if (perMinute < 10) return perMinute.toFixed(2);
  return Math.round(perMinute).toLocaleString();
}

export function value(v) {
  if (typeof v === "number") return Number(v.toPrecision(8)).toLocaleString();
  if (typeof v === "boolean") return v ? "true" : "false";
  return String(v);
}

export function ago(ms, now = Date.now()) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 90) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 36) return `${h} h ago`;
  return new Date(ms).toLocaleString();
}

export function clock(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Kronos time (100 ns ticks since the epoch) as epoch milliseconds.
export function kronosToMs(t) {
  return Math.floor(t / 10_000);
}
