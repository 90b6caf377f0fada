import { ApiError, call, can, get, seg, versionPath } from '../api';
import { actionButton, empty, errorBox, field, flash, link, navigate, pager, state, table } from '../app';
import { badge, fmtTime, h, replace } from '../dom';

// An approval request, as GET /api/v1/approvals lists it. The UI reads the
// fields it knows and shows the rest in the details.
interface Approval {
  id: string;
  model: string;
  alias?: string;
  stage?: string;
  // The stage the version was in when a stage request was opened: moving
  // out of a protected stage is gated too.
  from_stage?: string;
  version: number;
  from_version?: number;
  status: string;
  requested_by: string;
  created_at: string;
  updated_at?: string;
  required?: number;
  approvals?: { actor: string; at: string; comment?: string }[];
  rejection?: { actor: string; at: string; comment?: string };
  status_message?: string;
  policies?: string[];
  expires_at?: string;
  [k: string]: unknown;
}

const statuses = ['pending', 'applied', 'rejected', 'expired', 'invalidated', ''];

export async function approvalsPage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  main.append(h('h1', null, 'Approvals'));
  const status = q.get('status') ?? 'pending';
  let page: { items: Approval[]; next_page_token?: string };
  try {
    page = await get('/approvals', { status: status || undefined, model: q.get('model'), page_size: 50, page_token: q.get('page_token') });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code === 'not_found' && /no route/.test(e.message)) {
      main.append(empty('This server has no approvals API yet.'));
      return;
    }
    throw e;
  }
  const sel = h('select', { name: 'status', 'aria-label': 'status' }, statuses.map((s) => h('option', { value: s }, s || 'any status')));
  sel.value = status;
  sel.addEventListener('change', () => navigate('/approvals?status=' + encodeURIComponent(sel.value)));
  main.append(
    h('p', { class: 'muted' }, 'Moving a protected alias or stage (into it or out of it) opens a request here; it applies itself once enough approvers other than the requester approve and the conditions hold.'),
    h('div', { class: 'filters' }, field('Status', sel)),
  );
  const items = page.items ?? [];
  if (items.length === 0) {
    main.append(empty(status === 'pending' ? 'Nothing waits for approval.' : 'No requests.'));
    return;
  }
  const me = state.me;
  main.append(
    table(
      ['Request', 'Change', 'Status', 'Approvals', 'Requested', 'Decision'],
      items.map((a) => {
        const out = h('div');
        const target = a.alias ? `@${a.alias}` : a.stage ? (a.from_stage && a.from_stage !== a.stage ? `stage ${a.from_stage} → ${a.stage}` : `stage ${a.stage}`) : '';
        const comment = h('input', { type: 'text', name: 'comment', placeholder: 'comment (optional)', 'aria-label': 'comment' });
        const decide = (verb: 'approve' | 'reject') =>
          actionButton(verb === 'approve' ? 'Approve' : 'Reject', async () => {
            const res = await call<Approval>('POST', `/approvals/${seg(a.id)}/${verb}`, { body: comment.value.trim() ? { comment: comment.value.trim() } : {} });
            flash(`${verb === 'approve' ? 'Approved' : 'Rejected'} request ${a.id}: now ${res?.status ?? 'updated'}.`);
            navigate(location.pathname.slice(3) + location.search, true);
          }, { class: verb === 'approve' ? 'primary' : '', out });
        const mine = me?.auth && me.name === a.requested_by;
        return [
          h('code', null, a.id),
          h('span', { 'data-approval': a.id }, link('/models/' + seg(a.model), a.model), ' ', target, ': ', a.from_version ? [link(versionPath(a.model, a.from_version), `v${a.from_version}`), ' → '] : '', a.version ? link(versionPath(a.model, a.version), `v${a.version}`) : 'deleted'),
          h('span', null, badge(a.status, a.status === 'pending' ? 'pending' : a.status === 'applied' ? 'ready' : 'failed'), a.status_message ? h('div', { class: 'muted small' }, a.status_message) : '', (a.policies ?? []).length ? h('div', { class: 'muted small' }, 'policy: ' + (a.policies ?? []).join(', ')) : ''),
          h('span', null, `${(a.approvals ?? []).length}${a.required ? ' of ' + a.required : ''}`, (a.approvals ?? []).length ? h('span', { class: 'muted small' }, ' (' + (a.approvals ?? []).map((x) => x.actor).join(', ') + ')') : ''),
          h('span', null, a.requested_by, h('br'), h('span', { class: 'muted small' }, fmtTime(a.created_at)), a.status === 'pending' && a.expires_at ? h('div', { class: 'muted small' }, 'expires ' + fmtTime(a.expires_at)) : ''),
          a.status === 'pending' && can(me, 'approver', a.model)
            ? mine
              ? h('span', { class: 'muted small' }, 'your own request: another approver decides')
              : h('div', { class: 'inline-form' }, comment, decide('approve'), decide('reject'), out)
            : a.rejection
              ? h('span', { class: 'small' }, `rejected by ${a.rejection.actor}`, a.rejection.comment ? `: ${a.rejection.comment}` : '')
              : (a.approvals ?? []).some((x) => x.comment)
                ? h('span', { class: 'muted small' }, (a.approvals ?? []).filter((x) => x.comment).map((x) => `${x.actor}: ${x.comment}`).join('; '))
                : '',
        ];
      }),
      { id: 'approvals' },
    ),
    page.next_page_token !== undefined ? pager(q, page.next_page_token) : '',
  );
}

export function approvalsError(host: HTMLElement, e: unknown) {
  replace(host, errorBox(e));
}
