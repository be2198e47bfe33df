// Streams view: every stream of the namespace with its events per minute, refreshed while shown.

import { getJSON } from "./api.js";
import { sparkline } from "./chart.js";
import * as fmt from "./format.js";

const REFRESH_MS = 5000;

export function createStreamsView(ctx) {
  const body = document.getElementById("streams-body");
  const empty = document.getElementById("streams-empty");
  const updated = document.getElementById("streams-updated");
  const windowSelect = document.getElementById("streams-window");
  let timer = null;
  let generation = 0;

  function link(text, view, stream, label) {
    const a = document.createElement("a");
    a.textContent = text;
    a.href = `#${view}?${new URLSearchParams({ ns: ctx.namespace(), stream })}`;
    a.setAttribute("aria-label", `${label} ${stream}`);
    return a;
  }

  function row(s, minutes) {
    const tr = document.createElement("tr");
    tr.dataset.stream = s.stream;
    const name = document.createElement("td");
    name.className = "name";
    name.textContent = s.stream;
    const perMinute = document.createElement("td");
    perMinute.className = "num rate";
    perMinute.textContent = fmt.rate(s.per_minute);
    if (s.estimated) {
      const note = document.createElement("span");
      note.className = "estimated";
      note.textContent = " (est.)";
      note.title = `More than ${s.count} events: estimated from the newest ${s.count}`;
      perMinute.append(note);
    }
    const count = document.createElement("td");
    count.className = "num count";
    count.textContent = s.estimated ? `≥ ${s.count.toLocaleString()}` : s.count.toLocaleString();
    const spark = document.createElement("td");
    spark.append(sparkline(s.bins, { kind: "bars", width: 150, height: 28,
      label: `Events per minute over the last ${minutes} minutes: ${s.bins.map((b) => b ?? "?").join(", ")}` }));
    const links = document.createElement("td");
    links.className = "links";
    if (s.kind === "records") {
      // A sharded stream of the streams engine (Redis, NATS): the other views read events.
      links.textContent = "sharded stream";
    } else {
      links.append(link("Tail", "tail", s.stream, "Live tail of"),
        link("Bucket", "bucket", s.stream, "Bucket view of"),
        link("Chart", "timeseries", s.stream, "Timeseries chart of"));
    }
    tr.append(name, perMinute, count, spark, links);
    return tr;
  }

  async function refresh() {
    const mine = generation;
    try {
      const data = await getJSON("streams", { namespace: ctx.namespace(), window: windowSelect.value });
      if (mine !== generation) return;
      ctx.clearError();
      body.replaceChildren(...data.streams.map((s) => row(s, data.window_minutes)));
      empty.hidden = data.streams.length > 0;
      const more = data.truncated ? " · only the first 500 streams are listed" : "";
      updated.textContent = `Updated ${new Date(data.now_ms).toLocaleTimeString()}${more}`;
    } catch (exc) {
      if (mine !== generation) return;
      // Rows of another namespace or an older answer would read as this one's.
      body.replaceChildren();
      empty.hidden = true;
      updated.textContent = "";
      ctx.showError(exc);
    }
  }

  windowSelect.addEventListener("change", refresh);

  return {
    show() {
      generation += 1;
      clearInterval(timer);
      refresh();
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide() {
      generation += 1;
      clearInterval(timer);
    },
  };
}
