// Timeseries view, from one of two sources:
// - stored rollups: the timeseries that [[rollups]] rules keep, read through /v1/timeseries;
// - a stream field rolled up now by the server with aion.timeseries (/ui/api/rollup), for
//   streams no rule covers (an Initial State bucket's values, say).
// Every picker lives in the URL hash, so a chart can be bookmarked.

import { ApiError, getJSON } from "./api.js";
import * as fmt from "./format.js";
import { fitWidth, lineChart } from "./chart.js";

const REFRESH_MS = 10000;
const STORED_STEPS = 60;
const STREAM_INTERVALS = [["minute", "minute"], ["5min", "5 minutes"], ["hour", "hour"],
  ["day", "day"]];
const REDUCTIONS = ["mean", "min", "max", "sum", "count", "rate"];
// Transforms that add up what a bucket holds: charted from zero.
const TOTALS = ["sum", "count", "rate"];
// What a stored timeseries of each type can be reduced with ("" is its raw value).
const TRANSFORMS_BY_TYPE = {
  series: REDUCTIONS, histogram: REDUCTIONS, set: REDUCTIONS, count: ["", "rate"], gauge: [""],
};

// The namespace's stored rollups, from /v1/timeseries (relative to /ui/), or [] when there
// are none: rules and their timeseries belong to the namespace their rule reads.
async function storedRollups(namespace) {
  let response;
  try {
    const query = new URLSearchParams({ namespace });
    response = await fetch(`../v1/timeseries?${query}`, { headers: { Accept: "application/json" } });
  } catch {
    return [];
  }
  if (!response.ok) return [];
  const body = await response.json();
  const found = [];
  for (const rule of body.rollups ?? []) {
    for (const name of rule.names ?? []) {
      found.push({ rule: rule.rule, name, type: rule.type, intervals: Object.keys(rule.intervals) });
    }
  }
  return found;
}

function options(select, pairs, selected) {
  select.replaceChildren(...pairs.map(([value, text]) => new Option(text, value, false,
    value === selected)));
  if (![...select.options].some((o) => o.selected) && select.options.length) {
    select.options[0].selected = true;
  }
}

export function createTimeseriesView(ctx) {
  const $ = (id) => document.getElementById(id);
  const form = $("ts-form");
  const source = $("ts-source");
  const storedFields = $("ts-stored-fields");
  const streamFields = $("ts-stream-fields");
  const nameSelect = $("ts-name");
  const streamSelect = $("ts-stream");
  const field = $("ts-field");
  const keySelect = $("ts-key");
  const interval = $("ts-interval");
  const transform = $("ts-transform");
  const chart = $("ts-chart");
  const note = $("ts-note");
  let stored = [];
  let params = {};
  let timer = null;
  let generation = 0;

  const chosenStored = () => stored.find((s) => `${s.rule}\t${s.name}` === nameSelect.value);

  // The bucket keys of the stream, so a bucket's values can be charted one key at a time.
  async function fillKeys(mine) {
    const keys = [];
    if (params.stream) {
      const data = await getJSON("bucket", { namespace: ctx.namespace(), stream: params.stream,
        points: 2 });
      if (mine !== generation) return;
      keys.push(...data.keys.map((k) => k.key));
    }
    if (params.key && !keys.includes(params.key)) keys.unshift(params.key);
    options(keySelect, [["", "(any)"], ...keys.map((k) => [k, k])], params.key || "");
  }

  function fillPickers() {
    const fromStored = source.value === "stored";
    storedFields.hidden = !fromStored;
    streamFields.hidden = fromStored;
    if (fromStored) {
      options(nameSelect, stored.map((s) => [`${s.rule}\t${s.name}`,
        stored.filter((o) => o.name === s.name).length > 1 ? `${s.name} (${s.rule})` : s.name]),
      `${params.rule}\t${params.name}`);
      const chosen = chosenStored();
      options(interval, (chosen?.intervals ?? []).map((i) => [i, i]), params.interval);
      const allowed = TRANSFORMS_BY_TYPE[chosen?.type] ?? [""];
      options(transform, allowed.map((t) => [t, t || "(value)"]), params.transform ?? allowed[0]);
    } else {
      options(interval, STREAM_INTERVALS, params.interval || "minute");
      options(transform, REDUCTIONS.map((t) => [t, t]), params.transform || "mean");
      field.value = params.field || "value";
    }
  }

  async function readStored() {
    const chosen = chosenStored();
    if (!chosen) return null;
    const query = new URLSearchParams({ namespace: ctx.namespace(), rule: chosen.rule,
      interval: interval.value, steps: String(STORED_STEPS) });
    // Every reduction of an empty bucket reads as 0; asking for the count beside it tells an
    // empty bucket (a gap, marked on the time axis) from a real zero.
    const reduced = TRANSFORMS_BY_TYPE[chosen.type] === REDUCTIONS &&
      REDUCTIONS.includes(transform.value);
    const pair = reduced && transform.value !== "count";
    if (transform.value) query.set("transform", pair ? `count,${transform.value}` : transform.value);
    const response = await fetch(`../v1/timeseries/${encodeURIComponent(chosen.name)}/series?${query}`);
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(body?.error?.message ?? `${response.status}`);
    const number = (v) => (typeof v === "number" ? v : null);
    const value = (v) => {
      if (pair) return v?.count ? number(v[transform.value]) : null;
      if (reduced) return v ? number(v) : null; // a count of 0: nothing in the bucket
      return number(v);
    };
    const points = body.datapoints.map(([v, ms]) => [ms, value(v)]);
    const what = `${chosen.name}${transform.value ? ` (${transform.value})` : ""}`;
    return { points, what, detail: `${chosen.type} rollup of rule ${chosen.rule}` };
  }

  async function readStream() {
    if (!streamSelect.value) return null;
    const data = await getJSON("rollup", { namespace: ctx.namespace(), stream: streamSelect.value,
      field: field.value, key: keySelect.value, interval: interval.value,
      transform: transform.value });
    const what = `${data.transform} of ${data.field}${keySelect.value ? ` (${keySelect.value})` : ""}`;
    const cap = data.truncated ? " (cap reached: older events not read)" : "";
    return { points: data.points, what, detail: `${data.scanned} events read${cap}` };
  }

  // What the buckets with data say, never counting the empty ones: for a count or a sum the
  // total and the mean per bucket with data; otherwise the mean of the bucket values.
  function summary(points, what) {
    const held = points.map((p) => p[1]).filter((v) => v !== null);
    const parts = [`${held.length} of ${points.length} buckets hold data`];
    if (held.length) {
      const total = held.reduce((a, b) => a + b, 0);
      const mean = fmt.value(total / held.length);
      if (what === "sum" || what === "count") {
        parts.push(`total ${fmt.value(total)}`, `${mean} per bucket with data`);
      } else {
        parts.push(`mean ${mean} over the buckets with data`);
      }
    }
    return parts.join(" · ");
  }

  function clear() {
    chart.replaceChildren();
    note.textContent = "";
  }

  async function refresh() {
    const mine = generation;
    try {
      const result = source.value === "stored" ? await readStored() : await readStream();
      if (mine !== generation) return;
      ctx.clearError();
      if (!result) {
        chart.replaceChildren();
        note.textContent = source.value === "stored"
          ? "No stored rollups yet: add a [[rollups]] rule to aion.toml, or chart a stream field."
          : "Choose a stream and a numeric field.";
        return;
      }
      const per = interval.selectedOptions[0]?.textContent ?? "";
      chart.replaceChildren(lineChart(result.points, { label: `${result.what} per ${per}`,
        width: fitWidth(chart), zero: TOTALS.includes(transform.value),
        emptyLabel: "no data in this bucket" }));
      note.textContent = `${result.what} per ${per} · ${summary(result.points, transform.value)}` +
        ` · ${result.detail}`;
    } catch (exc) {
      if (mine !== generation) return;
      // The chart of the previous pick must not stand under a pick that failed.
      clear();
      ctx.showError(exc);
    }
  }

  function update() {
    const fromStored = source.value === "stored";
    const chosen = chosenStored();
    ctx.navigate("timeseries", fromStored
      ? { src: "stored", rule: chosen?.rule, name: chosen?.name, interval: interval.value,
        transform: transform.value }
      : { src: "stream", stream: streamSelect.value, field: field.value, key: keySelect.value,
        interval: interval.value, transform: transform.value },
    { replace: true });
  }
  // A new source or timeseries brings its own intervals and transforms.
  source.addEventListener("change", () => {
    params = { src: source.value, stream: params.stream };
    fillPickers();
    update();
  });
  nameSelect.addEventListener("change", () => {
    params = { ...params, interval: "", transform: undefined };
    const [rule, name] = nameSelect.value.split("\t");
    Object.assign(params, { rule, name });
    fillPickers();
    update();
  });
  form.addEventListener("change", (event) => {
    if (event.target !== source && event.target !== nameSelect) update();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    update();
  });

  return {
    async show(next) {
      const streamChanged = next.stream !== params.stream;
      generation += 1;
      const mine = generation;
      clearInterval(timer);
      stored = await storedRollups(ctx.namespace());
      if (mine !== generation) return;
      // Stored rollups first when there are any, unless the hash names a stream.
      const src = next.src || (next.stream || !stored.length ? "stream" : "stored");
      params = { ...next, src };
      source.value = src;
      source.options[0].disabled = !stored.length;
      try {
        await ctx.fillStreams(streamSelect, next.stream || "");
        if (streamChanged || keySelect.options.length <= 1) await fillKeys(mine);
      } catch (exc) {
        ctx.showError(exc);
      }
      if (mine !== generation) return;
      fillPickers();
      refresh();
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide() {
      generation += 1;
      clearInterval(timer);
    },
  };
}
