// The JSON API as the pages use it: the session cookie, the CSRF header on every unsafe
// request, and problem+json errors turned into ApiError (whose .detail is meant for the user).

let csrfToken = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, title, detail, body) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || '';
    this.detail = detail || title || `HTTP ${status}`;
    this.body = body;
  }
}

export function setCsrf(token) { csrfToken = token; }
/** Called when any request answers 401 (the session ended): the app shows the login page. */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** '/api/v1/x' plus a query from an object; null, undefined and '' values are left out. */
export function url(path, query) {
  const base = path.startsWith('/') ? path : `/api/v1/${path}`;
  if (!query) return base;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((item) => params.append(k, String(item)));
    else params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `${base}?${text}` : base;
}

async function request(method, path, {query, json, body, headers, signal} = {}) {
  const h = {Accept: 'application/json', ...(headers || {})};
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  let payload = body;
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  const response = await fetch(url(path, query), {method, headers: h, body: payload, credentials: 'same-origin', signal});
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    const problem = data && typeof data === 'object' ? data : {};
    throw new ApiError(response.status, problem.title, problem.detail || (typeof data === 'string' ? data : ''), data);
  }
  return data;
}

export const api = {
  get: (path, query, opts) => request('GET', path, {...(opts || {}), query}),
  post: (path, json, opts) => request('POST', path, {...(opts || {}), json}),
  patch: (path, json, opts) => request('PATCH', path, {...(opts || {}), json}),
  del: (path, opts) => request('DELETE', path, opts || {}),
  /** Send a file as the raw body (a registry sheet: CSV or XLSX). */
  upload: (path, file, query) => request('POST', path, {
    query, body: file, headers: {'Content-Type': file.type || 'application/octet-stream'},
  }),
};

/** Read a File as base64 (for JSON bodies that carry attachments). */
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',', 2)[1] || '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
