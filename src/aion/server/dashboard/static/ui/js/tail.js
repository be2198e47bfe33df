// Live tail view: a stream's events as the server stores them, over server-sent events.
// At most MAX_ROWS events stay on the page; older rows are dropped.

import { ApiError, tailURL } from "./api.js";
import * as fmt from "./format.js";

const MAX_ROWS = 200;
// The server ends each connection after a few seconds and EventSource reconnects at once;
// only a reconnection that takes longer than this is reported.
const QUIET_RECONNECT_MS = 2500;

// Why the server refused a tail (EventSource gives no status or body): asked again with fetch.
// None when it now answers; the stream is then cancelled at once.
async function refusal(url) {
  const controller = new AbortController();
  try {
    const response = await fetch(url, { signal: controller.signal,
      headers: { Accept: "application/json" } });
    if (response.ok) return null;
    const body = await response.json().catch(() => null);
    return body?.error?.message ?? `${response.status} ${response.statusText}`;
  } catch (exc) {
    return `The server did not answer (${exc.message}).`;
  } finally {
    controller.abort();
  }
}

export function createTailView(ctx) {
  const select = document.getElementById("tail-stream");
  const list = document.getElementById("tail-list");
  const status = document.getElementById("tail-status");
  const pause = document.getElementById("tail-pause");
  let source = null;
  let stream = "";
  let lastId = null;
  let downTimer = null;
  let count = 0;
  let generation = 0;

  function setStatus(text, state) {
    status.textContent = text;
    status.className = `status ${state}`;
  }

  function add(raw, fresh) {
    let event;
    try {
      event = JSON.parse(raw);
    } catch {
      return;
    }
    const li = document.createElement("li");
    if (fresh) li.className = "fresh";
    const when = document.createElement("time");
    const ms = fmt.kronosToMs(event["@time"]);
    when.dateTime = new Date(ms).toISOString();
    when.textContent = fmt.clock(ms);
    when.title = new Date(ms).toString();
    const code = document.createElement("code");
    const { "@id": id, "@time": _time, ...rest } = event;
    code.textContent = JSON.stringify(rest);
    li.dataset.id = id;
    li.append(when, code);
    list.prepend(li);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  function liveStatus() {
    const received = count === 1 ? "1 new event" : `${count} new events`;
    setStatus(count ? `Live · ${received}` : "Live · waiting for new events", "live");
  }

  function close() {
    generation += 1;
    clearTimeout(downTimer);
    if (source) source.close();
    source = null;
  }

  function open() {
    close();
    if (!stream) {
      setStatus("Choose a stream to follow.", "");
      return;
    }
    let url = tailURL(ctx.namespace(), stream);
    if (lastId) url += `&after=${encodeURIComponent(lastId)}`;
    setStatus("Connecting…", "");
    let backlogDone = Boolean(lastId);
    const mine = generation;
    source = new EventSource(url);
    source.addEventListener("event", (message) => {
      lastId = message.lastEventId || lastId;
      add(message.data, backlogDone);
      if (backlogDone) {
        count += 1;
        liveStatus();
      }
    });
    source.addEventListener("ready", () => {
      clearTimeout(downTimer);
      backlogDone = true;
      liveStatus();
    });
    source.addEventListener("error", () => {
      clearTimeout(downTimer);
      if (source?.readyState === EventSource.CLOSED) {
        // Refused (a bad stream name, a backend down): EventSource does not retry. The events
        // shown so far must not pass for this stream's, so the list is cleared.
        close();
        list.replaceChildren();
        count = 0;
        lastId = null;
        setStatus("Stopped", "down");
        refusal(url).then((message) => {
          if (mine + 1 !== generation) return; // another stream, or a resume, since
          ctx.showError(new ApiError(message ?? "The live tail was refused; reload to retry."));
        });
        return;
      }
      downTimer = setTimeout(() => setStatus("Disconnected · retrying…", "down"),
        QUIET_RECONNECT_MS);
    });
  }

  select.addEventListener("change", () => ctx.navigate("tail", { stream: select.value }));
  pause.addEventListener("click", () => {
    const paused = pause.getAttribute("aria-pressed") !== "true";
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (paused) {
      close();
      setStatus("Paused", "");
    } else {
      open();
    }
  });
  document.getElementById("tail-clear").addEventListener("click", () => {
    list.replaceChildren();
    count = 0;
  });

  return {
    show(params) {
      const next = params.stream || "";
      const ns = ctx.namespace();
      if (source && next === stream && ns === select.dataset.ns) return;
      stream = next;
      select.dataset.ns = ns;
      lastId = null;
      count = 0;
      list.replaceChildren();
      pause.setAttribute("aria-pressed", "false");
      pause.textContent = "Pause";
      ctx.fillStreams(select, stream).catch((exc) => ctx.showError(exc));
      open();
    },
    hide() {
      close();
    },
  };
}
