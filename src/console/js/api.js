// Calls to the Tirta API with the session cookie. A 401 from any call means the session ended:
// the page goes to the sign-in page and comes back here afterwards.

export class ApiError extends Error {
  /** body: the JSON error answer, { error, message, issues?, ... }, or {} when there was none. */
  constructor(status, body) {
    super(body?.message || `the server answered ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

export function signInUrl() {
  const here = location.pathname + location.search + location.hash;
  return `/login?next=${encodeURIComponent(here)}`;
}

let leaving = false;

/** JSON in and out; throws ApiError for any answer that is not 2xx. */
export async function api(path, { method = 'GET', body, signal, redirectOn401 = true } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'network', message: 'cannot reach the Tirta server; check the connection' });
  }
  if (response.status === 204) return undefined;
  const text = await response.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok) return json;
  if (response.status === 401 && redirectOn401) {
    if (!leaving) {
      leaving = true;
      location.assign(signInUrl());
    }
  }
  throw new ApiError(response.status, json ?? { message: text.slice(0, 200) || `the server answered ${response.status}` });
}

export async function signOut() {
  try {
    await api('/api/v1/auth/logout', { method: 'POST', redirectOn401: false });
  } catch {
    // Signed out already, or the server is away: the sign-in page is the right place either way.
  }
  location.assign('/login');
}

/** Where a role starts: crews on their phone page, everyone else in the console. */
export function homeFor(role) {
  return role === 'crew' ? '/crew' : '/';
}

/** A query string from an object, leaving out undefined, null and empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Runs `task` now and then every `intervalMs` until stopped; `refresh()` runs it again at once
 * (a call while one runs is coalesced into one more run) and restarts the interval.
 */
export function poller(intervalMs, task) {
  let stopped = false;
  let timer;
  let running = false;
  let again = false;
  const run = async () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = true;
    try {
      await task();
    } catch (error) {
      if (error?.name !== 'AbortError') console.error(error);
    } finally {
      running = false;
      if (!stopped) {
        if (again) {
          again = false;
          run();
        } else timer = setTimeout(run, intervalMs);
      }
    }
  };
  run();
  return {
    refresh: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
