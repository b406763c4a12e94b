/* app.js: whistle's dashboard (乡街吹哨 指挥中心). Signs in with an API key of the gateway's
 * allowlist (kept in sessionStorage, sent as a bearer key), reads the JSON API with it, and
 * follows the caller's own topic over Server-Sent Events: the gateway and the services decide
 * what the key may see; this page shows what it is given. The stream is opened with a one-time
 * ticket (POST /v1/stream-tickets: EventSource cannot send headers); when it breaks the page
 * opens a new one from the event after the last it saw (?from_seq=), so nothing is missed.
 * Every label in Chinese first and English (the toggle). No framework; uPlot for the chart. */
(function () {
  'use strict';

  /* ---- labels: zh-CN, en --------------------------------------------------------------- */
  const L = {
    title: ['乡街吹哨 · 指挥中心', 'Whistle · command centre'],
    offline: ['未连接', 'offline'],
    live: ['实时', 'live'],
    reconnecting: ['重连中', 'reconnecting'],
    signout: ['退出', 'Sign out'],
    signin: ['登录', 'Sign in'],
    signin_help: ['请输入网关的 API 密钥（由运维人员发放）。密钥只保存在本标签页中。',
      'Enter your gateway API key (issued by the operators). It is kept in this tab only.'],
    api_key: ['API 密钥', 'API key'],
    signin_button: ['登录', 'Sign in'],
    bad_key: ['密钥无效或未登记', 'This API key is not known'],
    no_gateway: ['无法连接网关', 'The gateway does not answer'],
    today_reported: ['今日上报', 'Reported today'],
    today_dispatched: ['今日派单', 'Dispatched today'],
    today_closed: ['今日办结', 'Closed today'],
    open_total: ['在办案件', 'Open cases'],
    open_by: ['在办案件：按哨种与状态', 'Open cases by whistle and state'],
    chart_title: ['近30分钟动态（每分钟）', 'Events in the last 30 minutes (per minute)'],
    chart_time: ['时间', 'time'],
    chart_events: ['动态', 'events'],
    chart_escalations: ['升级', 'escalations'],
    cases: ['案件', 'Cases'],
    case_id: ['案件', 'Case'],
    whistle: ['哨种', 'Whistle'],
    state: ['状态', 'State'],
    grid: ['网格', 'Grid'],
    lead_unit: ['牵头单位', 'Lead unit'],
    departments: ['报到部门', 'Departments'],
    updated: ['更新', 'Updated'],
    actions: ['操作', 'Actions'],
    feed: ['实时动态', 'Live events'],
    total: ['合计', 'Total'],
    note_prompt: ['进展说明：', 'Progress note:'],
    who_operator: ['区级指挥中心', 'District operator'],
    who_township: ['乡镇（街道）', 'Township'],
    who_department: ['职能部门', 'Department'],
    who_open: ['（开放模式）', '(open mode)'],
    // case states
    REPORTED: ['已上报', 'Reported'], DISPATCHED: ['已派单', 'Dispatched'],
    IN_PROGRESS: ['办理中', 'In progress'], RESOLVED: ['已解决', 'Resolved'],
    CLOSED: ['已办结', 'Closed'], REOPENED: ['重新办理', 'Reopened'],
    REFUSED: ['不予受理', 'Refused'], REVIEW: ['待审核', 'In review'],
    // whistles
    QUICK: ['快捷哨', 'Quick'], EMERGENCY: ['应急哨', 'Emergency'], TOUGH: ['攻坚哨', 'Tough'],
    // assignment states
    NOTIFIED: ['待报到', 'notified'], CHECKED_IN: ['已报到', 'checked in'],
    WORKING: ['办理中', 'working'], DONE: ['已完成', 'done'], RETURNED: ['已退单', 'returned'],
    RELEASED: ['已改派', 'released'], DECLINED: ['已拒单', 'declined'],
    // actions
    CHECKIN: ['报到', 'Check in'], PROGRESS: ['进展', 'Progress'], COMPLETE: ['完成', 'Complete'],
    RESOLVE: ['解决', 'Resolve'], VERIFY: ['验单', 'Verify'], RETURN: ['退单', 'Return'],
    ASSIGN: ['增派', 'Assign'], RELEASE: ['撤离', 'Release'], ACCEPT: ['接单', 'Accept'],
    DECLINE: ['拒单', 'Decline'], DISPATCH: ['派单', 'Dispatch'], REFUSE: ['不予受理', 'Refuse'],
    ESCALATE: ['升级督办', 'Escalate'], ORDER: ['点单派单', 'Order'], BLOW: ['吹哨', 'Blow'],
    HAND_OVER: ['移交社区', 'Hand over'], REJECT: ['驳回', 'Reject'],
    visit_logged: ['网格走访', 'Grid visit'],
    // views: what needs a push (point 4), a case (point 5)
    tab_board: ['看板', 'Board'], tab_push: ['待督办', 'Needs a push'],
    push_title: ['待督办：超时与临期案件', 'Needs a push: overdue and due cases'],
    department: ['部门', 'Department'], overdue_only: ['只看超时', 'Overdue only'],
    all: ['全部', 'all'], deadline_kind: ['时限', 'Deadline'], countdown: ['剩余时间', 'Time left'],
    ladder: ['督办层级', 'Ladder step'], not_checked_in: ['未报到部门', 'Not checked in'],
    overdue_by: ['超时', 'overdue'], dl_checkin: ['报到', 'check-in'],
    dl_resolve: ['办结', 'resolution'], dl_review: ['审核', 'review'],
    ladder_0: ['—', '—'], ladder_1: ['提醒', 'remind'], ladder_2: ['督办', 'supervise'],
    ladder_3: ['已升级', 'raised'],
    back: ['返回', 'Back'], assignments: ['1+N 派单', '1+N assignments'],
    timeline: ['全过程记录', 'Timeline'], assigned_at: ['派单时间', 'Assigned'],
    checkin_deadline: ['报到时限', 'Check in by'], checked_in_at: ['报到时间', 'Checked in'],
    done_at: ['完成时间', 'Done'], reason_prompt: ['原因：', 'Reason:'],
    dept_prompt: ['增派部门代码：', 'Department code to assign:'],
    description: ['描述', 'Description'],
    // assessment (point 6)
    tab_assess: ['考核', 'Assessment'], tab_grid: ['一格一账本', 'Grid book'],
    assess_title: ['考核：周调度 · 月通报 · 季点评 · 年考核',
      'Assessment: weekly, monthly, quarterly, yearly'],
    period_kind: ['周期', 'Period kind'], period: ['期间', 'Period'],
    kind_week: ['周调度', 'week'], kind_month: ['月通报', 'month'],
    kind_quarter: ['季点评', 'quarter'], kind_year: ['年考核', 'year'],
    group_by: ['分组', 'Group by'], by_department: ['按部门', 'by department'],
    by_township: ['按乡镇（街道）', 'by township'], by_grid: ['按网格', 'by grid'],
    query: ['查询', 'Show'], export_csv: ['导出 CSV', 'Export CSV'],
    rank: ['排名', 'Rank'], prev_rank: ['上期排名', 'Previous rank'], unit_key: ['单位', 'Code'],
    name: ['名称', 'Name'], dispatched: ['派单', 'Dispatched'],
    response_rate: ['响应率', 'Response'], resolution_rate: ['解决率', 'Resolution'],
    satisfaction_rate: ['满意率', 'Satisfaction'], score: ['综合得分', 'Score'],
    checkin_p50_p90: ['报到用时 p50 / p90', 'Check-in p50 / p90'],
    resolve_p50_p90: ['办结用时 p50 / p90', 'Resolution p50 / p90'],
    escalations: ['升级', 'Escalations'], this_period: ['本期', 'this period'],
    prev_period: ['上期', 'previous'], prev_score: ['上期综合得分', 'Previous score'],
    no_rows: ['本期无数据', 'No figures for this period'],
    // a grid's book (point 7)
    grid_title: ['一格一账本', "A grid's book"], community: ['社区', 'Community'],
    township: ['乡镇（街道）', 'Township'], street: ['街道', 'street'],
    households: ['户数', 'Households'], staff_title: ['1+3 网格力量（本期走访）',
      '1+3 grid staff (visits in the period)'], role: ['职责', 'Role'], staff: ['姓名', 'Name'],
    hours: ['走访时长', 'Visit hours'], visit_count: ['走访次数', 'Visits'], flag: ['提示', 'Flag'],
    under_5h: ['不足5小时', 'under 5 h'], leader: ['网格长', 'leader'], worker: ['网格员', 'worker'],
    visits_title: ['走访记录（民情）', 'Visits (what residents said)'], date: ['日期', 'Date'],
    minutes: ['分钟', 'Minutes'], note: ['民情', 'Note'],
    grid_cases: ['本期上报案件', 'Cases reported in the period'], matter: ['事项', 'Matter'],
    reported_at: ['上报', 'Reported'], dispatched_at: ['派单', 'Dispatched'],
    resolved_at: ['解决', 'Resolved'], closed_at: ['办结', 'Closed'],
    open_items: ['未结事项', 'Open items'], due: ['时限', 'Due'],
    not_listed: ['未列出（请缩短期间）', 'not listed (ask a shorter period)'],
  };
  const OPEN_STATES = ['REVIEW', 'REPORTED', 'DISPATCHED', 'IN_PROGRESS', 'RESOLVED', 'REOPENED'];
  const WHISTLES = ['QUICK', 'EMERGENCY', 'TOUGH'];
  const PAYLOADS = ['case_updated', 'case_reported', 'case_dispatched', 'case_refused',
    'case_escalated', 'visit_logged', 'review_step', 'entry'];

  let lang = localStorage.getItem('whistle.lang') === 'en' ? 'en' : 'zh';
  const t = (k) => (L[k] ? L[k][lang === 'zh' ? 0 : 1] : k);
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  /* ---- state ---------------------------------------------------------------------------- */
  let key = sessionStorage.getItem('whistle.key') || '';
  let me = null;                 // {kind, code, open}
  const cases = new Map();       // id -> Case (JSON), the highest version seen
  const flashed = new Set();     // ids changed since the last render
  const feed = [];               // [{at, text}] newest first, at most 200
  const times = [];              // [{at, escalate}] events of the last 30 minutes, for the chart
  let es = null, lastId = 0, retry = 0, retryTimer = null, renderQueued = false, chart = null;
  const dash = window.whistleDash = { lastId: 0, gaps: 0, events: 0, connects: 0, ids: [] };

  /* ---- the JSON API -------------------------------------------------------------------- */
  async function api(method, path, body) {
    const headers = key ? { Authorization: 'Bearer ' + key } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body) });
    let doc = null;
    try { doc = await res.json(); } catch (e) { doc = null; }
    if (!res.ok) {
      const err = new Error(doc && doc.error ? doc.error.message : res.status + ' ' + res.statusText);
      err.status = res.status;
      err.code = doc && doc.error ? doc.error.code : '';
      throw err;
    }
    return doc;
  }

  /* ---- sign-in ---------------------------------------------------------------------------- */
  async function signIn(k) {
    key = k;
    me = await api('GET', '/v1/whoami');
    sessionStorage.setItem('whistle.key', k);
    await loadNames();
    $('signin').hidden = true;
    $('tabs').hidden = false;
    $('signout').hidden = false;
    show('board');
    showWho();
    connect(0);
    await loadCases();
  }

  /* The district's names (GET /v1/catalog): a page shows 北乡 and 城管, the code on hover. A
   * gateway without the route (or an integrator's key) leaves the codes. */
  const names = { unit: {}, community: {}, department: {}, matter: {}, grid: {} };
  async function loadNames() {
    let c = null;
    try { c = await api('GET', '/v1/catalog'); } catch (e) { return; }
    for (const [kind, list] of [['unit', c.units], ['community', c.communities],
      ['department', c.departments], ['matter', c.matters]])
      for (const x of list || []) names[kind][x.code] = x.name;
    for (const g of c.grids || []) names.grid[g.code] = names.community[g.community] || '';
  }
  const nm = (kind, code) => (code && names[kind][code]) || code || '';
  /* a cell or span showing a name, its code in the title and in data-code */
  function named(tag, cls, kind, code, suffix) {
    const e = el(tag, cls, nm(kind, code) + (suffix || ''));
    if (code) { e.title = code; e.dataset.code = code; }
    return e;
  }

  function signOut() {
    sessionStorage.removeItem('whistle.key');
    location.reload();
  }

  function showWho() {
    if (!me) return;
    const kindLabel = { operator: 'who_operator', township: 'who_township',
      department: 'who_department' }[me.kind];
    const whoName = me.kind === 'township' ? nm('unit', me.code)
      : me.kind === 'department' ? nm('department', me.code) : me.code;
    $('who').textContent = (kindLabel ? t(kindLabel) : me.kind) + (whoName ? ' ' + whoName : '') +
      (me.open ? ' ' + t('who_open') : '');
  }

  /* The caller's own topic: notification's read rules (services/notification/notification.c). */
  function topic() {
    if (!me || me.kind === 'operator' || me.kind === 'service' || me.open) return 'all';
    if (me.kind === 'township') return 'unit/' + encodeURIComponent(me.code);
    if (me.kind === 'department') return 'dept/' + encodeURIComponent(me.code);
    if (me.kind === 'station' || me.kind === 'volunteer')
      return me.kind + '/' + encodeURIComponent(me.code);
    return null; // an integrator has no topic
  }

  /* ---- cases --------------------------------------------------------------------------- */
  function merge(c) {
    if (!c || !c.id) return false;
    const old = cases.get(c.id);
    if (old && (old.version || 0) > (c.version || 0)) return false;
    cases.set(c.id, c);
    flashed.add(c.id);
    return true;
  }

  async function loadCases() {
    let after = '';
    for (let page = 0; page < 50; page++) {
      const r = await api('GET', '/v1/cases?limit=1000' + (after ? '&after=' + encodeURIComponent(after) : ''));
      for (const c of r.cases || []) if (merge(c)) flashed.delete(c.id);
      if (!r.next_after) break;
      after = r.next_after;
    }
    queueRender();
  }

  /* ---- the live stream ------------------------------------------------------------------- */
  async function connect(fromSeq) {
    const tp = topic();
    if (!tp) return;
    clearTimeout(retryTimer);
    let ticket;
    try {
      ticket = (await api('POST', '/v1/stream-tickets')).ticket;
    } catch (e) {
      if (e.status === 401) return signOut();
      return reconnectLater();
    }
    let url = '/v1/topics/' + tp + '/events?ticket=' + ticket;
    if (fromSeq > 0) url += '&from_seq=' + fromSeq;
    es = new EventSource(url);
    dash.connects++;
    es.onopen = () => { retry = 0; setLive('live'); };
    for (const name of PAYLOADS) es.addEventListener(name, onEvent);
    es.addEventListener('error', (e) => {
      if (e.data) { // the gateway's own `error` event: the position is gone, or no longer ours
        let d = {};
        try { d = JSON.parse(e.data); } catch (x) { /* keep {} */ }
        es.close();
        if (d.code === 'EGONE') { lastId = 0; loadCases().then(() => connect(0)); }
        else reconnectLater();
        return;
      }
      // the connection broke: never let EventSource retry with a spent ticket
      es.close();
      reconnectLater();
    });
  }

  function reconnectLater() {
    setLive('reconnecting');
    const ms = Math.min(5000, 250 * Math.pow(2, retry++));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect(lastId ? lastId + 1 : 0), ms);
  }

  /* For the browser test: drop the stream as a network fault would, come back after `ms`. */
  dash.dropStream = (ms) => {
    if (es) es.close();
    setLive('reconnecting');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect(lastId ? lastId + 1 : 0), ms || 1000);
  };

  function setLive(s) {
    const b = $('live');
    b.dataset.i18n = s;
    b.textContent = t(s);
    b.className = 'live ' + (s === 'live' ? 'on' : 'off');
  }

  function onEvent(e) {
    const id = Number(e.lastEventId);
    if (lastId && id <= lastId) return; // already seen
    if (lastId && id !== lastId + 1) dash.gaps++;
    lastId = id;
    dash.lastId = id;
    dash.events++;
    dash.ids.push(id);
    let env;
    try { env = JSON.parse(e.data); } catch (x) { return; }
    const at = env.occurred_at_ms || Date.now();
    const u = env.case_updated;
    let text;
    if (u && u.case) {
      merge(u.case);
      const en = u.entry || {};
      text = [u.case.id, t(en.action || ''), en.department || en.actor || '',
        '→', t(u.case.state || '')].filter(Boolean).join(' ');
      times.push({ at, escalate: en.action === 'ESCALATE' });
    } else if (env.visit_logged) {
      const v = env.visit_logged;
      text = t('visit_logged') + ' ' + v.grid + ' ' + v.staff + ' ' + v.minutes + "'";
      times.push({ at, escalate: false });
    } else {
      text = (env.correlation_id || '') + ' ' + e.type;
    }
    feed.unshift({ at, text, id });
    if (feed.length > 200) feed.length = 200;
    queueRender();
  }

  /* ---- actions (a department on its own orders) ----------------------------------------- */
  async function act(c, verb) {
    const body = {};
    if (verb === 'progress') {
      const note = prompt(t('note_prompt'));
      if (note === null) return;
      body.note = note;
    }
    $('action-error').textContent = '';
    try {
      const r = await api('POST', '/v1/cases/' + encodeURIComponent(c.id) + '/' + verb, body);
      if (r && r.case) merge(r.case);
      queueRender();
    } catch (e) {
      $('action-error').textContent = c.id + ': ' + e.message;
    }
  }

  function myAssignment(c) {
    if (!me || me.kind !== 'department') return null;
    return (c.assignments || []).find((a) => a.department === me.code && !a.kind) || null;
  }

  /* ---- rendering ------------------------------------------------------------------------- */
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function midnight() {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  }

  function render() {
    if (!me) return;
    const m0 = midnight();
    let reported = 0, dispatched = 0, closed = 0, open = 0;
    const byWs = {};
    for (const c of cases.values()) {
      if ((c.created_at_ms || 0) >= m0) reported++;
      const firstAssigned = Math.min(...(c.assignments || []).map((a) => a.assigned_at_ms || Infinity));
      if (firstAssigned >= m0 && firstAssigned !== Infinity) dispatched++;
      if (c.state === 'CLOSED' && (c.updated_at_ms || 0) >= m0) closed++;
      if (OPEN_STATES.includes(c.state)) {
        open++;
        const w = c.whistle || 'QUICK';
        byWs[w] = byWs[w] || {};
        byWs[w][c.state] = (byWs[w][c.state] || 0) + 1;
      }
    }
    $('today-reported').textContent = reported;
    $('today-dispatched').textContent = dispatched;
    $('today-closed').textContent = closed;
    $('open-total').textContent = open;
    renderOpenTable(byWs);
    renderCases();
    renderFeed();
    renderChart();
    renderPush();
    if (openId && flashed.has(openId)) refreshCase();
    flashed.clear();
  }

  function caseCell(id) {
    const td = el('td', 'id');
    const a = el('a', 'case-link', id);
    a.href = '#case/' + id;
    a.addEventListener('click', (ev) => { ev.preventDefault(); openCase(id); });
    td.append(a);
    return td;
  }

  function gridCell(g) {
    const td = el('td', 'grid-code');
    if (!g) return td;
    const a = el('a', 'grid-link', g);
    a.href = '#grid/' + g;
    a.addEventListener('click', (ev) => { ev.preventDefault(); openGrid(g); });
    td.append(a);
    return td;
  }

  /* ---- views ------------------------------------------------------------------------------ */
  let view = 'board', caseFrom = 'board';
  function show(v) {
    if (v === 'case' && view !== 'case') caseFrom = view; // back returns where the case was opened
    view = v;
    for (const s of document.querySelectorAll('section.view')) s.hidden = s.id !== v;
    for (const b of document.querySelectorAll('#tabs button'))
      b.className = b.dataset.view === v ? 'on' : '';
    if (v !== 'case') openId = null;
    if (v === 'assess' && !figures && !$('a-period').value) {
      $('a-period').value = periodOf($('a-kind').value, new Date());
      loadFigures();
    }
    if (v === 'grid' && !$('g-period').value) $('g-period').value = periodOf('week', new Date());
    render();
  }

  /* ---- what needs a push (point 4): every open case by the deadline it must meet next ------- */
  let sortKey = 'due', sortDesc = false;
  function nextDue(c) {
    const notIn = (c.assignments || []).filter((a) => a.state === 'NOTIFIED');
    if (c.state === 'REVIEW') return { due: c.review_deadline_ms || 0, kind: 'dl_review', notIn: [] };
    if (!['DISPATCHED', 'IN_PROGRESS', 'REOPENED'].includes(c.state)) return null;
    if (notIn.length) {
      const due = Math.min(...notIn.map((a) => a.checkin_deadline_ms || c.checkin_deadline_ms || Infinity));
      return { due: due === Infinity ? 0 : due, kind: 'dl_checkin', notIn: notIn.map((a) => a.department) };
    }
    return { due: c.resolve_deadline_ms || 0, kind: 'dl_resolve', notIn: [] };
  }

  function fmtLeft(ms) {
    const neg = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const txt = (h ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + String(sec).padStart(2, '0');
    return neg ? t('overdue_by') + ' ' + txt : txt;
  }

  /* `label`: an option's text from its value (the value itself when absent) */
  function fillSelect(id, values, label) {
    const sel = $(id), keep = sel.value;
    sel.replaceChildren(el('option', '', t('all')));
    sel.firstChild.value = '';
    for (const v of [...values].sort()) {
      const o = el('option', '', label ? label(v) : v);
      o.value = v;
      sel.append(o);
    }
    sel.value = [...values].includes(keep) ? keep : '';
  }

  function renderPush() {
    if (view !== 'push') return;
    const now = Date.now(), rows = [], units = new Set(), depts = new Set(), ws = new Set();
    for (const c of cases.values()) {
      const d = nextDue(c);
      if (!d || !d.due) continue;
      units.add(c.lead_unit || '');
      for (const a of c.assignments || []) depts.add(a.department);
      ws.add(c.whistle || 'QUICK');
      rows.push({ c, d, left: d.due - now });
    }
    fillSelect('f-unit', units, (v) => nm('unit', v));
    fillSelect('f-dept', depts, (v) => nm('department', v));
    fillSelect('f-whistle', ws, t);
    const fu = $('f-unit').value, fd = $('f-dept').value, fw = $('f-whistle').value;
    const fo = $('f-overdue').checked;
    const shown = rows.filter((r) => (!fu || r.c.lead_unit === fu) &&
      (!fd || (r.c.assignments || []).some((a) => a.department === fd)) &&
      (!fw || (r.c.whistle || 'QUICK') === fw) && (!fo || r.left < 0));
    const key = {
      id: (r) => r.c.id, whistle: (r) => r.c.whistle || '', unit: (r) => r.c.lead_unit || '',
      due: (r) => r.d.due, level: (r) => r.c.escalation_level || 0,
    }[sortKey];
    shown.sort((a, b) => {
      const x = key(a), y = key(b);
      const o = x < y ? -1 : x > y ? 1 : 0;
      return sortDesc ? -o : o;
    });
    for (const th of document.querySelectorAll('#push-table th[data-sort]'))
      th.className = th.dataset.sort === sortKey ? 'sorted' + (sortDesc ? ' desc' : '') : '';
    const tbody = $('push-table').tBodies[0];
    tbody.replaceChildren();
    for (const r of shown) {
      const tr = el('tr', r.left < 0 ? 'overdue' : '');
      tr.dataset.case = r.c.id;
      tr.append(caseCell(r.c.id));
      tr.append(el('td', '', t(r.c.whistle || '')));
      tr.append(named('td', '', 'unit', r.c.lead_unit));
      tr.append(el('td', '', t(r.d.kind)));
      const cd = el('td', 'countdown', fmtLeft(r.left));
      cd.dataset.due = r.d.due;
      tr.append(cd);
      const lv = Math.min(3, r.c.escalation_level || 0);
      const ld = el('td', 'ladder ladder-' + lv, t('ladder_' + lv));
      ld.dataset.level = r.c.escalation_level || 0;
      tr.append(ld);
      const ni = el('td', 'not-in', r.d.notIn.map((d) => nm('department', d)).join(' '));
      ni.dataset.codes = r.d.notIn.join(' ');
      tr.append(ni);
      tbody.append(tr);
    }
  }

  /* the countdowns tick without a re-render */
  setInterval(() => {
    if (view !== 'push') return;
    const now = Date.now();
    for (const td of document.querySelectorAll('#push-table td.countdown')) {
      const left = Number(td.dataset.due) - now;
      td.textContent = fmtLeft(left);
      td.parentNode.className = left < 0 ? 'overdue' : '';
    }
  }, 1000);

  /* ---- a case (point 5): its timeline, its 1+N, the actions the caller's role has ------------ */
  let openId = null, refreshing = false;
  async function openCase(id) {
    openId = id;
    $('case-error').textContent = '';
    show('case');
    openId = id;
    await refreshCase();
  }

  async function refreshCase() {
    if (!openId || refreshing) return;
    refreshing = true;
    const id = openId;
    try {
      const r = await api('GET', '/v1/cases/' + encodeURIComponent(id));
      if (id === openId) renderCase(r);
    } catch (e) {
      $('case-error').textContent = id + ': ' + e.message;
    } finally {
      refreshing = false;
    }
  }

  function verbsFor(c) {
    if (!me || c.state === 'CLOSED' || c.state === 'REFUSED') return [];
    if (me.kind === 'department') {
      const a = myAssignment(c);
      if (!a) return [];
      if (a.state === 'NOTIFIED') return ['checkin', 'return'];
      if (a.state === 'CHECKED_IN' || a.state === 'WORKING') return ['progress', 'complete', 'return'];
      return [];
    }
    // the lead unit resolves and assigns as itself (tracking's authorize.c); the district's
    // operators raise the ladder (督办)
    if (me.kind === 'township') return ['resolve', 'assign', 'escalate'];
    if (me.kind === 'operator' || me.open) return ['escalate'];
    return [];
  }

  async function caseAction(c, verb) {
    const body = {};
    if (verb === 'progress') {
      const n = prompt(t('note_prompt'));
      if (n === null) return;
      body.note = n;
    } else if (verb === 'return' || verb === 'escalate') {
      const n = prompt(t('reason_prompt'));
      if (n === null) return;
      body.reason = n;
    } else if (verb === 'assign') {
      const d = prompt(t('dept_prompt'));
      if (d === null) return;
      body.department = d.trim();
    }
    $('case-error').textContent = '';
    try {
      const r = await api('POST', '/v1/cases/' + encodeURIComponent(c.id) + '/' + verb, body);
      if (r && r.case) merge(r.case);
      await refreshCase();
    } catch (e) {
      // the API's own refusal, as it gave it
      $('case-error').textContent = t(verb.toUpperCase()) + ': ' + (e.code ? e.code + ' ' : '') + e.message;
    }
  }

  function renderCase(r) {
    const c = r.case || {};
    merge(c);
    const grid = (c.report && c.report.grid) || '', matter = (c.report && c.report.matter) || '';
    $('case-title').textContent = [c.id, t(c.whistle || ''), t(c.state || ''), nm('matter', matter),
      grid + (names.grid[grid] ? ' ' + names.grid[grid] : ''), nm('unit', c.lead_unit)]
      .filter((x) => x).join(' · ');
    $('case-title').dataset.state = c.state || '';
    $('case-desc').textContent = (c.report && c.report.description) || '';
    const acts = $('case-actions');
    acts.replaceChildren();
    for (const v of verbsFor(c)) {
      const b = el('button', 'case-' + v, t(v.toUpperCase()));
      b.type = 'button';
      b.addEventListener('click', () => caseAction(c, v));
      acts.append(b);
    }
    const tb = $('case-assignments').tBodies[0];
    tb.replaceChildren();
    const when = (ms) => (ms ? new Date(ms).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '');
    for (const a of c.assignments || []) {
      const tr = el('tr');
      tr.dataset.department = a.department;
      tr.dataset.state = a.state || '';
      for (const v of [nm('department', a.department) + (a.kind ? ' (' + a.kind + ')' : ''), t(a.state || ''),
        when(a.assigned_at_ms), when(a.checkin_deadline_ms), when(a.checked_in_at_ms), when(a.done_at_ms)])
        tr.append(el('td', '', v));
      tb.append(tr);
    }
    const ol = $('case-history');
    ol.replaceChildren();
    for (const h of r.history || []) {
      const li = el('li');
      li.dataset.action = h.action || '';
      li.append(el('time', '', when(h.at_ms)));
      li.append(document.createTextNode([t(h.action || ''), h.actor || '', nm('department', h.department),
        h.from_state || h.to_state ? t(h.from_state || '') + ' → ' + t(h.to_state || '') : '',
        h.note || ''].filter(Boolean).join(' ')));
      ol.append(li);
    }
  }

  function renderOpenTable(byWs) {
    const tb = $('open-table');
    tb.replaceChildren();
    const head = el('tr');
    head.append(el('th', '', t('whistle')));
    for (const s of OPEN_STATES) head.append(el('th', '', t(s)));
    head.append(el('th', '', t('total')));
    tb.append(head);
    for (const w of WHISTLES) {
      const tr = el('tr');
      tr.dataset.whistle = w;
      tr.append(el('th', '', t(w)));
      let sum = 0;
      for (const s of OPEN_STATES) {
        const n = (byWs[w] && byWs[w][s]) || 0;
        sum += n;
        const td = el('td', '', String(n));
        td.dataset.state = s;
        tr.append(td);
      }
      const td = el('td', 'sum', String(sum));
      td.dataset.state = 'total';
      tr.append(td);
      tb.append(tr);
    }
  }

  function fmtTime(ms) {
    if (!ms) return '';
    return new Date(ms).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
  }

  function renderCases() {
    const tbody = $('cases').tBodies[0];
    tbody.replaceChildren();
    const list = [...cases.values()].sort((a, b) => (b.updated_at_ms || 0) - (a.updated_at_ms || 0));
    for (const c of list.slice(0, 500)) {
      const tr = el('tr', flashed.has(c.id) ? 'flash' : '');
      tr.dataset.case = c.id;
      tr.dataset.state = c.state || '';
      tr.append(caseCell(c.id));
      tr.append(el('td', '', t(c.whistle || '')));
      const st = el('td');
      st.append(el('span', 'state ' + (c.state || ''), t(c.state || '')));
      tr.append(st);
      tr.append(gridCell((c.report && c.report.grid) || ''));
      tr.append(named('td', '', 'unit', c.lead_unit));
      const deps = el('td');
      for (const a of c.assignments || [])
        deps.append(named('span', 'dept ' + (a.state || ''), 'department', a.department, ' ' + t(a.state || '')));
      tr.append(deps);
      tr.append(el('td', '', fmtTime(c.updated_at_ms)));
      const acts = el('td', 'actions');
      const mine = myAssignment(c);
      if (mine && c.state !== 'CLOSED' && c.state !== 'REFUSED') {
        const verbs = mine.state === 'NOTIFIED' ? ['checkin']
          : (mine.state === 'CHECKED_IN' || mine.state === 'WORKING') ? ['progress', 'complete'] : [];
        for (const v of verbs) {
          const b = el('button', 'act-' + v, t(v.toUpperCase()));
          b.type = 'button';
          b.addEventListener('click', () => act(c, v));
          acts.append(b);
        }
      }
      tr.append(acts);
      tbody.append(tr);
    }
  }

  function renderFeed() {
    const ol = $('feed');
    ol.replaceChildren();
    for (const f of feed.slice(0, 100)) {
      const li = el('li');
      li.dataset.id = f.id;
      li.append(el('time', '', fmtTime(f.at)));
      li.append(document.createTextNode(f.text));
      ol.append(li);
    }
  }

  /* Events and escalations per minute over the last 30 minutes (uPlot, vendored). */
  function renderChart() {
    if (!window.uPlot) return;
    const now = Math.floor(Date.now() / 60000);
    const xs = [], ev = [], esc = [];
    for (let i = 29; i >= 0; i--) { xs.push((now - i) * 60); ev.push(0); esc.push(0); }
    while (times.length && times[0].at < (now - 29) * 60000) times.shift();
    for (const x of times) {
      const k = Math.floor(x.at / 60000) - (now - 29);
      if (k >= 0 && k < 30) { ev[k]++; if (x.escalate) esc[k]++; }
    }
    const data = [xs, ev, esc];
    if (chart && chart._lang === lang) { chart.setData(data); return; }
    if (chart) chart.destroy();
    const box = $('chart');
    chart = new window.uPlot({
      width: Math.max(300, box.clientWidth || 480), height: 220,
      series: [{ label: t('chart_time') }, { label: t('chart_events'), stroke: '#b71c1c', width: 2 },
        { label: t('chart_escalations'), stroke: '#ef6c00', width: 2 }],
      axes: [{}, { label: t('chart_events') }],
    }, data, box);
    chart._lang = lang;
  }

  /* ---- periods: the spec of a date's period, and the period before a spec ---------------- */
  const pad = (n) => String(n).padStart(2, '0');
  /* ISO 8601 week of a calendar day (docs/figures.md: week 1 holds January 4) */
  function isoWeek(y, m, d) {
    const th = new Date(Date.UTC(y, m, d));
    th.setUTCDate(th.getUTCDate() - (th.getUTCDay() + 6) % 7 + 3); // the Thursday of its week
    const wy = th.getUTCFullYear(), jan4 = new Date(Date.UTC(wy, 0, 4));
    const w = 1 + Math.round(((th - jan4) / 86400000 - 3 + (jan4.getUTCDay() + 6) % 7) / 7);
    return wy + '-W' + pad(w);
  }
  function periodOf(kind, d) {
    const y = d.getFullYear(), m = d.getMonth();
    if (kind === 'week') return isoWeek(y, m, d.getDate());
    if (kind === 'month') return y + '-' + pad(m + 1);
    if (kind === 'quarter') return y + '-Q' + (Math.floor(m / 3) + 1);
    return String(y);
  }
  /* The spec of the period just before `spec`; null when `spec` is none. */
  function prevPeriod(spec) {
    let x = /^(\d{4})-W(\d{2})$/.exec(spec);
    if (x) {
      const jan4 = new Date(Date.UTC(+x[1], 0, 4));
      const mon = new Date(jan4 - ((jan4.getUTCDay() + 6) % 7) * 86400000 + (+x[2] - 2) * 7 * 86400000);
      return isoWeek(mon.getUTCFullYear(), mon.getUTCMonth(), mon.getUTCDate());
    }
    if ((x = /^(\d{4})-(\d{2})$/.exec(spec)))
      return +x[2] === 1 ? (+x[1] - 1) + '-12' : x[1] + '-' + pad(+x[2] - 1);
    if ((x = /^(\d{4})-Q([1-4])$/.exec(spec)))
      return +x[2] === 1 ? (+x[1] - 1) + '-Q4' : x[1] + '-Q' + (+x[2] - 1);
    if ((x = /^(\d{4})$/.exec(spec))) return String(+x[1] - 1);
    return null;
  }
  dash.periodOf = periodOf;
  dash.prevPeriod = prevPeriod;

  function fmtDay(ms, withTime) {
    if (!ms || ms <= 0) return '';
    const d = new Date(ms);
    const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
    return withTime ? day + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) : day;
  }

  /* ---- assessment (point 6): the figures of a period beside the previous period's ---------- */
  const RATES = ['response_rate', 'resolution_rate', 'satisfaction_rate'];
  let figures = null, figSeq = 0, figPlot = null;
  const rateText = (r, k) => (r && r['has_' + k] ? (r[k] * 100).toFixed(1) + '%' : '—');
  const scoreText = (r) => (r && r.has_score ? (r.score * 100).toFixed(1) : '—');
  const durText = (n, ms) => (n ? fmtLeft(ms) : '—');

  async function loadFigures() {
    const spec = $('a-period').value.trim(), by = $('a-by').value, prev = prevPeriod(spec);
    $('a-error').textContent = '';
    if (!prev) { $('a-error').textContent = t('period') + ': ' + spec; return; }
    // a township reads every department's figures over its own cases (figures.unit)
    const unit = me && me.kind === 'township' && by === 'department' ? '&unit=' + encodeURIComponent(me.code) : '';
    const q = (p) => '/v1/figures?period=' + encodeURIComponent(p) + '&by=' + by + unit;
    const seq = ++figSeq;
    try {
      const [cur, old] = await Promise.all([api('GET', q(spec)), api('GET', q(prev))]);
      if (seq !== figSeq) return;
      figures = { spec, prev, by, cur, old, prevBy: new Map((old.rows || []).map((r) => [r.key, r])) };
    } catch (e) {
      if (seq !== figSeq) return;
      figures = null;
      $('a-error').textContent = (e.code ? e.code + ' ' : '') + e.message;
    }
    renderFigures();
    figChart(true);
  }

  function renderFigures() {
    const tb = $('a-table').tBodies[0];
    tb.replaceChildren();
    if (!figures) { $('a-range').textContent = ''; return; }
    const f = figures, range = (r) => fmtDay(r.from_ms) + ' – ' + fmtDay(r.to_ms - 1);
    $('a-range').textContent = t('this_period') + ' ' + f.spec + ' (' + range(f.cur) + ')  · ' +
      t('prev_period') + ' ' + f.prev + ' (' + range(f.old) + ')';
    const rows = f.cur.rows || [];
    if (!rows.length) {
      const tr = el('tr', 'empty');
      const td = el('td', '', t('no_rows'));
      td.colSpan = 12;
      tr.append(td);
      tb.append(tr);
    }
    for (const r of rows) {
      const p = f.prevBy.get(r.key);
      const tr = el('tr');
      tr.dataset.key = r.key;
      const num = (v) => el('td', 'num', String(v));
      tr.append(num(r.rank), num(p ? p.rank : '—'), el('td', 'key', r.key), el('td', '', r.name || ''),
        num(r.dispatched));
      for (const k of RATES) {
        const td = el('td', 'num rate', rateText(r, k));
        td.dataset.rate = k;
        td.append(el('span', 'prev', t('prev_period') + ' ' + rateText(p, k)));
        tr.append(td);
      }
      const sc = el('td', 'num score', scoreText(r));
      sc.append(el('span', 'prev', t('prev_period') + ' ' + scoreText(p)));
      tr.append(sc);
      tr.append(el('td', 'num', durText(r.checked_in, r.checkin_p50_ms) + ' / ' + durText(r.checked_in, r.checkin_p90_ms)));
      tr.append(el('td', 'num', durText(r.resolved, r.resolve_p50_ms) + ' / ' + durText(r.resolved, r.resolve_p90_ms)));
      tr.append(num(r.escalations));
      tb.append(tr);
    }
  }

  /* The rates of this period as lines, its score as bars, the previous period's score dashed:
   * one x position per row (the first 40 by rank), in percent. */
  function figChart(rebuild) {
    const box = $('a-chart');
    if (!window.uPlot || !figures) { if (figPlot) { figPlot.destroy(); figPlot = null; } return; }
    const rows = (figures.cur.rows || []).slice(0, 40), labels = rows.map((r) => r.key);
    const pct = (r, k) => (r && r['has_' + k] ? Math.round(r[k] * 1000) / 10 : null);
    const data = [rows.map((_, i) => i), rows.map((r) => pct(r, 'score')),
      ...RATES.map((k) => rows.map((r) => pct(r, k))),
      rows.map((r) => pct(figures.prevBy.get(r.key), 'score'))];
    if (figPlot && !rebuild) { figPlot.setData(data); return; }
    if (figPlot) figPlot.destroy();
    const n = rows.length;
    const line = (label, stroke, dash) => ({ label: t(label), scale: '%', stroke, width: 2,
      dash, points: { show: true, size: 7 }, value: (u, v) => (v == null ? '—' : v + '%') });
    figPlot = new window.uPlot({
      width: Math.max(480, box.clientWidth || 900), height: 280,
      scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, n - 0.5)] },
        '%': { range: [0, 100] } },
      series: [{ label: t('unit_key'), value: (u, v) => (v == null ? '' : labels[v] || '') },
        { label: t('score'), scale: '%', stroke: '#b71c1c', fill: '#b71c1c40',
          paths: window.uPlot.paths.bars({ size: [0.5, 80] }), points: { show: false },
          value: (u, v) => (v == null ? '—' : v + '%') },
        line('response_rate', '#1565c0'), line('resolution_rate', '#2e7d32'),
        line('satisfaction_rate', '#ef6c00'), line('prev_score', '#667085', [6, 4])],
      axes: [{ incrs: [1], values: (u, splits) => splits.map((i) => labels[i] || '') },
        { scale: '%', values: (u, vs) => vs.map((v) => v + '%') }],
    }, data, box);
  }

  /* RFC 4180 (CRLF, quoted when needed), the proto's field names as whistlectl report --csv,
   * a rate with no value empty; a BOM so spreadsheet programs read the names as UTF-8. */
  function figuresCsv(f) {
    const cols = ['rank', 'key', 'name', 'dispatched', 'checked_in', 'checked_in_on_time',
      'response_rate', 'resolved', 'resolution_rate', 'verified', 'satisfied',
      'satisfaction_rate', 'score', 'checkin_p50_ms', 'checkin_p90_ms', 'resolve_p50_ms',
      'resolve_p90_ms', 'escalations'];
    const rateCols = ['response_rate', 'resolution_rate', 'satisfaction_rate', 'score'];
    const cell = (r, k) => {
      if (!r) return '';
      if (rateCols.includes(k)) return r[k === 'score' ? 'has_score' : 'has_' + k] ? r[k].toFixed(6) : '';
      return r[k] === undefined ? '' : String(r[k]);
    };
    const q = (v) => (/[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);
    const lines = [['period', 'by', ...cols, 'prev_period', 'prev_rank',
      ...rateCols.map((k) => 'prev_' + k)].join(',')];
    for (const r of f.cur.rows || []) {
      const p = f.prevBy.get(r.key);
      lines.push([f.spec, f.by, ...cols.map((k) => cell(r, k)), f.prev, p ? String(p.rank) : '',
        ...rateCols.map((k) => cell(p, k))].map(q).join(','));
    }
    return lines.join('\r\n') + '\r\n';
  }

  function exportCsv() {
    if (!figures) return;
    const blob = new Blob(['\ufeff' + figuresCsv(figures)], { type: 'text/csv;charset=utf-8' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'figures-' + figures.by + '-' + figures.spec + '.csv';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  /* ---- a grid's book (point 7): 一格一账本 ------------------------------------------------ */
  let book = null, bookSeq = 0;
  async function openGrid(g) {
    if (!g) return;
    show('grid');
    $('g-code').value = g;
    const period = $('g-period').value.trim();
    const seq = ++bookSeq;
    $('g-error').textContent = '';
    try {
      const r = await api('GET', '/v1/grids/' + encodeURIComponent(g) + '/ledger' +
        (period ? '?period=' + encodeURIComponent(period) : ''));
      if (seq !== bookSeq) return;
      book = r;
    } catch (e) {
      if (seq !== bookSeq) return;
      book = null;
      $('g-error').textContent = g + ': ' + (e.code ? e.code + ' ' : '') + e.message;
    }
    $('g-book').hidden = !book;
    if (book) renderBook(book);
  }

  function fillBody(id, rows, cells, decorate) {
    const tb = $(id).tBodies[0];
    tb.replaceChildren();
    for (const r of rows) {
      const tr = el('tr');
      for (const c of cells(r)) tr.append(typeof c === 'string' ? el('td', '', c) : c);
      if (decorate) decorate(tr, r);
      tb.append(tr);
    }
  }

  function renderBook(r) {
    const dl = $('g-head');
    dl.replaceChildren();
    const fact = (k, v, name) => {
      const dd = el('dd', '', v);
      dd.dataset.fact = name;
      dl.append(el('dt', '', t(k)), dd);
    };
    fact('grid', r.grid, 'grid');
    fact('period', r.period + ' (' + fmtDay(r.from_ms) + ' – ' + fmtDay(r.to_ms - 1) + ')', 'period');
    fact('community', r.community_name + ' (' + r.community + ')', 'community');
    fact('township', r.unit_name + ' (' + r.unit + (r.street ? ', ' + t('street') : '') + ')', 'unit');
    fact('households', r.households >= 0 ? String(r.households) : '—', 'households');
    const hm = (m) => Math.floor(m / 60) + ':' + pad(m % 60);
    fillBody('g-staff', r.staff || [], (s) => [t(s.role), s.staff, hm(s.minutes), String(s.visits),
      el('td', 'flag', s.under_minimum ? t('under_5h') : '')], (tr, s) => {
      tr.dataset.staff = s.staff;
      if (s.under_minimum) tr.className = 'short';
    });
    fillBody('g-visits', r.visits || [], (v) => [v.date, v.staff, String(v.minutes), v.note]);
    const ws = (w) => (w && !/UNSPECIFIED/.test(w) ? t(w) : '');
    const matter = (c) => c.matter + (c.matter_name ? ' ' + c.matter_name : '');
    const mark = (tr, c) => { tr.dataset.case = c.case_id; tr.dataset.state = c.state || ''; };
    fillBody('g-cases', r.cases || [], (c) => [caseCell(c.case_id), t(c.state), ws(c.whistle),
      matter(c), fmtDay(c.reported_at_ms, true), fmtDay(c.dispatched_at_ms, true),
      fmtDay(c.resolved_at_ms, true), fmtDay(c.closed_at_ms, true),
      (c.departments || []).join(' ')], mark);
    const now = Date.now();
    fillBody('g-open', r.open || [], (c) => [caseCell(c.case_id), t(c.state), matter(c),
      fmtDay(c.reported_at_ms, true),
      el('td', c.due_ms && c.due_ms < now ? 'overdue' : '', c.due_ms ? fmtDay(c.due_ms, true) : '')], mark);
    const more = [['visits_title', r.visits_not_listed], ['grid_cases', r.cases_not_listed],
      ['open_items', r.open_not_listed]].filter((x) => x[1]);
    $('g-more').textContent = more.map((x) => t(x[0]) + ' ' + x[1] + ' ' + t('not_listed')).join(' · ');
  }

  /* ---- language ---------------------------------------------------------------------------- */
  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
    showWho();
    render();
    if (figures) { renderFigures(); figChart(true); }
    if (book) renderBook(book);
  }

  /* ---- start ------------------------------------------------------------------------------- */
  document.addEventListener('DOMContentLoaded', () => {
    $('lang').addEventListener('click', () => {
      lang = lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem('whistle.lang', lang);
      applyLang();
    });
    $('signout').addEventListener('click', signOut);
    for (const b of document.querySelectorAll('#tabs button'))
      b.addEventListener('click', () => show(b.dataset.view));
    $('case-back').addEventListener('click', () => show(caseFrom));
    $('a-kind').addEventListener('change', () => {
      $('a-period').value = periodOf($('a-kind').value, new Date());
      loadFigures();
    });
    $('a-by').addEventListener('change', () => loadFigures());
    $('a-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadFigures(); });
    $('a-csv').addEventListener('click', exportCsv);
    $('g-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      openGrid($('g-code').value.trim());
    });
    for (const id of ['f-unit', 'f-dept', 'f-whistle', 'f-overdue'])
      $(id).addEventListener('change', () => renderPush());
    for (const th of document.querySelectorAll('#push-table th[data-sort]'))
      th.addEventListener('click', () => {
        if (sortKey === th.dataset.sort) sortDesc = !sortDesc;
        else { sortKey = th.dataset.sort; sortDesc = th.dataset.sort === 'level'; }
        renderPush();
      });
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      $('signin-error').textContent = '';
      try {
        await signIn($('key').value.trim());
      } catch (e) {
        key = '';
        $('signin-error').textContent = e.status === 401 ? t('bad_key') : (e.status ? e.message : t('no_gateway'));
      }
    });
    applyLang();
    if (key) signIn(key).catch(() => { sessionStorage.removeItem('whistle.key'); key = ''; });
    // a gateway started with --open (deploy/local/up.sh) takes no key: in at once as an operator
    else fetch('/v1/whoami', { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null))
      .then((w) => { if (w && w.open) signIn(''); }).catch(() => {});
  });
})();
