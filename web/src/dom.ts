// A tiny DOM builder. Every string becomes a text node or an attribute
// value through the DOM API, never markup: nothing in this UI assigns
// innerHTML, so a model name, tag, file name or description cannot inject
// HTML or script (scripts/test.sh and the browser tests check that).

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (e: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

const svgNS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(svgNS, tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v as EventListener);
    } else if (k === 'href' && typeof v === 'string') {
      el.setAttribute('href', safeHref(v));
    } else if (k === 'value' && (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement)) {
      el.value = String(v);
    } else if (k === 'checked' && el instanceof HTMLInputElement) {
      el.checked = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

export function append(el: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// safeHref lets through links within this origin and http(s) and mailto
// links; anything else (javascript:, data:, …) becomes a dead link.
export function safeHref(u: string): string {
  const t = u.trim();
  if (t.startsWith('/') && !t.startsWith('//')) return t;
  if (/^(https?:|mailto:)/i.test(t)) return t;
  if (t.startsWith('#') || t.startsWith('?')) return t;
  return '#';
}

export function clear(el: Node) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Node, ...children: Child[]) {
  clear(el);
  append(el, children);
}

// fmtTime shows an RFC 3339 time in the viewer's zone, to the second.
export function fmtTime(t: string | undefined | null): string {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d.getTime())) return t;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function fmtNum(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return n.toExponential(4);
  return String(Number(n.toPrecision(6)));
}

export function shortDigest(d: string | undefined): string {
  if (!d) return '';
  return d.startsWith('sha256:') ? d.slice(0, 19) + '…' : d;
}

// tagChips renders tags as key=value chips.
export function tagChips(tags: Record<string, string> | undefined | null): HTMLElement {
  const keys = Object.keys(tags ?? {}).sort();
  return h('span', { class: 'tags' }, keys.map((k) => h('span', { class: 'tag', title: `${k}=${tags![k]}` }, h('b', null, k), tags![k] === '' ? '' : `=${tags![k]}`)));
}

export function badge(text: string, kind = ''): HTMLElement {
  return h('span', { class: `badge ${kind}`.trim() }, text);
}

// kv renders a definition list of label/value rows, skipping empty values.
export function kv(rows: [string, Child][]): HTMLElement {
  return h('dl', { class: 'kv' }, rows.filter(([, v]) => v !== '' && v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0)).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}
