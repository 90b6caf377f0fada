// The UI's only way to the server: the public native API under /api/v1.

export interface Model {
  name: string;
  kind: string;
  description: string;
  tags: Record<string, string>;
  aliases: Record<string, number>;
  latest_version: number;
  archived: boolean;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface FileEntry {
  path: string;
  size: number;
  digest: string;
}

export interface Version {
  model: string;
  version: number;
  kind: string;
  files: FileEntry[];
  digest: string;
  size: number;
  run_id?: string;
  source?: string;
  source_code_version?: string;
  training_dataset?: string;
  validation_dataset?: string;
  metrics: Record<string, number>;
  params: Record<string, string>;
  signature?: unknown;
  dependencies?: string;
  framework?: string;
  trained_by?: string;
  derived_from: string[];
  inputs: string[];
  created_by: string;
  created_by_verified: boolean;
  created_at: string;
  updated_at: string;
  tags: Record<string, string>;
  description: string;
  aliases: string[];
  status: string;
  status_message?: string;
  archived: boolean;
  stage: string;
  // Set by servers that have approvals: none, pending, approved or rejected.
  approval_status?: string;
  [key: string]: unknown;
}

export interface AliasMove {
  seq: number;
  model: string;
  alias: string;
  from_version?: number;
  to_version?: number;
  actor: string;
  at: string;
  request_id?: string;
  // Where an imported move was first made (GTO's git tag, its tagger and
  // date); absent for a move made in Cairn.
  origin?: MoveOrigin;
}

export interface MoveOrigin {
  system: string;
  ref?: string;
  actor?: string;
  at: string;
}

export interface Page<T> {
  items: T[];
  next_page_token: string;
}

export interface LineageNode {
  kind: 'version' | 'run';
  model?: string;
  version?: number;
  run_id?: string;
}

export interface LineageEdge {
  from: LineageNode;
  to: LineageNode;
  type: string;
  created_by: string;
  created_at: string;
}

export interface LineageGraph {
  root: LineageNode;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

export interface Run {
  id: string;
  experiment_id: string;
  name: string;
  status: string;
  start_time: string;
  end_time?: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  artifact_uri?: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface RoleBinding {
  principal: string;
  role: string;
  scope: string;
}

export interface WhoAmI {
  name: string;
  kind?: string;
  verified: boolean;
  auth: boolean;
  roles: RoleBinding[];
}

export class ApiError extends Error {
  status: number;
  code: string;
  requestId: string;
  body: any;
  constructor(status: number, code: string, detail: string, requestId: string, body: any) {
    super(detail);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.body = body;
  }
}

const tokenKey = 'cairn.token';
const userKey = 'cairn.user';

// The token of a signed-in user lives in sessionStorage: it goes when the
// tab closes, and it is never in a cookie, so no other site can make the
// browser send it.
export const session = {
  token(): string | null {
    return sessionStorage.getItem(tokenKey);
  },
  setToken(t: string | null) {
    if (t) sessionStorage.setItem(tokenKey, t);
    else sessionStorage.removeItem(tokenKey);
  },
  // With auth off, the name the UI declares in X-Cairn-User (shown as
  // unverified on records).
  declaredUser(): string {
    return localStorage.getItem(userKey) ?? '';
  },
  setDeclaredUser(u: string) {
    if (u) localStorage.setItem(userKey, u);
    else localStorage.removeItem(userKey);
  },
};

let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(f: () => void) {
  onUnauthenticated = f;
}

export type Query = Record<string, string | number | boolean | undefined | null | (string | number)[]>;

export function qs(q?: Query): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

export function authHeaders(extra?: Record<string, string>): Record<string, string> {
  const hdr: Record<string, string> = { ...(extra ?? {}) };
  const t = session.token();
  if (t) hdr['Authorization'] = 'Bearer ' + t;
  else if (session.declaredUser()) hdr['X-Cairn-User'] = session.declaredUser();
  return hdr;
}

// call sends one request. credentials: 'omit' keeps the browser from
// answering a 401's Basic challenge with a login dialog of its own.
export async function call<T>(method: string, path: string, opts: { query?: Query; body?: unknown; headers?: Record<string, string>; quiet401?: boolean } = {}): Promise<T> {
  const headers = authHeaders(opts.headers);
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch('/api/v1' + path + qs(opts.query), { method, headers, body, credentials: 'omit', cache: 'no-store' });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.code ?? String(res.status), data?.detail ?? (text || res.statusText), data?.request_id ?? res.headers.get('X-Request-Id') ?? '', data);
    if (res.status === 401 && !opts.quiet401) onUnauthenticated();
    throw err;
  }
  return data as T;
}

export const get = <T>(path: string, query?: Query) => call<T>('GET', path, { query });

// seg escapes one path segment (a model name may hold spaces, %, #, …).
export const seg = encodeURIComponent;

export function modelPath(name: string): string {
  return '/models/' + seg(name);
}

export function versionPath(name: string, v: number | string): string {
  return modelPath(name) + '/versions/' + seg(String(v));
}

// Roles, as the server ranks them (cairn.Role.Grants).
const rank: Record<string, number> = { reader: 1, writer: 2, maintainer: 3, admin: 4 };

function grants(have: string, need: string): boolean {
  if (have === need || have === 'admin') return true;
  if (need === 'approver') return false;
  if (have === 'approver') return need === 'reader';
  return (rank[have] ?? 0) >= (rank[need] ?? 0) && (rank[need] ?? 0) > 0;
}

function scopeMatches(scope: string, name: string): boolean {
  if (scope === '*') return true;
  const re = new RegExp('^' + scope.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return re.test(name);
}

// can tells whether the signed-in principal may do what needs role on
// model (or on any model, when model is ''), so that the UI offers only
// the actions the server would allow; the server checks again.
export function can(me: WhoAmI | null, role: string, model = ''): boolean {
  if (!me) return false;
  if (!me.auth) return true;
  return me.roles.some((b) => grants(b.role, role) && (model === '' ? true : scopeMatches(b.scope, model)));
}

// Filter grammar helpers: strings single-quoted with quotes doubled; keys
// in backticks unless plain.
export function fstr(v: string): string {
  return "'" + v.replace(/'/g, "''") + "'";
}

export function fkey(k: string): string {
  return /^[A-Za-z0-9_.]+$/.test(k) ? k : '`' + k.replace(/`/g, '') + '`';
}

// fetchAll follows next_page_token up to max items (for small lists only).
export async function firstPage<T>(path: string, query?: Query): Promise<Page<T>> {
  const p = await get<Page<T>>(path, query);
  p.items = p.items ?? [];
  return p;
}
