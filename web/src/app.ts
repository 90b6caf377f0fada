// The shell: who is signed in, navigation, routing and shared widgets.

import { ApiError, call, type WhoAmI } from './api';
import { h, replace, type Child } from './dom';

export const base = '/ui';

export const state: { me: WhoAmI | null } = { me: null };

export async function loadMe(): Promise<WhoAmI | null> {
  try {
    state.me = await call<WhoAmI>('GET', '/whoami', { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) state.me = null;
    else throw e;
  }
  return state.me;
}

// link is an in-app link: a real href (open in a new tab works) that
// the router follows without reloading the page.
export function link(path: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: base + path }, children);
}

export function navigate(path: string, replaceState = false) {
  const url = path.startsWith(base) ? path : base + path;
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event('cairn:navigate'));
}

export function errorBox(e: unknown): HTMLElement {
  if (e instanceof ApiError) {
    return h('div', { class: 'error', role: 'alert' }, h('strong', null, `${e.status} ${e.code}: `), e.message, e.requestId ? h('span', { class: 'muted' }, ` (request ${e.requestId})`) : null);
  }
  return h('div', { class: 'error', role: 'alert' }, String(e instanceof Error ? e.message : e));
}

export function notice(text: Child, kind = 'ok'): HTMLElement {
  return h('div', { class: `notice ${kind}`, role: 'status' }, text);
}

// pager renders the previous/next controls of a server-paginated list.
// The page tokens of earlier pages are kept in the URL (pt), so Back and
// reload both work.
export function pager(q: URLSearchParams, next: string, key = 'page_token', prefix = ''): HTMLElement {
  const trail = q.getAll(prefix + 'pt');
  const cur = q.get(prefix + key) ?? '';
  const mk = (token: string, t: string[]) => {
    const p = new URLSearchParams(q);
    p.delete(prefix + key);
    p.delete(prefix + 'pt');
    if (token) p.set(prefix + key, token);
    t.forEach((x) => p.append(prefix + 'pt', x));
    return '?' + p.toString();
  };
  const prev = cur ? h('a', { href: mk(trail[trail.length - 1] ?? '', trail.slice(0, -1)), class: 'button', 'data-pager': 'prev' }, '← Previous') : null;
  const nxt = next ? h('a', { href: mk(next, [...trail, cur]), class: 'button', 'data-pager': 'next' }, 'Next →') : null;
  const first = trail.length > 1 ? h('a', { href: mk('', []), class: 'button' }, 'First page') : null;
  return h('div', { class: 'pager' }, first, prev, nxt, h('span', { class: 'muted' }, `page ${trail.length + (cur ? 1 : 1)}`));
}

// form helpers

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', null, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

// parseTags reads key=value lines (or comma-separated pairs).
export function parseTags(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/\n|,/)) {
    const t = part.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i < 0) out[t] = '';
    else out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return out;
}

export function tagsText(tags: Record<string, string>): string {
  return Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join('\n');
}

// action wraps a button's async work: disables it, shows errors beside it.
export function actionButton(label: string, run: () => Promise<unknown>, opts: { class?: string; confirm?: string; out?: HTMLElement } = {}): HTMLButtonElement {
  const out = opts.out;
  const b = h('button', {
    type: 'button',
    class: opts.class ?? '',
    onclick: async () => {
      if (opts.confirm && !window.confirm(opts.confirm)) return;
      b.disabled = true;
      try {
        await run();
      } catch (e) {
        if (out) replace(out, errorBox(e));
        else alertBox(e);
      } finally {
        b.disabled = false;
      }
    },
  }, label);
  return b;
}

function alertBox(e: unknown) {
  const host = document.getElementById('flash');
  if (host) replace(host, errorBox(e));
}

// flashState.keep makes a flash message survive the next page render, so
// that an action can report its outcome and then reload the page.
export const flashState = { keep: false };

export function flash(c: Child, kind = 'ok') {
  const host = document.getElementById('flash');
  if (host) replace(host, notice(c, kind));
  flashState.keep = true;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', null, title), children);
}

export function table(headers: Child[], rows: Child[][], attrs: Record<string, string> = {}): HTMLElement {
  return h('table', { class: 'grid', ...attrs }, h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))), h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))));
}

export function empty(text: string): HTMLElement {
  return h('p', { class: 'muted empty' }, text);
}
