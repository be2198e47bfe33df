// The dashboard's JSON endpoints (under /ui/api), relative to the page so a proxy prefix works.

export class ApiError extends Error {}

function url(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  }
  const q = query.toString();
  return `api/${path}${q ? `?${q}` : ""}`;
}

export async function getJSON(path, params = {}) {
  let response;
  try {
    response = await fetch(url(path, params), { headers: { Accept: "application/json" } });
  } catch (exc) {
    throw new ApiError(`The server did not answer (${exc.message}).`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? `${response.status} ${response.statusText}`;
    throw new ApiError(message);
  }
  return body;
}

export function tailURL(namespace, stream) {
  return url("tail", { namespace, stream });
}
