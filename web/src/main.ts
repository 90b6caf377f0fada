import './style.css';
import { ApiError, call, session, setUnauthenticatedHandler } from './api';
import { base, errorBox, field, flashState, link, loadMe, navigate, state } from './app';
import { h, replace } from './dom';
import { modelsPage, modelPage } from './pages/models';
import { versionPage } from './pages/version';
import { comparePage } from './pages/compare';
import { runsPage, runPage } from './pages/runs';
import { auditPage } from './pages/audit';
import { webhooksPage, webhookPage } from './pages/webhooks';
import { approvalsPage } from './pages/approvals';

type Page = (main: HTMLElement, params: string[], q: URLSearchParams) => Promise<void> | void;

const routes: [RegExp, Page][] = [
  [/^\/?$/, modelsPage],
  [/^\/models\/?$/, modelsPage],
  [/^\/models\/([^/]+)\/?$/, modelPage],
  [/^\/models\/([^/]+)\/versions\/([^/]+)\/?$/, versionPage],
  [/^\/compare\/?$/, comparePage],
  [/^\/runs\/?$/, runsPage],
  [/^\/runs\/([^/]+)\/?$/, runPage],
  [/^\/approvals\/?$/, approvalsPage],
  [/^\/audit\/?$/, auditPage],
  [/^\/webhooks\/?$/, webhooksPage],
  [/^\/webhooks\/([^/]+)\/?$/, webhookPage],
  [/^\/login\/?$/, loginPage],
];

const app = document.getElementById('app')!;
const nav = h('nav', { class: 'top' });
const flashHost = h('div', { id: 'flash' });
const main = h('main', { id: 'main' });
replace(app, h('header', null, nav), flashHost, main);

let generation = 0;

function renderNav() {
  const me = state.me;
  const here = location.pathname.slice(base.length) || '/';
  const item = (path: string, label: string, match: RegExp) => {
    const a = link(path, label);
    if (match.test(here)) a.classList.add('active');
    return a;
  };
  let who: HTMLElement;
  if (!me) who = h('span', { class: 'who' }, link('/login', 'Sign in'));
  else if (!me.auth) {
    who = h('span', { class: 'who', title: 'Authentication is off on this server: anyone who can reach it may do anything. Records show the declared name as unverified.' }, 'auth off', declaredUserInput());
  } else {
    who = h(
      'span',
      { class: 'who' },
      h('span', { 'data-testid': 'whoami', title: me.roles.map((r) => `${r.role} on ${r.scope}`).join(', ') || 'no roles' }, me.name),
      h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'),
    );
  }
  replace(
    nav,
    h('a', { href: base + '/', class: 'brand' }, '◭ Cairn'),
    item('/', 'Models', /^\/($|models)/),
    item('/runs', 'Runs', /^\/runs/),
    item('/approvals', 'Approvals', /^\/approvals/),
    item('/audit', 'Audit log', /^\/audit/),
    item('/webhooks', 'Webhooks', /^\/webhooks/),
    h('span', { class: 'spacer' }),
    who,
  );
}

function declaredUserInput(): HTMLElement {
  const inp = h('input', { type: 'text', placeholder: 'your name', value: session.declaredUser(), size: 12, title: 'sent as X-Cairn-User; recorded as unverified', 'aria-label': 'your name' });
  inp.addEventListener('change', () => session.setDeclaredUser(inp.value.trim()));
  return inp;
}

async function signOut() {
  const me = state.me;
  const tokenId = sessionStorage.getItem('cairn.token_id');
  if (me && tokenId) {
    // Revoke the token this sign-in created; a pasted token is left alone.
    try {
      await call('DELETE', `/users/${encodeURIComponent(me.name)}/tokens/${encodeURIComponent(tokenId)}`);
    } catch {
      /* signing out locally still happens */
    }
  }
  sessionStorage.removeItem('cairn.token_id');
  session.setToken(null);
  state.me = null;
  navigate('/login');
}

async function render() {
  const gen = ++generation;
  const url = new URL(location.href);
  let path = url.pathname;
  if (path === '/' || path === base) path = base + '/';
  const rel = decodeURI(path.slice(base.length));
  if (!flashState.keep) replace(flashHost);
  flashState.keep = false;
  if (state.me === null && !/^\/login/.test(rel)) {
    try {
      await loadMe();
    } catch (e) {
      replace(main, errorBox(e));
      return;
    }
    if (state.me === null) {
      navigate('/login?next=' + encodeURIComponent(url.pathname.slice(base.length) + url.search), true);
      return;
    }
  }
  renderNav();
  for (const [re, page] of routes) {
    const m = re.exec(path.slice(base.length));
    if (!m) continue;
    const params = m.slice(1).map((x) => decodeURIComponent(x));
    replace(main, h('p', { class: 'muted loading' }, 'Loading…'));
    const target = h('div', { class: 'page' });
    try {
      await page(target, params, url.searchParams);
      if (gen !== generation) return;
      replace(main, target);
    } catch (e) {
      if (gen !== generation) return;
      replace(main, errorBox(e));
    }
    return;
  }
  replace(main, h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, rel), '. ', link('/', 'Go to the models list.')));
}

function loginPage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  const next = q.get('next') || '/';
  const out = h('div');
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' });
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'cairn_…' });
  const done = async () => {
    await loadMe();
    renderNav();
    navigate(next.startsWith('/') ? next : '/', true);
  };
  const byPassword = h(
    'form',
    {
      class: 'card login',
      id: 'login-password',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        replace(out);
        const basic = 'Basic ' + btoa(String.fromCharCode(...new TextEncoder().encode(`${user.value}:${pass.value}`)));
        try {
          // Trade the password for a short-lived token, so that the
          // password is not kept in the browser.
          const tok = await call<{ id: string; secret: string }>('POST', `/users/${encodeURIComponent(user.value)}/tokens`, {
            headers: { Authorization: basic },
            body: { name: 'web UI sign-in', expires_in: '12h' },
            quiet401: true,
          });
          session.setToken(tok.secret);
          sessionStorage.setItem('cairn.token_id', tok.id);
          pass.value = '';
          await done();
        } catch (err) {
          replace(out, errorBox(err instanceof ApiError && err.status === 401 ? new Error('Wrong user name or password.') : err));
        }
      },
    },
    h('h2', null, 'Sign in with your password'),
    field('User name', user),
    field('Password', pass),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  const byToken = h(
    'form',
    {
      class: 'card login',
      id: 'login-token',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        replace(out);
        session.setToken(token.value.trim());
        sessionStorage.removeItem('cairn.token_id');
        try {
          const me = await loadMe();
          if (!me) throw new Error('That token was not accepted.');
          token.value = '';
          await done();
        } catch (err) {
          session.setToken(null);
          replace(out, errorBox(err));
        }
      },
    },
    h('h2', null, 'Or with an API token'),
    field('Token', token, 'from `cairn tokens create`'),
    h('button', { type: 'submit' }, 'Sign in with token'),
  );
  replace(nav, h('a', { href: base + '/', class: 'brand' }, '◭ Cairn'));
  main.append(h('h1', null, 'Sign in to Cairn'), out, h('div', { class: 'cols' }, byPassword, byToken));
}

setUnauthenticatedHandler(() => {
  if (!location.pathname.startsWith(base + '/login')) {
    session.setToken(null);
    state.me = null;
    navigate('/login?next=' + encodeURIComponent(location.pathname.slice(base.length) + location.search), true);
  }
});

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element).closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(base)) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) history.pushState(null, '', url.pathname + url.search + url.hash);
  render();
});
window.addEventListener('popstate', render);
window.addEventListener('cairn:navigate', render);
render();
