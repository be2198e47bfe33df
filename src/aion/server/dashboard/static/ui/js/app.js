// The dashboard shell: the view named in the URL hash, the namespace, shared stream pickers.
// The hash holds everything needed to reload a view: #view?ns=...&stream=...&key=...

import { ApiError, getJSON } from "./api.js";
import { createBucketView } from "./bucket.js";
import { createStreamsView } from "./streams.js";
import { createTailView } from "./tail.js";
import { createTimeseriesView } from "./timeseries.js";

const VIEWS = ["streams", "tail", "bucket", "timeseries"];
const errorBox = document.getElementById("error");
const nsInput = document.getElementById("namespace");
let defaultNamespace = "default";
let current = null;

function parseHash() {
  const [name, query = ""] = location.hash.replace(/^#/, "").split("?");
  const view = VIEWS.includes(name) ? name : "streams";
  return { view, params: Object.fromEntries(new URLSearchParams(query)) };
}

function hashFor(view, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
  const q = query.toString();
  return `#${view}${q ? `?${q}` : ""}`;
}

const ctx = {
  namespace: () => parseHash().params.ns || defaultNamespace,
  // Replace the hash without a new history entry when only a detail changes.
  navigate(view, params, { replace = false } = {}) {
    const target = hashFor(view, { ns: parseHash().params.ns, ...params });
    if (replace) history.replaceState(null, "", target);
    else location.hash = target;
    if (replace) render();
  },
  showError(exc) {
    errorBox.textContent = exc instanceof ApiError ? exc.message : `Unexpected error: ${exc}`;
    errorBox.hidden = false;
  },
  clearError() {
    errorBox.hidden = true;
  },
  // Fill a <select> with the namespace's streams, keeping `selected` even if not listed yet;
  // `labels` (stream -> text) is shown beside a stream's name, e.g. its bucket name.
  async fillStreams(select, selected, labels = new Map()) {
    const body = await getJSON("streams", { namespace: ctx.namespace(), window: 1 });
    const names = body.streams.filter((s) => s.kind !== "records").map((s) => s.stream);
    if (selected && !names.includes(selected)) names.unshift(selected);
    const text = (n) => (labels.has(n) ? `${n} — ${labels.get(n)}` : n);
    select.replaceChildren(new Option("— choose a stream —", ""),
      ...names.map((n) => new Option(text(n), n, false, n === selected)));
    return names;
  },
};

const views = {
  streams: createStreamsView(ctx),
  tail: createTailView(ctx),
  bucket: createBucketView(ctx),
  timeseries: createTimeseriesView(ctx),
};

function render() {
  const { view, params } = parseHash();
  nsInput.value = ctx.namespace();
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    const active = link.dataset.view === view;
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    // Keep the namespace (and stream, where it makes sense) when switching views.
    const keep = { ns: params.ns, stream: link.dataset.view === "streams" ? "" : params.stream };
    link.href = hashFor(link.dataset.view, keep);
  }
  for (const section of document.querySelectorAll("main > section[data-view]")) {
    section.hidden = section.dataset.view !== view;
  }
  if (current && current !== views[view]) current.hide();
  current = views[view];
  ctx.clearError();
  document.title = `Aion · ${document.querySelector(`nav a[data-view="${view}"]`).textContent}`;
  current.show(params);
}

document.getElementById("namespace-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!nsInput.checkValidity()) return;
  const { view } = parseHash();
  location.hash = hashFor(view, { ns: nsInput.value });
});
nsInput.addEventListener("change", () => nsInput.form.requestSubmit());

async function start() {
  try {
    const body = await getJSON("namespaces");
    defaultNamespace = body.default;
    document.getElementById("namespace-list").replaceChildren(
      ...body.namespaces.map((n) => new Option(n, n)));
  } catch (exc) {
    ctx.showError(exc);
  }
  window.addEventListener("hashchange", render);
  render();
}

start();
