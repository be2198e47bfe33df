// Bucket view, as Initial State showed a bucket: one tile per key with its latest value and a
// sparkline, and a history chart of the chosen key.

import { getJSON } from "./api.js";
import { lineChart, sparkline } from "./chart.js";
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
    historyChart.replaceChildren(lineChart(data.points, { domain: [data.start_ms, data.end_ms],
      label: `${key} over the last ${range.selectedOptions[0].textContent}` }));
    const notes = [`${data.points.length} points`];
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
      tiles.replaceChildren(...data.keys.map(tile));
      empty.hidden = data.keys.length > 0;
      empty.textContent = data.scanned
        ? "The newest events of this stream have no key and value fields."
        : "This stream has no events yet.";
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · ${data.scanned} newest events`;
      await refreshHistory(mine);
    } catch (exc) {
      if (mine === generation) ctx.showError(exc);
    }
  }

  select.addEventListener("change", () => ctx.navigate("bucket", { stream: select.value }));
  range.addEventListener("change", () => refreshHistory(generation).catch(ctx.showError));

  return {
    show(params) {
      generation += 1;
      clearInterval(timer);
      stream = params.stream || "";
      key = params.key || "";
      ctx.fillStreams(select, stream).catch((exc) => ctx.showError(exc));
      refresh();
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide() {
      generation += 1;
      clearInterval(timer);
    },
  };
}
