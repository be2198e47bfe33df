// Bucket view, as Initial State showed a bucket: one tile per key with its latest value and a
// sparkline, and the chosen key's history: a chart of its numbers, a log of its text values.
// The bucket name that /api/buckets recorded is shown beside the bucket key (the stream).

import { getJSON } from "./api.js";
import { fitWidth, lineChart, sparkline } from "./chart.js";
import * as fmt from "./format.js";

const REFRESH_MS = 5000;

export function createBucketView(ctx) {
  const select = document.getElementById("bucket-stream");
  const tiles = document.getElementById("bucket-tiles");
  const empty = document.getElementById("bucket-empty");
  const updated = document.getElementById("bucket-updated");
  const history = document.getElementById("bucket-history");
  const historyTitle = document.getElementById("history-title");
  const historyNote = document.getElementById("history-note");
  const historyChart = document.getElementById("history-chart");
  const historyLog = document.getElementById("history-log");
  const bucketName = document.getElementById("bucket-name");
  const range = document.getElementById("history-range");
  let stream = "";
  let key = "";
  let timer = null;
  let generation = 0;

  function tile(k) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tile";
    button.dataset.key = k.key;
    button.setAttribute("aria-pressed", String(k.key === key));
    const name = document.createElement("span");
    name.className = "key";
    name.textContent = k.key;
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = fmt.value(k.latest);
    value.title = fmt.value(k.latest);
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = `${fmt.ago(k.latest_ms)} · ${k.count} recent`;
    button.append(name, value, when);
    if (k.points.length > 1) {
      button.append(sparkline(k.points.map((p) => p[1]), { width: 180, height: 34,
        label: `Recent values of ${k.key}` }));
    }
    button.addEventListener("click", () => {
      // Mark the choice at once; the refresh the navigation starts redraws the tiles.
      for (const other of tiles.querySelectorAll(".tile")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      ctx.navigate("bucket", { stream, key: k.key }, { replace: true });
    });
    li.append(button);
    return li;
  }

  // A key's text values as a log, newest first: when each was written and what it said.
  function logLine([ms, text]) {
    const li = document.createElement("li");
    const when = document.createElement("time");
    when.dateTime = new Date(ms).toISOString();
    when.textContent = new Date(ms).toLocaleString();
    const value = document.createElement("span");
    value.className = "log-value";
    value.textContent = text;
    li.append(when, value);
    return li;
  }

  function clearHistory() {
    historyChart.replaceChildren();
    historyLog.replaceChildren();
    historyLog.hidden = true;
    historyNote.textContent = "";
  }

  // Nothing of the previous stream or key may stay on screen once a read failed.
  function clearAll() {
    tiles.replaceChildren();
    empty.hidden = true;
    updated.textContent = "";
    bucketName.textContent = "";
    history.hidden = true;
    clearHistory();
  }

  function failed(exc) {
    clearAll();
    ctx.showError(exc);
  }

  async function refreshHistory(mine) {
    if (!key) {
      history.hidden = true;
      return;
    }
    history.hidden = false;
    historyTitle.textContent = `History of ${key}`;
    const data = await getJSON("bucket/history", { namespace: ctx.namespace(), stream, key,
      minutes: range.value });
    if (mine !== generation) return;
    const over = `over the last ${range.selectedOptions[0].textContent}`;
    // Numbers are charted; text values are listed. A key with only text gets no empty chart.
    if (data.points.length || !data.texts.length) {
      historyChart.replaceChildren(lineChart(data.points, { domain: [data.start_ms, data.end_ms],
        width: fitWidth(historyChart), label: `${key} ${over}` }));
    } else {
      historyChart.replaceChildren();
    }
    historyLog.replaceChildren(...[...data.texts].reverse().map(logLine));
    historyLog.hidden = !data.texts.length;
    const notes = [];
    if (data.points.length || !data.texts.length) notes.push(`${data.points.length} points`);
    if (data.texts.length) {
      notes.push(data.texts.length === 1 ? "1 text value" : `${data.texts.length} text values`);
    }
    if (data.truncated) notes.push("older events not scanned (cap reached)");
    historyNote.textContent = notes.join(" · ");
  }

  async function refresh() {
    const mine = generation;
    if (!stream) {
      tiles.replaceChildren();
      history.hidden = true;
      empty.hidden = false;
      empty.textContent = "Choose a stream: a bucket written through the Initial State API, or any stream of {key, value} events.";
      return;
    }
    try {
      const data = await getJSON("bucket", { namespace: ctx.namespace(), stream });
      if (mine !== generation) return;
      ctx.clearError();
      bucketName.textContent = data.name ?? "";
      tiles.replaceChildren(...data.keys.map(tile));
      empty.hidden = data.keys.length > 0;
      empty.textContent = data.scanned
        ? "The newest events of this stream have no key and value fields."
        : "This stream has no events yet.";
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · ${data.scanned} newest events`;
      await refreshHistory(mine);
    } catch (exc) {
      if (mine === generation) failed(exc);
    }
  }

  // The picker names each bucket beside its key, as recorded by /api/buckets.
  async function fillPicker() {
    const named = await getJSON("buckets", { namespace: ctx.namespace() }).catch(() => null);
    const labels = new Map((named?.buckets ?? []).map((b) => [b.stream, b.name]));
    await ctx.fillStreams(select, stream, labels);
  }

  select.addEventListener("change", () => ctx.navigate("bucket", { stream: select.value }));
  range.addEventListener("change", () => {
    const mine = generation;
    refreshHistory(mine).catch((exc) => {
      if (mine !== generation) return;
      clearHistory();
      ctx.showError(exc);
    });
  });

  return {
    show(params) {
      generation += 1;
      clearInterval(timer);
      const shown = `${ctx.namespace()}/${params.stream || ""}`;
      // Another bucket: the previous one's tiles must not stand in for it while it loads.
      if (shown !== select.dataset.shown) clearAll();
      select.dataset.shown = shown;
      if ((params.key || "") !== key) clearHistory(); // not the previous key's history
      stream = params.stream || "";
      key = params.key || "";
      fillPicker().catch((exc) => ctx.showError(exc));
      refresh();
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide() {
      generation += 1;
      clearInterval(timer);
    },
  };
}
