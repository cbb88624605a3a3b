// Calls to the JSON API from the page. The API key lives in sessionStorage only: it is gone when
// the tab closes and is never written to the URL, a cookie or localStorage.

const KEY = "iopo.apiKey";

export const apiKey = () => sessionStorage.getItem(KEY) ?? "";
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiProblem extends Error {
  constructor(status, body) {
    const fields = (body?.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
    super(`${status} ${body?.title ?? "error"}: ${body?.detail ?? ""}${fields ? ` (${fields})` : ""}`);
    this.status = status;
    this.body = body;
  }
}

/** JSON from the API; a problem body becomes an ApiProblem naming the fields. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiProblem(res.status, data);
  return data;
}

export const datasetPath = (name) => `/v1/datasets/${encodeURIComponent(name)}`;

let openapi;
/** Whether the API serves `method path` (e.g. a job control another version added). */
export async function hasRoute(method, path) {
  openapi ??= fetch("/openapi.json").then((r) => r.json());
  return Boolean((await openapi).paths?.[path]?.[method]);
}
