import { call, can, get, modelPath, seg, versionPath, type Page, type Run, type Version, type LineageGraph } from '../api';
import { empty, errorBox, field, flash, link, navigate, pager, section, state, table } from '../app';
import { badge, fmtNum, fmtTime, h, kv, replace, tagChips } from '../dom';
import { lineageSection, nodeHref, nodeKey } from '../lineage';

export async function runsPage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  const exp = q.get('experiment_id') ?? '';
  const page = await get<Page<Run>>('/runs', { experiment_id: exp, page_size: 50, page_token: q.get('page_token') });
  const inp = h('input', { type: 'text', name: 'experiment_id', value: exp, placeholder: 'experiment id', 'aria-label': 'experiment id' });
  main.append(
    h('h1', null, 'Runs'),
    h('form', { class: 'filters', onsubmit: (e: Event) => {
      e.preventDefault();
      navigate('/runs' + (inp.value.trim() ? '?experiment_id=' + encodeURIComponent(inp.value.trim()) : ''));
    } }, field('Experiment', inp), h('button', { type: 'submit' }, 'Filter')),
    page.items.length
      ? table(
          ['Run', 'Name', 'Experiment', 'Status', 'Metrics', 'Started', 'By'],
          page.items.map((r) => [
            link('/runs/' + seg(r.id), r.id),
            r.name,
            r.experiment_id,
            badge(r.status, r.status.toLowerCase()),
            h('span', { class: 'small' }, Object.keys(r.metrics ?? {}).sort().slice(0, 3).map((k) => `${k}=${fmtNum(r.metrics[k])}`).join(', ')),
            fmtTime(r.start_time),
            r.created_by,
          ]),
          { id: 'runs' },
        )
      : empty('No runs.'),
    pager(q, page.next_page_token),
  );
}

export async function runPage(main: HTMLElement, [id]: string[]) {
  const run = await get<Run>('/runs/' + seg(id));
  const [up, down] = await Promise.all([
    get<LineageGraph>('/lineage/' + seg('run:' + id), { direction: 'up', depth: 1 }),
    get<LineageGraph>('/lineage/' + seg('run:' + id), { direction: 'down', depth: 1 }),
  ]);
  const inputs = (up.edges ?? []).map((e) => e.from);
  const outputs = (down.edges ?? []).map((e) => e.to);
  const nodeList = (ns: typeof inputs, id: string) =>
    ns.length ? h('ul', { id }, ns.map((n) => h('li', null, link(nodeHref(n), nodeKey(n))))) : h('p', { class: 'muted', id }, 'none');

  main.append(
    h('p', { class: 'crumbs' }, link('/runs', 'Runs'), ' / ', run.id),
    h('div', { class: 'title' }, h('h1', null, run.name || run.id), badge(run.status, run.status.toLowerCase())),
    section(
      'Run',
      kv([
        ['Id', h('code', null, run.id)],
        ['Experiment', run.experiment_id],
        ['Status', run.status],
        ['Started', fmtTime(run.start_time)],
        ['Ended', fmtTime(run.end_time)],
        ['Artifacts', run.artifact_uri ? h('code', null, run.artifact_uri) : ''],
        ['Created by', run.created_by],
        ['Tags', Object.keys(run.tags ?? {}).length ? tagChips(run.tags) : ''],
      ]),
      h(
        'div',
        { class: 'cols' },
        h('div', null, h('h3', null, 'Params'), kvTable(run.params, 'run-params')),
        h('div', null, h('h3', null, 'Metrics (latest)'), kvTable(Object.fromEntries(Object.entries(run.metrics ?? {}).map(([k, v]) => [k, fmtNum(v)])), 'run-metrics')),
      ),
      h('div', { class: 'cols' }, h('div', null, h('h3', null, 'Inputs'), nodeList(inputs, 'run-inputs')), h('div', null, h('h3', null, 'Outputs'), nodeList(outputs, 'run-outputs'))),
    ),
  );
  const lin = h('div');
  main.append(section('Lineage', lin));
  lineageSection(lin, 'run:' + id);
  if (can(state.me, 'writer')) main.append(registerForm(run));
}

function kvTable(m: Record<string, string> | undefined, id: string): HTMLElement {
  const keys = Object.keys(m ?? {}).sort();
  return keys.length ? table(['Key', 'Value'], keys.map((k) => [h('code', null, k), m![k]]), { id, class: 'grid compact' }) : h('p', { class: 'muted' }, 'none');
}

// registerForm registers a run's output as a new version of a model: the
// version records the run (a lineage edge run → version), its params and
// metrics, and the run's artifact location as its source. It carries no
// files of its own; push files with `cairn push --run-id` instead.
function registerForm(run: Run): HTMLElement {
  const model = h('input', { type: 'text', name: 'model', required: true, placeholder: 'churn', 'aria-label': 'model' });
  const path = h('input', { type: 'text', name: 'path', placeholder: 'model', 'aria-label': 'artifact path' });
  const alias = h('input', { type: 'text', name: 'alias', placeholder: 'candidate (optional)', 'aria-label': 'alias' });
  const out = h('div');
  const form = h(
    'form',
    {
      class: 'card',
      id: 'register-output',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        replace(out);
        const name = model.value.trim();
        const base = run.artifact_uri ?? `runs:/${run.id}`;
        const source = path.value.trim() ? base.replace(/\/$/, '') + '/' + path.value.trim().replace(/^\//, '') : base;
        try {
          const res = await call<{ version: Version }>('POST', modelPath(name) + '/versions', {
            body: { files: [], run_id: run.id, source, metrics: run.metrics ?? {}, params: run.params ?? {} },
          });
          const v = res.version;
          await call('POST', versionPath(name, v.version) + '/finalize', { body: alias.value.trim() ? { aliases: [alias.value.trim()] } : {} });
          flash(`Registered ${name}@v${v.version} from run ${run.id}.`);
          navigate(versionPath(name, v.version));
        } catch (err) {
          replace(out, errorBox(err));
        }
      },
    },
    h('h2', null, "Register this run's output as a version"),
    h('p', { class: 'muted small' }, "The version records this run, its params and metrics, and the run's artifacts as its source (no files are copied; push files with cairn push --run-id)."),
    out,
    h('div', { class: 'cols' }, field('Model', model, 'created if it does not exist'), field('Artifact path', path, 'within the run\u2019s artifacts, optional'), field('Alias', alias)),
    h('button', { type: 'submit', class: 'primary' }, 'Register version'),
  );
  return form;
}
