// The observe dashboard: loads the history once from `dashboard/data`, then polls the
// points after the last one it has every 2 s while the tab is visible. Plain script,
// no dependency, no request outside this origin.
'use strict';
(function () {
  const POLL_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  const COLORS = ['#2f6fdf', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0c8599'];
  const script = document.currentScript;
  const DATA_URL = new URL('data', script ? script.src : location.href).pathname;
  const SVG = 'http://www.w3.org/2000/svg';

  const state = {
    seq: 0,
    capacity: 180,
    points: [],
    rows: [],
    total: 0,
    chosen: null, // Set of names, or null for "the busiest"
    sort: { key: 'rate', desc: true },
    timer: 0,
    failures: 0,
    inFlight: false,
  };

  const $ = (id) => document.getElementById(id);
  const nf = (digits) => new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
  const n0 = nf(0), n1 = nf(1), n2 = nf(2);

  // Numbers with their units.
  function ms(v) {
    if (v == null || !isFinite(v)) return '–';
    if (v >= 1000) return n2.format(v / 1000) + ' s';
    if (v >= 1) return n2.format(v) + ' ms';
    return n0.format(v * 1000) + ' µs';
  }
  const rate = (v) => (v >= 100 ? n0 : v >= 1 ? n1 : n2).format(v) + ' /s';
  const pct = (v) => (v >= 10 ? n1 : n2).format(v) + ' %';
  function bytes(v) {
    if (v == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (v >= 100 ? n0 : n1).format(v) + ' ' + units[i];
  }
  function duration(seconds) {
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d) return d + ' d ' + h + ' h';
    if (h) return h + ' h ' + m + ' min';
    if (m) return m + ' min ' + (s % 60) + ' s';
    return s + ' s';
  }
  const clock = (t) => new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  function ago(t) {
    const s = Math.max(0, (Date.now() - t) / 1000);
    return s < 1 ? 'just now' : duration(s) + ' ago';
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // Connection state shown in the header.
  function setConn(kind, text) {
    const c = $('conn');
    c.dataset.state = kind;
    c.textContent = text;
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = 0;
    if (document.visibilityState === 'hidden') {
      setConn('paused', 'paused while hidden');
      return;
    }
    state.timer = setTimeout(poll, delay);
  }

  async function poll() {
    state.timer = 0;
    if (state.inFlight) return;
    state.inFlight = true;
    const url = state.seq ? DATA_URL + '?since=' + state.seq : DATA_URL;
    try {
      const res = await fetch(url, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.status === 401 || res.status === 403) {
        state.failures++;
        setConn('down', 'not authorized (' + res.status + '): reload to sign in');
        schedule(Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** state.failures));
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      apply(await res.json());
      state.failures = 0;
      setConn('live', 'live');
      schedule(POLL_MS);
    } catch (e) {
      state.failures++;
      const wait = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** state.failures);
      setConn('down', 'disconnected: retrying in ' + Math.round(wait / 1000) + ' s');
      schedule(wait);
    } finally {
      state.inFlight = false;
    }
  }

  function apply(d) {
    // A restarted service counts again from 1: take its whole history.
    if (d.seq < state.seq) { state.seq = 0; state.points = []; }
    state.capacity = d.capacity || state.capacity;
    for (const p of d.points || []) if (p.seq > state.seq) state.points.push(p);
    if (state.points.length > state.capacity) state.points.splice(0, state.points.length - state.capacity);
    state.seq = Math.max(state.seq, d.seq || 0);
    state.rows = (d.operations && d.operations.rows) || [];
    state.total = (d.operations && d.operations.total) || 0;
    renderHeader(d);
    renderChecks(d.health);
    renderTable();
    renderCharts();
  }

  function renderHeader(d) {
    $('service').textContent = d.service || 'observe';
    $('version').textContent = d.version ? 'v' + d.version : '';
    document.title = (d.service || 'observe') + ' – dashboard';
    const h = d.health || {};
    const overall = $('overall');
    overall.dataset.status = h.status || 'unknown';
    overall.textContent = h.status || 'unknown';
    const s = d.summary || {};
    $('uptime').textContent = s.uptime_seconds != null ? duration(s.uptime_seconds) : '–';
    $('total').textContent = s.total_operations != null ? n0.format(s.total_operations) : '–';
    $('errors').textContent = s.total_errors != null ? n0.format(s.total_errors) + ' (' + pct(s.error_rate || 0) + ')' : '–';
    $('avg').textContent = ms(s.avg_latency_ms);
    $('max').textContent = ms(s.max_latency_ms);
    const p = d.process || {};
    $('rss').textContent = bytes(p.resident_memory_bytes);
    $('threads').textContent = p.threads != null ? n0.format(p.threads) : '–';
    $('updated').textContent = clock(Date.now());
    const over = $('overflow');
    if (s.overflowed_operations > 0) {
      over.hidden = false;
      over.textContent = 'About ' + n0.format(s.overflowed_operations) +
        ' operation names were folded into one entry: the collector reached its cap on distinct names.';
    } else {
      over.hidden = true;
    }
  }

  function renderChecks(h) {
    const box = $('checks');
    box.textContent = '';
    const checks = (h && h.checks) || {};
    for (const name of Object.keys(checks)) {
      const c = checks[name];
      const card = el('div', { class: 'check', 'data-name': name, 'data-status': c.status });
      const title = el('div', { class: 'check-title' });
      title.append(el('b', {}, name), el('span', { class: 'badge', 'data-status': c.status }, c.status));
      card.append(title);
      const meta = [ms(c.duration_ms)];
      if (c.checked_at) meta.push('checked ' + ago(Date.parse(c.checked_at)));
      if (c.critical === false) meta.push('not critical');
      card.append(el('div', { class: 'meta' }, meta.join(' · ')));
      if (c.error) card.append(el('div', { class: 'error' }, c.error));
      box.append(card);
    }
    if (!box.childElementCount) box.append(el('p', { class: 'hint' }, 'No health checks registered.'));
  }

  function renderTable() {
    const total = state.total;
    $('ops-count').textContent = state.rows.length < total
      ? '(' + state.rows.length + ' busiest of ' + total + ')'
      : '(' + total + ')';
    const { key, desc } = state.sort;
    const rows = state.rows.slice().sort((a, b) => {
      const x = a[key], y = b[key];
      const c = typeof x === 'string' ? x.localeCompare(y) : (x || 0) - (y || 0);
      return desc ? -c : c;
    });
    for (const th of document.querySelectorAll('#ops th[data-key]')) {
      th.setAttribute('aria-sort', th.dataset.key === key ? (desc ? 'descending' : 'ascending') : 'none');
    }
    const chosen = chosenNames();
    const body = document.querySelector('#ops tbody');
    body.textContent = '';
    for (const r of rows) {
      const tr = el('tr', { 'data-name': r.name });
      const box = el('input', { type: 'checkbox', 'aria-label': 'chart ' + r.name });
      box.checked = chosen.includes(r.name);
      box.addEventListener('change', () => toggle(r.name, box.checked));
      const td = el('td');
      td.append(box);
      tr.append(td, el('td', { class: 'name' }, r.name), el('td', {}, rate(r.rate)),
        el('td', { class: r.err > 0 ? 'bad' : '' }, pct(r.err)),
        el('td', {}, ms(r.p50)), el('td', {}, ms(r.p95)), el('td', {}, ms(r.p99)),
        el('td', {}, n0.format(r.count) + (r.errors ? ' (' + n0.format(r.errors) + ' failed)' : '')),
        el('td', {}, r.last ? clock(r.last) : '–'));
      body.append(tr);
    }
    if (!rows.length) {
      const tr = el('tr');
      tr.append(el('td', { colspan: '9', class: 'hint' }, 'Nothing recorded yet.'));
      body.append(tr);
    }
  }

  // The operations charted: the ticked ones, or the three busiest over the history.
  function chosenNames() {
    if (state.chosen) return Array.from(state.chosen);
    const total = new Map();
    for (const p of state.points) for (const [name, v] of p.ops) total.set(name, (total.get(name) || 0) + v[0]);
    return Array.from(total).sort((a, b) => b[1] - a[1]).slice(0, 3).map((e) => e[0]);
  }
  function toggle(name, on) {
    if (!state.chosen) state.chosen = new Set(chosenNames());
    if (on) state.chosen.add(name); else state.chosen.delete(name);
    renderCharts();
  }

  function renderCharts() {
    const pts = state.points;
    const chosen = chosenNames().slice(0, COLORS.length);
    const total = (f) => [{ name: 'all operations', values: pts.map((p) => [p.t, f(p)]) }];
    const perOp = (i) => chosen.map((name) => ({
      name,
      values: pts.map((p) => {
        const o = p.ops.find((e) => e[0] === name);
        return [p.t, o ? o[1][i] : i < 2 ? 0 : null];
      }),
    }));
    const rateSeries = chosen.length ? total((p) => p.rate).concat(perOp(0)) : total((p) => p.rate);
    chart('c-rate', rateSeries, rate);
    chart('c-err', chosen.length ? total((p) => p.err).concat(perOp(1)) : total((p) => p.err), pct);
    const lat = [];
    perOp(2).forEach((s, i) => { lat.push({ name: s.name + ' p95', values: s.values, color: COLORS[(i + 1) % COLORS.length] }); });
    perOp(3).forEach((s, i) => { lat.push({ name: s.name + ' p99', values: s.values, color: COLORS[(i + 1) % COLORS.length], dash: true }); });
    chart('c-lat', lat, ms);
    chart('c-mem', [{ name: 'resident', values: pts.map((p) => [p.t, p.rss == null ? null : p.rss]) }], bytes);
    chart('c-cpu', [{ name: 'process', values: pts.map((p) => [p.t, p.cpu == null ? null : p.cpu]) }], pct);
  }

  // A line chart over time, drawn as SVG: no library, no inline style.
  function chart(id, series, fmt) {
    const fig = $(id);
    const W = Math.max(200, Math.round(fig.clientWidth - 24)), H = 160, L = 4, R = 4, T = 8, B = 22;
    const all = series.flatMap((s) => s.values.filter((v) => v[1] != null));
    for (const old of fig.querySelectorAll('svg, .legend, .empty, .scale')) old.remove();
    fig.dataset.points = String(all.length);
    if (all.length < 2) {
      fig.append(el('p', { class: 'empty' }, 'Collecting: one point every few seconds.'));
      return;
    }
    // Every chart spans the same time: the history's.
    const t0 = state.points[0].t, t1 = state.points[state.points.length - 1].t;
    const ymax = Math.max(...all.map((v) => v[1])) * 1.1 || 1;
    const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
    const y = (v) => T + (1 - v / ymax) * (H - T - B);
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': fig.querySelector('figcaption').textContent });
    for (const f of [0, 0.5, 1]) {
      s.append(svg('line', { x1: L, x2: W - R, y1: y(ymax * f), y2: y(ymax * f), class: 'grid' }));
    }
    series.forEach((ser, i) => {
      let d = '';
      let pen = false;
      for (const [t, v] of ser.values) {
        if (v == null) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      }
      if (!d) return;
      const path = svg('path', { d, class: 'line' + (ser.dash ? ' dash' : ''), stroke: ser.color || COLORS[i % COLORS.length] });
      path.append(svg('title', {}));
      path.firstChild.textContent = ser.name;
      s.append(path);
    });
    const axis = (tx, anchor, text) => {
      const t = svg('text', { x: tx, y: H - 6, 'text-anchor': anchor, class: 'axis' });
      t.textContent = text;
      s.append(t);
    };
    axis(L, 'start', clock(t0));
    axis(W - R, 'end', clock(t1));
    fig.append(el('span', { class: 'scale' }, 'top: ' + fmt(ymax)), s);
    const legend = el('ul', { class: 'legend' });
    series.forEach((ser, i) => {
      const last = ser.values.filter((v) => v[1] != null).pop();
      const li = el('li');
      const sw = el('i', { class: 'sw' + (ser.dash ? ' dash' : '') });
      sw.dataset.color = String(i);
      li.append(sw, document.createTextNode(ser.name + (last ? ': ' + fmt(last[1]) : '')));
      legend.append(li);
      // The swatch takes the series' color through CSSOM, which the CSP allows.
      sw.style.borderColor = ser.color || COLORS[i % COLORS.length];
    });
    fig.append(legend);
  }

  document.querySelector('#ops thead').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : th.dataset.type !== 'text' };
    renderTable();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      clearTimeout(state.timer);
      state.timer = 0;
      setConn('paused', 'paused while hidden');
    } else if (!state.timer && !state.inFlight) {
      poll();
    }
  });
  let resized = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resized);
    resized = setTimeout(renderCharts, 150);
  });
  poll();
})();
