// @ts-check
// An ad-hoc run, with a form generated from the job's typed parameters. The server validates again (422 with
// the reason); the form only helps: the right input for each type, enums as choices, defaults filled in.
import { fill, api, errorBox, go, h, link } from '../lib.js';

function field(name, spec) {
  const id = `param-${name}`;
  const common = { id, name, 'data-param': name, 'data-type': spec.type, required: spec.required || undefined };
  let input;
  if (spec.enum) {
    input = h('select', common, spec.required ? null : h('option', { value: '' }, spec.default !== undefined ? `(default: ${spec.default})` : '(none)'),
      spec.enum.map((v) => h('option', { value: String(v), selected: spec.default === v && spec.required }, String(v))));
  } else if (spec.type === 'boolean') {
    input = h('select', common, spec.required ? null : h('option', { value: '' }, spec.default !== undefined ? `(default: ${spec.default})` : '(none)'), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
  } else {
    const type = spec.type === 'integer' || spec.type === 'number' ? 'number' : spec.type === 'date' ? 'date' : 'text';
    input = h('input', { ...common, type, step: spec.type === 'integer' ? '1' : spec.type === 'number' ? 'any' : undefined, placeholder: spec.default !== undefined ? String(spec.default) : undefined });
  }
  return h(
    'label',
    { for: id },
    h('span', {}, h('code', {}, name), ` (${spec.type}${spec.required ? ', required' : ''})`),
    input,
    spec.description ? h('span', { class: 'hint' }, spec.description) : null,
    spec.default !== undefined && !spec.enum ? h('span', { class: 'hint' }, `default: ${spec.default}`) : null,
  );
}

/** Form values → typed JSON parameters; empty optional fields are left out so that defaults apply. */
function collect(form, params) {
  const out = {};
  for (const [name, spec] of Object.entries(params)) {
    const el = form.querySelector(`[data-param="${CSS.escape(name)}"]`);
    const raw = el.value.trim();
    if (raw === '') continue;
    if (spec.type === 'integer' || spec.type === 'number') out[name] = Number(raw);
    else if (spec.type === 'boolean') out[name] = raw === 'true';
    else out[name] = raw;
  }
  return out;
}

export async function renderRunForm(main, [project, name], _query, signal) {
  const { job } = /** @type {import('../lib.js').Reply<'deployments', 'job'>} */ (await api(`/jobs/${encodeURIComponent(project)}/${encodeURIComponent(name)}?recent=1&count=0`, { signal }));
  const params = job.params ?? {};
  const msg = h('div', { role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start run');
  const form = h(
    'form',
    { class: 'form-grid', 'aria-label': `Run ${project}/${name}` },
    Object.keys(params).length === 0 ? h('p', { class: 'muted' }, 'This job takes no parameters.') : Object.entries(params).map(([n, spec]) => field(n, spec)),
    h('div', {}, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    fill(msg);
    try {
      const run = /** @type {import('../lib.js').Reply<'runs', 'create'>} */ (await api('/runs', { method: 'POST', body: { project, job: name, params: collect(form, params) } }));
      go(`/runs/${run.id}`);
    } catch (err) {
      fill(msg, errorBox(err));
      submit.disabled = false;
    }
  });
  fill(main,
    h('h1', {}, 'Run ', link(`/jobs/${encodeURIComponent(project)}/${encodeURIComponent(name)}`, `${project}/${name}`)),
    job.description ? h('p', {}, job.description) : null,
    msg,
    form,
  );
  form.querySelector('input, select, button')?.focus();
}
