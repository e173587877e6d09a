// DX Gateway admin console. No framework, no build step: every call goes
// to the gateway's own API with the signed-in key, exactly as curl would.
// The key lives in sessionStorage only (this tab, until it closes).
'use strict';
(() => {
  const KEY = 'dx-console-key';
  const $ = (sel, root) => (root || document).querySelector(sel);

  // ---------------------------------------------------------------- DOM
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat(9)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    for (const c of kids.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const errorBox = () => h('p', { class: 'error', role: 'alert' });
  const input = (label, name, a) => h('label', {}, label, h('input', Object.assign({ name, id: null }, a)));
  const numberIn = (label, name, value, step) =>
    input(label, name, { type: 'number', min: '0', step: step || '1', value: value == null ? '' : value });
  const textIn = (label, name, value, extra) => input(label, name, Object.assign({ type: 'text', value: value || '' }, extra));

  // -------------------------------------------------------------- format
  const usd = (v) => (v == null ? '—' : '$' + (v < 0.01 && v > 0 ? String(+Number(v).toPrecision(2)) : Number(v).toFixed(2)));
  const usdExact = (v) => (v == null ? '—' : '$' + Number(v).toFixed(6).replace(/0+$/, '').replace(/\.$/, ''));
  const num = (v) => (v == null ? '—' : Number(v).toLocaleString('en-US'));
  const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  const perMillion = (v) => (v == null ? '—' : '$' + +(v * 1e6).toFixed(4));

  // ----------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function api(path, body, method) {
    const init = { method: method || (body === undefined ? 'GET' : 'POST'), headers: { authorization: 'Bearer ' + sessionStorage.getItem(KEY) } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!r.ok) {
      const e = data && data.error;
      throw new ApiError(r.status, (e && (e.message || e.type)) || `${r.status} ${r.statusText || 'error'}`);
    }
    return data;
  }

  // A form whose submit calls `fn(values)`; an API error shows in the form.
  function wire(form, fn) {
    const err = form.querySelector('.error') || form.appendChild(errorBox());
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      const buttons = [...form.querySelectorAll('button')];
      buttons.forEach((b) => (b.disabled = true));
      try {
        await fn(values(form));
      } catch (x) {
        err.textContent = x.message;
        if (x.status === 401) signOut('Your key was refused: ' + x.message);
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
    return form;
  }
  function values(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') out[el.name] = el.checked;
      else out[el.name] = el.value.trim();
    }
    return out;
  }
  // Button whose action may fail: the error shows beside it.
  function action(label, fn, cls) {
    const b = h('button', { type: 'button', class: cls || null }, label);
    b.addEventListener('click', async () => {
      const err = b.parentElement.querySelector('.error') || b.parentElement.appendChild(errorBox());
      err.textContent = '';
      b.disabled = true;
      try { await fn(b); } catch (x) { err.textContent = x.message; } finally { b.disabled = false; }
    });
    return b;
  }
  // An inline "are you sure" in place of the controls of `cell`.
  function confirmIn(cell, question, yes, fn) {
    const old = [...cell.childNodes];
    const back = () => { cell.replaceChildren(...old); };
    const no = h('button', { type: 'button', onclick: back }, 'Cancel');
    const go = action(yes, async () => { await fn(); }, 'danger');
    cell.replaceChildren(h('span', { class: 'ask' }, question), go, no, errorBox());
    no.focus();
  }

  // Limits every record kind shares, as form fields and as API input.
  function limitFields(rec) {
    rec = rec || {};
    return [
      numberIn('Budget (USD)', 'max_budget', rec.max_budget, 'any'),
      textIn('Budget period', 'budget_duration', rec.budget_duration, { placeholder: '30d, 1mo' }),
      numberIn('RPM limit', 'rpm_limit', rec.rpm_limit),
      numberIn('TPM limit', 'tpm_limit', rec.tpm_limit),
      textIn('Models (comma-separated, empty = all)', 'models', (rec.models || []).join(', ')),
    ];
  }
  // Values to API input: on create empty fields are left out, on update
  // they clear the field.
  function limitInput(v, update) {
    const out = {};
    const put = (k, val) => {
      if (val === '' || val == null) { if (update) out[k] = null; } else out[k] = val;
    };
    put('max_budget', v.max_budget === '' ? '' : Number(v.max_budget));
    put('budget_duration', v.budget_duration);
    put('rpm_limit', v.rpm_limit === '' ? '' : Number(v.rpm_limit));
    put('tpm_limit', v.tpm_limit === '' ? '' : Number(v.tpm_limit));
    const models = (v.models || '').split(',').map((m) => m.trim()).filter(Boolean);
    if (models.length || update) out.models = models;
    return out;
  }
  function spendMeter(spend, budget) {
    const label = budget != null ? `${usd(spend)} of ${usd(budget)}` : usd(spend);
    if (budget == null) return h('span', {}, label);
    return h('span', { class: 'spend' },
      h('meter', { min: '0', max: String(budget || 0), low: String(budget * 0.5), high: String(budget * 0.8), optimum: '0', value: String(spend || 0), 'aria-label': label }),
      h('span', {}, label));
  }
  const limitsText = (r) => [r.rpm_limit != null ? `${num(r.rpm_limit)} rpm` : null, r.tpm_limit != null ? `${num(r.tpm_limit)} tpm` : null].filter(Boolean).join(' · ') || '—';
  // Each cell carries its column's name: narrow screens show rows as cards.
  function table(head, rows, cls) {
    for (const tr of rows) [...tr.children].forEach((td, i) => { if (head[i]) td.dataset.label = head[i]; });
    return h('div', { class: 'scroll' }, h('table', { class: cls || null },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
  }
  const title = (text, ...rest) => h('h1', { tabindex: '-1' }, text, ...rest);

  // A secret shown once, with a copy button.
  function shownOnce(key, what) {
    const code = h('code', { id: 'new-key' }, key);
    const status = h('span', { role: 'status' });
    const copy = h('button', { type: 'button', id: 'copy-key' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(key);
        status.textContent = 'Copied.';
      } catch (_) {
        getSelection().selectAllChildren(code);
        status.textContent = 'Selected: press Ctrl+C to copy.';
      }
    });
    const box = h('div', { class: 'once', id: 'new-key-box' },
      h('p', {}, h('strong', {}, what), ' Copy it now: it is not shown again.'),
      h('div', { class: 'row' }, code, copy, h('button', { type: 'button', onclick: () => box.remove() }, 'Done'), status));
    return box;
  }

  // ------------------------------------------------------------- pages
  const pages = { keys: keysPage, teams: teamsPage, spend: spendPage, models: modelsPage, playground: playground };

  async function keysPage(root, note) {
    const [list, teams, users] = await Promise.all([
      api('/key/list?return_full_object=true&include_spend=true'), api('/team/list'), api('/user/list'),
    ]);
    const keys = list.keys.sort((a, b) => b.created_at - a.created_at);
    const created = h('div', { id: 'created' }, note || null);
    const create = wire(h('form', { class: 'panel', id: 'key-create' },
      h('h2', {}, 'New key'),
      h('div', { class: 'grid' },
        textIn('Alias', 'key_alias', '', { id: 'key-alias' }),
        h('label', {}, 'Team', h('select', { name: 'team_id' }, h('option', { value: '' }, '(none)'), teams.map((t) => h('option', { value: t.team_id }, t.team_alias || t.team_id)))),
        h('label', {}, 'User', h('select', { name: 'user_id' }, h('option', { value: '' }, '(none)'), users.users.map((u) => h('option', { value: u.user_id }, u.user_email || u.user_id)))),
        limitFields(),
        textIn('Expires after', 'duration', '', { placeholder: 'e.g. 30d (empty: never)' }),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'admin' }), 'Admin key (may use this console)')),
      h('button', { type: 'submit' }, 'Create key'), errorBox()), async (v) => {
      const body = limitInput(v, false);
      for (const k of ['key_alias', 'team_id', 'user_id', 'duration']) if (v[k]) body[k] = v[k];
      if (v.admin) body.user_role = 'proxy_admin';
      const made = await api('/key/generate', body);
      await keysPage(root, shownOnce(made.key, `Key ${made.key_alias || made.key_name} created.`));
      $('#copy-key').focus();
    });
    const rows = keys.map((k) => keyRow(k, root));
    root.replaceChildren(title('Keys ', h('small', {}, `${list.total_count} in all`)), created, create,
      table(['Key', 'Team', 'User', 'Spend / budget', 'Limits', 'Models', 'Expires', 'Status', 'Actions'], rows, 'keys'));
  }

  function keyRow(k, root) {
    const now = Date.now();
    const state = k.blocked ? 'Blocked' : k.expires && k.expires < now ? 'Expired' : 'Active';
    const acts = h('td', { class: 'actions' });
    const tr = h('tr', { 'data-token': k.token, 'data-alias': k.key_alias || '' },
      h('td', {}, h('span', {}, k.key_alias || '(no alias)'), h('br'), h('code', { class: 'dim' }, k.key_name)),
      h('td', {}, k.team_id || '—'), h('td', {}, k.user_id || '—'),
      h('td', {}, spendMeter(k.spend, k.max_budget), k.budget_duration ? h('small', {}, ` per ${k.budget_duration}`) : null),
      h('td', {}, limitsText(k)), h('td', {}, (k.models || []).join(', ') || 'all'),
      h('td', {}, k.expires ? time(k.expires) : 'never'),
      h('td', {}, h('span', { class: 'badge ' + state.toLowerCase() }, state)), acts);
    const reload = (note) => keysPage(root, note);
    acts.append(
      h('button', { type: 'button', onclick: () => editRow(tr, keyEditForm(k, reload)) }, 'Edit'),
      action(k.blocked ? 'Unblock' : 'Block', async () => {
        await api(k.blocked ? '/key/unblock' : '/key/block', { key: k.token });
        await reload();
      }),
      h('button', { type: 'button', onclick: () => confirmIn(acts, 'Regenerate? The old key stops working.', 'Regenerate', async () => {
        const made = await api('/key/regenerate', { key: k.token });
        await reload(shownOnce(made.key, `Key ${made.key_alias || made.key_name} regenerated.`));
      }) }, 'Regenerate'),
      h('button', { type: 'button', class: 'danger', onclick: () => confirmIn(acts, 'Delete this key?', 'Yes, delete', async () => {
        await api('/key/delete', { keys: [k.token] });
        await reload(h('p', { role: 'status' }, `Key ${k.key_alias || k.key_name} deleted.`));
      }) }, 'Delete'));
    return tr;
  }

  function keyEditForm(k, reload) {
    return wire(h('form', { class: 'edit' },
      h('div', { class: 'grid' }, textIn('Alias', 'key_alias', k.key_alias), limitFields(k),
        textIn('Expires after', 'duration', '', { placeholder: 'empty: unchanged; "never"' })),
      h('button', { type: 'submit' }, 'Save'), errorBox()), async (v) => {
      const body = Object.assign({ key: k.token }, limitInput(v, true));
      body.key_alias = v.key_alias || null;
      if (v.duration) body.duration = v.duration === 'never' ? null : v.duration;
      await api('/key/update', body);
      await reload(h('p', { role: 'status' }, `Key ${v.key_alias || k.key_name} saved.`));
    });
  }

  // An edit form in a row under `tr` (toggles).
  function editRow(tr, form) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('editing')) { next.remove(); return; }
    form.append(h('button', { type: 'button', onclick: () => { row.remove(); tr.querySelector('button').focus(); } }, 'Cancel'));
    const row = h('tr', { class: 'editing' }, h('td', { colspan: String(tr.children.length) }, form));
    tr.after(row);
    form.querySelector('input').focus();
  }

  async function teamsPage(root, note) {
    const [teams, users] = await Promise.all([api('/team/list'), api('/user/list')]);
    const [teamInfo, userInfo] = await Promise.all([
      Promise.all(teams.map((t) => api('/team/info?team_id=' + encodeURIComponent(t.team_id)))),
      Promise.all(users.users.map((u) => api('/user/info?user_id=' + encodeURIComponent(u.user_id)))),
    ]);
    const reload = (n) => teamsPage(root, n);
    const saved = (what) => reload(h('p', { role: 'status' }, what));
    const teamRows = teamInfo.map(({ team_info: t, keys }) => {
      const acts = h('td', { class: 'actions' });
      const members = users.users.filter((u) => u.team_id === t.team_id).map((u) => u.user_email || u.user_id);
      const tr = h('tr', { 'data-team': t.team_id },
        h('td', {}, t.team_alias || t.team_id, t.team_alias ? h('small', { class: 'dim' }, ` ${t.team_id}`) : null),
        h('td', {}, members.join(', ') || '—'), h('td', {}, String(keys.length)),
        h('td', {}, spendMeter(t.spend, t.max_budget)), h('td', {}, limitsText(t)),
        h('td', {}, (t.models || []).join(', ') || 'all'),
        h('td', {}, h('span', { class: 'badge ' + (t.blocked ? 'blocked' : 'active') }, t.blocked ? 'Blocked' : 'Active')), acts);
      acts.append(
        h('button', { type: 'button', onclick: () => editRow(tr, wire(h('form', { class: 'edit' },
          h('div', { class: 'grid' }, textIn('Alias', 'team_alias', t.team_alias), limitFields(t)),
          h('button', { type: 'submit' }, 'Save'), errorBox()), async (v) => {
          await api('/team/update', Object.assign({ team_id: t.team_id, team_alias: v.team_alias || null }, limitInput(v, true)));
          await saved(`Team ${t.team_id} saved.`);
        })) }, 'Edit'),
        action(t.blocked ? 'Unblock' : 'Block', async () => {
          await api('/team/update', { team_id: t.team_id, blocked: !t.blocked });
          await reload();
        }),
        h('button', { type: 'button', class: 'danger', onclick: () => confirmIn(acts, 'Delete this team and its keys?', 'Yes, delete', async () => {
          await api('/team/delete', { team_ids: [t.team_id] });
          await saved(`Team ${t.team_id} deleted.`);
        }) }, 'Delete'));
      return tr;
    });
    const userRows = userInfo.map(({ user_info: u, keys }) => {
      const acts = h('td', { class: 'actions' });
      const tr = h('tr', { 'data-user': u.user_id },
        h('td', {}, u.user_id), h('td', {}, u.user_email || '—'), h('td', {}, u.team_id || '—'), h('td', {}, String(keys.length)),
        h('td', {}, spendMeter(u.spend, u.max_budget)), h('td', {}, limitsText(u)), h('td', {}, (u.models || []).join(', ') || 'all'), acts);
      acts.append(
        h('button', { type: 'button', onclick: () => editRow(tr, wire(h('form', { class: 'edit' },
          h('div', { class: 'grid' }, textIn('E-mail', 'user_email', u.user_email, { type: 'email' }), limitFields(u)),
          h('button', { type: 'submit' }, 'Save'), errorBox()), async (v) => {
          await api('/user/update', Object.assign({ user_id: u.user_id, user_email: v.user_email || null }, limitInput(v, true)));
          await saved(`User ${u.user_id} saved.`);
        })) }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: () => confirmIn(acts, 'Delete this user and its keys?', 'Yes, delete', async () => {
          await api('/user/delete', { user_ids: [u.user_id] });
          await saved(`User ${u.user_id} deleted.`);
        }) }, 'Delete'));
      return tr;
    });
    const newTeam = wire(h('form', { class: 'panel', id: 'team-create' }, h('h2', {}, 'New team'),
      h('div', { class: 'grid' }, textIn('Team id', 'team_id', '', { placeholder: 'empty: generated' }), textIn('Alias', 'team_alias'), limitFields()),
      h('button', { type: 'submit' }, 'Create team'), errorBox()), async (v) => {
      const body = limitInput(v, false);
      for (const k of ['team_id', 'team_alias']) if (v[k]) body[k] = v[k];
      const t = await api('/team/new', body);
      await saved(`Team ${t.team_id} created.`);
    });
    const newUser = wire(h('form', { class: 'panel', id: 'user-create' }, h('h2', {}, 'New user'),
      h('div', { class: 'grid' }, textIn('User id', 'user_id', '', { placeholder: 'empty: generated' }), textIn('E-mail', 'user_email', '', { type: 'email' }),
        h('label', {}, 'Team', h('select', { name: 'team_id' }, h('option', { value: '' }, '(none)'), teams.map((t) => h('option', { value: t.team_id }, t.team_alias || t.team_id)))),
        limitFields()),
      h('button', { type: 'submit' }, 'Create user'), errorBox()), async (v) => {
      const body = limitInput(v, false);
      for (const k of ['user_id', 'user_email', 'team_id']) if (v[k]) body[k] = v[k];
      const u = await api('/user/new', body);
      await saved(`User ${u.user_id} created.`);
    });
    root.replaceChildren(title('Teams and users'), note || '',
      h('h2', {}, `Teams (${teams.length})`), table(['Team', 'Members', 'Keys', 'Spend / budget', 'Limits', 'Models', 'Status', 'Actions'], teamRows), newTeam,
      h('h2', {}, `Users (${users.total})`), table(['User', 'E-mail', 'Team', 'Keys', 'Spend / budget', 'Limits', 'Models', 'Actions'], userRows), newUser);
  }

  // ------------------------------------------------------------- spend
  const DAY = 86400000;
  async function spendPage(root) {
    const [list, teams] = await Promise.all([api('/key/list?return_full_object=true'), api('/team/list')]);
    const keys = list.keys;
    const label = (k) => k.key_alias || k.key_name;
    const today = Date.now() - (Date.now() % DAY);
    const chartBox = h('div', { id: 'chart' });
    const totals = h('dl', { class: 'totals', id: 'totals' });
    const tableBox = h('div', { id: 'requests' });
    let shown = [];
    const filters = wire(h('form', { class: 'panel filters', id: 'spend-filters' },
      h('div', { class: 'grid' },
        h('label', {}, 'Key', h('select', { name: 'api_key' }, h('option', { value: '' }, 'all keys'), keys.map((k) => h('option', { value: k.token }, label(k))))),
        textIn('Model', 'model'),
        h('label', {}, 'Status', h('select', { name: 'status' }, ['all', 'success', 'error'].map((x) => h('option', { value: x }, x)))),
        input('From', 'start_date', { type: 'date', value: day(today - 29 * DAY) }),
        input('To', 'end_date', { type: 'date', value: day(today) }),
        h('label', {}, 'Chart by', h('select', { name: 'by' }, ['model', 'key', 'team'].map((x) => h('option', { value: x }, x))))),
      h('button', { type: 'submit' }, 'Show'),
      h('button', { type: 'button', id: 'csv', onclick: () => download(shown) }, 'Export CSV'), errorBox()), async (v) => {
      const q = new URLSearchParams();
      for (const k of ['api_key', 'model', 'start_date', 'end_date']) if (v[k]) q.set(k, v[k]);
      const [logs, series] = await Promise.all([api('/spend/logs?' + q), chartSeries(v, keys, teams)]);
      const ok = (e) => e.status >= 200 && e.status < 300;
      shown = logs.filter((e) => v.status === 'all' || (v.status === 'success') === ok(e)).sort((a, b) => b.startTime - a.startTime);
      const sum = (f) => shown.reduce((t, e) => t + (e[f] || 0), 0);
      totals.replaceChildren(...[['Spend', usdExact(sum('spend_nano') / 1e9)], ['Requests', num(shown.length)],
        ['Input tokens', num(sum('prompt_tokens'))], ['Output tokens', num(sum('completion_tokens'))]]
        .flatMap(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]));
      const start = Date.parse(v.start_date || day(today - 29 * DAY));
      const end = Date.parse(v.end_date || day(today));
      chartBox.replaceChildren(chart(series, start, end, v.by));
      const byToken = new Map(keys.map((k) => [k.token, label(k)]));
      tableBox.replaceChildren(
        h('p', {}, shown.length > 200 ? `The newest 200 of ${shown.length} requests.` : `${shown.length} request${shown.length === 1 ? '' : 's'}.`),
        table(['Time (UTC)', 'Key', 'Team', 'Model', 'Provider', 'Status', 'Tokens in / out', 'Spend', 'Latency'],
          shown.slice(0, 200).map((e) => h('tr', { 'data-request': e.request_id },
            h('td', {}, time(e.startTime)), h('td', {}, byToken.get(e.api_key) || e.key_alias || '(deleted)'), h('td', {}, e.team_id || '—'),
            h('td', {}, e.model), h('td', {}, e.provider || '—'), h('td', {}, h('span', { class: 'badge ' + (ok(e) ? 'active' : 'blocked') }, String(e.status))),
            h('td', {}, `${num(e.prompt_tokens)} / ${num(e.completion_tokens)}`), h('td', {}, usdExact(e.spend)),
            h('td', {}, `${num(e.endTime - e.startTime)} ms`))), 'requests'));
    });
    root.replaceChildren(title('Spend'), filters, totals, h('h2', {}, 'Spend per day'), chartBox, h('h2', {}, 'Recent requests'), tableBox);
    filters.requestSubmit();
  }

  // Per-day spend series from the daily-activity endpoints: {name: {date: usd}}.
  async function chartSeries(v, keys, teams) {
    const q = (extra) => new URLSearchParams(Object.assign({ start_date: v.start_date, end_date: v.end_date }, extra));
    const picked = v.api_key ? keys.filter((k) => k.token === v.api_key) : keys;
    const out = {};
    const add = (name, date, x) => { (out[name] = out[name] || {})[date] = (out[name][date] || 0) + x; };
    if (v.by === 'team' && !v.api_key) {
      const days = await Promise.all(teams.map((t) => api('/team/daily/activity?' + q({ team_id: t.team_id }))));
      teams.forEach((t, i) => days[i].results.forEach((d) => add(t.team_alias || t.team_id, d.date, d.metrics.spend)));
      const lone = picked.filter((k) => !k.team_id);
      const ld = await Promise.all(lone.map((k) => api('/key/daily/activity?' + q({ api_key: k.token }))));
      ld.forEach((r) => r.results.forEach((d) => add('(no team)', d.date, d.metrics.spend)));
      return out;
    }
    const days = await Promise.all(picked.map((k) => api('/key/daily/activity?' + q({ api_key: k.token }))));
    picked.forEach((k, i) => days[i].results.forEach((d) => {
      if (v.by === 'model') {
        for (const [m, x] of Object.entries(d.breakdown.models)) if (!v.model || m === v.model) add(m, d.date, x.spend);
      } else if (v.by === 'team') add(k.team_id || '(no team)', d.date, d.metrics.spend);
      else add(k.key_alias || k.key_name, d.date, d.metrics.spend);
    }));
    return out;
  }

  // A stacked bar per day, inline SVG; colours come from the stylesheet.
  function chart(series, start, end, by) {
    const days = [];
    for (let t = start; t <= end && days.length < 366; t += DAY) days.push(day(t));
    let names = Object.keys(series).sort((a, b) => total(series[b]) - total(series[a]));
    function total(o) { return Object.values(o).reduce((a, b) => a + b, 0); }
    if (names.length > 7) {
      const other = {};
      for (const n of names.slice(6)) for (const [d, x] of Object.entries(series[n])) other[d] = (other[d] || 0) + x;
      series = Object.assign({}, series, { '(other)': other });
      names = names.slice(0, 6).concat('(other)');
    }
    const perDay = days.map((d) => names.reduce((a, n) => a + (series[n][d] || 0), 0));
    const max = Math.max(...perDay, 0);
    const W = 720, H = 220, L = 76, B = 24, bw = (W - L) / Math.max(days.length, 1);
    const y = (x) => (max ? (x / max) * (H - B - 8) : 0);
    const sum = perDay.reduce((a, b) => a + b, 0);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart', 'aria-label': `Spend per day by ${by}, ${days[0]} to ${days[days.length - 1]}: ${usdExact(sum)} in all` },
      s('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }),
      s('text', { x: L - 6, y: 12, class: 'tick', 'text-anchor': 'end' }, usd(max)),
      s('text', { x: L - 6, y: H - B, class: 'tick', 'text-anchor': 'end' }, '$0'));
    days.forEach((d, i) => {
      let top = H - B;
      names.forEach((n, j) => {
        const x = series[n][d] || 0;
        if (!x) return;
        const hgt = Math.max(y(x), 1);
        top -= hgt;
        svg.append(s('rect', { x: (L + i * bw + 1).toFixed(1), y: top.toFixed(1), width: Math.max(bw - 2, 1).toFixed(1), height: hgt.toFixed(1), class: 'c' + j },
          s('title', {}, `${d} · ${n}: ${usdExact(x)}`)));
      });
      if ((i % 5 === 0 && i < days.length - 3) || i === days.length - 1) svg.append(s('text', { x: (i === days.length - 1 ? W : L + i * bw + bw / 2).toFixed(1), y: H - 6, class: 'tick', 'text-anchor': i === days.length - 1 ? 'end' : 'middle' }, d.slice(5)));
    });
    const legend = h('ul', { class: 'legend' }, names.map((n, j) => h('li', {}, h('span', { class: 'swatch c' + j }), `${n} (${usdExact(total(series[n]))})`)));
    return h('figure', {}, svg, names.length ? legend : h('p', {}, 'No spend in this period.'));
  }

  function download(rows) {
    const cols = ['request_id', 'startTime', 'endTime', 'api_key', 'key_alias', 'team_id', 'user', 'model', 'provider', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'spend'];
    const cell = (v) => { const t = v == null ? '' : String(v); return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t; };
    const csv = [cols.join(',')].concat(rows.map((e) => cols.map((c) => cell(c.endsWith('Time') ? new Date(e[c]).toISOString() : e[c])).join(','))).join('\n') + '\n';
    const a = h('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: `spend-${day(Date.now())}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // ------------------------------------------------------------ models
  async function modelsPage(root) {
    const info = await api('/model/info');
    const caps = (m) => ['function_calling', 'vision', 'reasoning', 'response_schema', 'pdf_input'].filter((c) => m['supports_' + c]).map((c) => c.replace('_', ' ')).join(', ') || '—';
    const configured = table(['Name', 'Provider', 'Upstream model', 'Mode', 'Context', 'Input / 1M', 'Output / 1M', 'Capabilities'],
      info.data.map((d) => {
        const m = d.model_info || {};
        return h('tr', {}, h('td', {}, d.model_name), h('td', {}, d.provider || '—'), h('td', {}, d.upstream_model || '—'),
          h('td', {}, m.mode || '—'), h('td', {}, num(m.max_input_tokens)), h('td', {}, perMillion(m.input_cost_per_token)),
          h('td', {}, perMillion(m.output_cost_per_token)), h('td', {}, d.error ? h('span', { class: 'error' }, d.error) : caps(m)));
      }));
    const found = h('div', { id: 'catalog-results' });
    const search = wire(h('form', { class: 'panel', id: 'catalog-search' }, h('h2', {}, 'Catalog'),
      h('div', { class: 'grid' }, textIn('Provider', 'provider', '', { placeholder: 'e.g. groq' }), textIn('Name contains', 'q'),
        h('label', {}, 'Capability', h('select', { name: 'cap' }, ['', 'function_calling', 'vision', 'reasoning', 'response_schema'].map((c) => h('option', { value: c }, c || 'any')))),
        numberIn('Max input $/1M', 'max_price', '', 'any')),
      h('p', { class: 'dim' }, 'Names match across the whole catalog; capability and price are read for the first 25 matches.'),
      h('button', { type: 'submit' }, 'Search'), errorBox()), async (v) => {
      const q = new URLSearchParams({ catalog: 'true' });
      if (v.provider) q.set('provider', v.provider);
      const list = await api('/v1/models?' + q);
      const want = v.q.toLowerCase();
      const ids = list.data.map((m) => m.id).filter((id) => id.includes('/') && id.toLowerCase().includes(want));
      const details = await Promise.all(ids.slice(0, 25).map((id) => api('/model/info?model=' + encodeURIComponent(id)).then((r) => r.data[0], () => null)));
      const rows = details.filter(Boolean).filter((d) => {
        const m = d.model_info || {};
        return (!v.cap || m['supports_' + v.cap]) && (v.max_price === '' || (m.input_cost_per_token != null && m.input_cost_per_token * 1e6 <= Number(v.max_price)));
      });
      found.replaceChildren(h('p', {}, `${ids.length} names match; ${rows.length} shown.`),
        table(['Model', 'Context', 'Input / 1M', 'Output / 1M', 'Capabilities'], rows.map((d) => {
          const m = d.model_info || {};
          return h('tr', {}, h('td', {}, d.model_name), h('td', {}, num(m.max_input_tokens)), h('td', {}, perMillion(m.input_cost_per_token)), h('td', {}, perMillion(m.output_cost_per_token)), h('td', {}, caps(m)));
        })));
    });
    const result = h('dl', { class: 'totals', id: 'estimate' });
    const estimate = wire(h('form', { class: 'panel', id: 'cost-estimate' }, h('h2', {}, 'Cost estimate'),
      h('div', { class: 'grid' }, textIn('Model', 'model', info.data[0] ? info.data[0].model_name : '', { required: true }),
        numberIn('Input tokens', 'input_tokens', 1000), numberIn('Output tokens', 'output_tokens', 500), numberIn('Requests per day', 'requests_per_day', 1000)),
      h('button', { type: 'submit' }, 'Estimate'), errorBox(), result), async (v) => {
      const r = await api('/cost/estimate', { model: v.model, input_tokens: Number(v.input_tokens || 0), output_tokens: Number(v.output_tokens || 0), requests_per_day: Number(v.requests_per_day || 0) });
      result.replaceChildren(...[['Per request', usdExact(r.cost_per_request)], ['Per day', usdExact(r.cost_per_day)], ['Per month', usdExact(r.cost_per_month)], ['Priced as', r.catalog_model || r.model]]
        .flatMap(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]));
    });
    const groupInfo = await api('/model_group/info');
    const groups = h('div', { id: 'groups' }, table(['Group', 'Strategy', 'Deployment', 'Order', 'Weight', 'Region', 'Health', 'In flight', 'TTFB', 'Fallbacks'],
      groupInfo.data.flatMap((g) => g.deployments.map((d, i) => h('tr', {},
        h('td', {}, i ? '' : g.model_group), h('td', {}, i ? '' : g.routing_strategy), h('td', {}, d.id),
        h('td', {}, String(d.order)), h('td', {}, String(d.weight)), h('td', {}, d.region || '—'),
        h('td', {}, d.error ? h('span', { class: 'error' }, d.error) : d.healthy ? 'healthy' : `cooling, ${d.cooling_for_s} s left`),
        h('td', {}, String(d.in_flight)), h('td', {}, d.ttfb_ms == null ? '—' : `${d.ttfb_ms} ms`),
        h('td', {}, i ? '' : (g.fallbacks.join(', ') || '—')))))));
    root.replaceChildren(title('Models'), h('h2', {}, `Configured (${info.data.length})`), configured,
      h('h2', {}, `Groups and deployments (${groupInfo.data.length})`), h('p', { class: 'dim' }, 'Health is what this instance has seen.'), groups,
      search, found, estimate);
  }

  // -------------------------------------------------------- playground
  async function playground(root) {
    const models = await api('/v1/models');
    const out = h('pre', { id: 'pg-out', 'aria-live': 'polite' });
    const stats = h('dl', { class: 'totals', id: 'pg-stats' });
    const form = wire(h('form', { class: 'panel', id: 'playground-form' },
      h('div', { class: 'grid' },
        h('label', {}, 'Model', h('select', { name: 'model' }, models.data.map((m) => h('option', { value: m.id }, m.id)))),
        numberIn('Max tokens', 'max_tokens', 256),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'stream', checked: true }), 'Stream')),
      h('label', { class: 'wide' }, 'Message', h('textarea', { name: 'message', rows: '4', required: true }, 'Say hello in five words.')),
      h('button', { type: 'submit' }, 'Send'), errorBox()), async (v) => {
      out.textContent = '';
      stats.replaceChildren();
      const body = { model: v.model, messages: [{ role: 'user', content: v.message }], max_tokens: Number(v.max_tokens) || 256, stream: v.stream };
      if (v.stream) body.stream_options = { include_usage: true };
      const t0 = performance.now();
      const r = await fetch('/v1/chat/completions', { method: 'POST', headers: { authorization: 'Bearer ' + sessionStorage.getItem(KEY), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const ttfb = performance.now() - t0;
      let usage = null, cost = r.headers.get('x-dx-cost-usd');
      if (!r.ok) {
        const e = await r.json().catch(() => null);
        throw new ApiError(r.status, (e && e.error && e.error.message) || `${r.status}`);
      }
      if (v.stream) {
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, cut).trim();
            buf = buf.slice(cut + 1);
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') continue;
            const c = JSON.parse(data);
            if (c.error) throw new ApiError(502, c.error.message || 'stream error');
            for (const ch of c.choices || []) if (ch.delta && ch.delta.content) out.append(ch.delta.content);
            if (c.usage) usage = c.usage;
            if (c.cost != null) cost = c.cost;
            if (c.usage && c.usage.cost != null) cost = c.usage.cost;
          }
        }
      } else {
        const j = await r.json();
        out.textContent = (j.choices || []).map((c) => c.message && c.message.content).join('\n');
        usage = j.usage;
        if (j.cost != null && cost == null) cost = j.cost;
      }
      const total = performance.now() - t0;
      const hd = (n) => r.headers.get(n) || '—';
      stats.replaceChildren(...[
        ['Tokens in / out', usage ? `${num(usage.prompt_tokens)} / ${num(usage.completion_tokens)}` : '—'],
        ['Cost', cost == null ? '—' : usdExact(Number(cost))],
        ['First byte', `${Math.round(ttfb)} ms`], ['Total', `${Math.round(total)} ms`],
        ['Provider', hd('x-dx-provider')], ['Upstream model', r.headers.get('x-dx-upstream-model') || r.headers.get('x-dx-model') || '—'],
        ['Route', hd('x-dx-route')], ['Budget left', r.headers.get('x-dx-budget-remaining') ? usdExact(Number(r.headers.get('x-dx-budget-remaining'))) : '—'],
      ].flatMap(([k, x]) => [h('dt', {}, k), h('dd', { 'data-stat': k }, x)]));
    });
    root.replaceChildren(title('Playground'), h('p', { class: 'dim' }, 'Requests go to /v1/chat/completions with the key you signed in with.'), form, out, stats);
  }

  // ------------------------------------------------------ shell, sign-in
  function signOut(message) {
    sessionStorage.removeItem(KEY);
    show(message);
  }

  async function show(message) {
    const signedIn = !!sessionStorage.getItem(KEY);
    $('#signin').hidden = signedIn;
    $('#nav').hidden = !signedIn;
    $('#signout').hidden = !signedIn;
    const root = $('#page');
    if (!signedIn) {
      root.replaceChildren();
      $('#signin .error').textContent = message || '';
      $('#signin-key').focus();
      return;
    }
    const name = (location.hash.slice(1) || 'keys').split('?')[0];
    const page = pages[name] || keysPage;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('href') === '#' + name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    root.setAttribute('aria-busy', 'true');
    try {
      await page(root);
      document.title = `${$('h1', root).firstChild.textContent.trim()} · DX Gateway`;
      $('h1', root).focus();
    } catch (x) {
      if (x.status === 401 || x.status === 403) return signOut('Your key was refused: ' + x.message);
      root.replaceChildren(title('Could not load this page'), h('p', { class: 'error', role: 'alert' }, x.message));
    } finally {
      root.removeAttribute('aria-busy');
      root.dataset.page = name;
    }
  }

  function start() {
    wire($('#signin-form'), async (v) => {
      sessionStorage.setItem(KEY, v.key);
      try {
        await api('/key/list');
      } catch (x) {
        sessionStorage.removeItem(KEY);
        throw x;
      }
      $('#signin-key').value = '';
      await show();
    });
    $('#signout').addEventListener('click', () => signOut('Signed out.'));
    addEventListener('hashchange', () => show());
    show();
  }
  start();
})();
