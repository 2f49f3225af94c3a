// microseg web UI: talks only to the API (/api2/json/cluster/sdn/microseg) with the token
// the user entered. Every text from the server goes into the page through textContent.
const BASE = "/api2/json/cluster/sdn/microseg";
const TOKEN_KEY = "microseg.token";

const state = {
  token: null,
  digest: null,
  groups: [], rules: [], assignments: [], bridges: [], forwarders: [],
  selected: null, // matrix cell {src, dst}
  tree: { byParent: new Map(), size: new Map(), seen: new Set() },
  rulesShown: 200, // rules listed (more on request)
  opened: new Set(), closed: new Set(), // groups the user opened or closed in the tree
  // The matrix shown: source and destination subtrees ("" = all) and the window's corner.
  matrix: { src: "", dst: "", row: 0, col: 0 },
  cells: [], // the matrix cells shown (as the API gave them), for their counters
  columns: [], // the destination groups shown
  stats: null, // this host's counter rows for what is shown; null: none read (see #counters-note)
};

// ---- DOM helpers --------------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(node, visible) { node.hidden = !visible; }

function showMessage(text) {
  const box = $("#message");
  box.textContent = text || "";
  show(box, !!text);
}

// ---- API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.errors = body?.errors || null;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `PVEAPIToken=${state.token}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  let json = null;
  try { json = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

/** A write based on the digest we last read: a conflict reloads and says so. */
async function write(method, path, body = {}) {
  try {
    const result = await api(method, path, { ...body, digest: state.digest });
    showMessage("");
    await refresh();
    return result;
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      await refresh();
      showMessage("The configuration was changed by someone else since it was shown; the view is reloaded. Please repeat the change.");
      return null;
    }
    throw e;
  }
}

// ---- session ------------------------------------------------------------------------------

function normalizeToken(text) {
  let t = text.trim();
  if (t.startsWith("Authorization:")) t = t.slice("Authorization:".length).trim();
  if (t.startsWith("PVEAPIToken=")) t = t.slice("PVEAPIToken=".length);
  return t;
}

async function login(token) {
  state.token = token;
  try {
    await api("GET", "/status");
  } catch (e) {
    state.token = null;
    const why = e instanceof ApiError && e.status === 401 ? "The token was not accepted (unknown token or wrong secret)."
      : e instanceof ApiError && e.status === 403 ? "This token lacks SDN.Audit, which reading the configuration needs."
      : `The server could not be reached: ${e.message}`;
    const box = $("#login-error");
    box.textContent = why;
    show(box, true);
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  show($("#login-error"), false);
  show($("#login"), false);
  show($("#app"), true);
  show($("#session"), true);
  $("#token-user").textContent = token.split("=")[0];
  await guarded(refresh);
  return true;
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// ---- loading ------------------------------------------------------------------------------

async function loadLists() {
  const types = ["group", "rule", "assignment", "bridge", "forwarder"];
  for (let attempt = 0; attempt < 3; attempt++) {
    const lists = await Promise.all(types.map((t) => api("GET", `/${t}`)));
    const digests = new Set(lists.map((l) => l.digest));
    [state.groups, state.rules, state.assignments, state.bridges, state.forwarders] = lists.map((l) => l.data);
    state.digest = lists[0].digest;
    if (digests.size === 1) return; // one consistent view of the file
  }
}

async function refresh() {
  // The cluster card asks the store on its own and shows its own errors: an unreachable store
  // is news there, and never keeps the other views from loading.
  await Promise.all([renderCluster(), refreshConfig()]);
}

async function refreshConfig() {
  await loadLists();
  buildTree();
  renderGroups();
  renderRules();
  renderAssignments();
  renderBridges();
  renderForwarders();
  await Promise.all([renderMatrix(), renderPending(), renderStatus()]);
}

// ---- groups -------------------------------------------------------------------------------

// A big hierarchy (tens of thousands of groups) must not become tens of thousands of nodes at
// once: a group with many children shows them when opened, and any list of siblings shows
// SHOW_AT_ONCE at a time.
const SHOW_AT_ONCE = 200;
const OPEN_UP_TO = 50; // children a group may have and still start opened

/** Children by parent ("" = top) and subtree sizes, built once per load. */
function buildTree() {
  const byParent = new Map();
  const names = new Set(state.groups.map((g) => g.id));
  for (const g of state.groups) {
    // A group whose parent is missing (a broken file) still shows, at the top.
    const key = g.parent && names.has(g.parent) ? g.parent : "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(g);
  }
  const size = new Map();
  const seen = new Set();
  const order = [];
  const stack = [...(byParent.get("") || [])];
  while (stack.length) {
    const g = stack.pop();
    if (seen.has(g.id)) continue;
    seen.add(g.id);
    order.push(g.id);
    for (const c of byParent.get(g.id) || []) stack.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    size.set(id, 1 + (byParent.get(id) || []).reduce((n, c) => n + (size.get(c.id) || 0), 0));
  }
  state.tree = { byParent, size, seen };
}

function renderGroups() {
  const tree = $("#group-tree");
  const { byParent, seen } = state.tree;
  const node = (g) => {
    const kids = byParent.get(g.id) || [];
    const li = el("li", { dataset: { group: g.id } });
    const open = state.opened.has(g.id) || (kids.length <= OPEN_UP_TO && !state.closed.has(g.id));
    const toggle = kids.length ? el("button", {
      type: "button", class: "quiet small toggle", text: `${open ? "▾" : "▸"} ${kids.length.toLocaleString("en")}`,
      title: `${open ? "hide" : "show"} the ${kids.length.toLocaleString("en")} children of ${g.id}`,
      onclick: () => {
        const opening = !li.querySelector(":scope > ul");
        (opening ? state.opened : state.closed).add(g.id);
        (opening ? state.closed : state.opened).delete(g.id);
        renderGroups();
      },
    }) : null;
    li.append(el("div", { class: "node" },
      toggle,
      el("span", { class: "name", text: g.id }),
      el("span", { class: "mark", text: g.mark !== undefined ? `mark ${g.mark}` : "mark (on commit)" }),
      switchesText(g) ? el("span", { class: "switches", text: switchesText(g) }) : null,
      g.comment ? el("span", { class: "comment", text: g.comment }) : null,
      el("span", { class: "actions" },
        el("button", { type: "button", class: "quiet small", text: "edit", onclick: () => editGroup(g) }),
        el("button", { type: "button", class: "danger small", text: "delete", onclick: () => remove("group", g.id) }))));
    if (open && kids.length) {
      const ul = el("ul");
      siblings(ul, kids);
      li.append(ul);
    }
    return li;
  };
  // SHOW_AT_ONCE siblings, then a button for the next ones.
  const siblings = (ul, list, from = 0) => {
    const shown = list.slice(from, from + SHOW_AT_ONCE).filter((g) => seen.has(g.id));
    ul.append(...shown.map(node));
    const left = list.length - from - SHOW_AT_ONCE;
    if (left > 0) {
      const more = el("li", { class: "more" }, el("button", { type: "button", class: "quiet small",
        text: `show ${Math.min(left, SHOW_AT_ONCE)} more (${left.toLocaleString("en")} not shown)`,
        onclick: () => { more.remove(); siblings(ul, list, from + SHOW_AT_ONCE); } }));
      ul.append(more);
    }
  };
  tree.replaceChildren();
  siblings(tree, byParent.get("") || []);
  // A parent cycle in a hand-edited file: those groups hang from no top-level group.
  for (const g of state.groups.filter((g) => !seen.has(g.id)).slice(0, SHOW_AT_ONCE))
    tree.append(el("li", { dataset: { group: g.id } }, el("div", { class: "node" }, el("span", { class: "name", text: `${g.id} (in a parent cycle)` }))));
  if (!state.groups.length) tree.append(el("li", { class: "hint", text: "No groups yet." }));
}

/** A group's switches, each 0|1 when set and inherited when absent. */
const SWITCHES = ["stateful", "infra", "audit"];

function switchesText(g) {
  return SWITCHES.filter((k) => g[k] !== undefined).map((k) => `${k} ${g[k]}`).join(", ");
}

function editGroup(g) {
  const form = $("#group-form");
  form.dataset.edit = g.id;
  form.elements.id.value = g.id;
  form.elements.id.readOnly = true;
  form.elements.mark.value = g.mark ?? "";
  form.elements.parent.value = g.parent ?? "";
  form.elements.comment.value = g.comment ?? "";
  for (const key of SWITCHES) form.elements[key].value = g[key] === undefined ? "" : String(g[key]);
  $("#group-submit").textContent = "Save group";
  show(form.querySelector(".cancel"), true);
}

function resetForm(form, submitText) {
  form.reset();
  delete form.dataset.edit;
  for (const input of form.querySelectorAll("input")) input.readOnly = false;
  form.querySelector("button[type=submit]").textContent = submitText;
  const cancel = form.querySelector(".cancel");
  if (cancel) show(cancel, false);
  show(form.querySelector(".form-error"), false);
}

async function submitGroup(form) {
  const f = form.elements;
  const editing = form.dataset.edit;
  if (editing) {
    const body = {};
    const del = [];
    if (f.mark.value) body.mark = Number(f.mark.value);
    if (f.parent.value.trim()) body.parent = f.parent.value.trim(); else del.push("parent");
    if (f.comment.value.trim()) body.comment = f.comment.value; else del.push("comment");
    for (const key of SWITCHES) if (f[key].value) body[key] = Number(f[key].value); else del.push(key);
    if (del.length) body.delete = del.join(",");
    await write("PUT", `/group/${encodeURIComponent(editing)}`, body);
  } else {
    const body = { id: f.id.value.trim() };
    if (f.mark.value) body.mark = Number(f.mark.value);
    if (f.parent.value.trim()) body.parent = f.parent.value.trim();
    if (f.comment.value.trim()) body.comment = f.comment.value;
    for (const key of SWITCHES) if (f[key].value) body[key] = Number(f[key].value);
    await write("POST", "/group", body);
  }
  resetForm(form, "Add group");
}

// ---- rules --------------------------------------------------------------------------------

/** A rule's or verdict's service as people read it: "tcp/5432", "udp/8000-8080", "icmp";
 * with others, "tcp (other ports)" for a protocol's packets outside every listed range. */
function serviceText(x, { others = false } = {}) {
  if (!x.proto) return "any";
  if (x.dport) return `${x.proto}/${x.dport}`;
  return others && ["tcp", "udp", "sctp"].includes(x.proto) ? `${x.proto} (other ports)` : x.proto;
}

function renderRules() {
  const body = $("#rule-table tbody");
  body.replaceChildren();
  for (const r of state.rules.slice(0, state.rulesShown)) {
    const other = r.action === "allow" ? "deny" : "allow";
    body.append(el("tr", { dataset: { rule: r.id } },
      el("td", { text: r.id }),
      el("td", { text: r.src ?? "untagged" }),
      el("td", { text: r.dst }),
      el("td", { text: serviceText(r) }),
      el("td", { class: `verdict-${r.action}`, text: r.action }),
      el("td", { class: "count", title: "Packets and bytes this rule decided on this host (every destination group)" }),
      el("td", { text: r.comment ?? "" }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "quiet small", text: `make ${other}`,
          onclick: () => guarded(() => write("PUT", `/rule/${encodeURIComponent(r.id)}`, { action: other })) }),
        el("button", { type: "button", class: "danger small", text: "delete", onclick: () => remove("rule", r.id) }))));
  }
  if (!state.rules.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "hint", text: "No rules: every assigned NIC denies everything." })));
  const left = state.rules.length - state.rulesShown;
  if (left > 0) body.append(el("tr", { class: "more" }, el("td", { colspan: 8 }, el("button", { type: "button", class: "quiet small",
    text: `show ${Math.min(left, SHOW_AT_ONCE)} more (${left.toLocaleString("en")} not shown)`,
    onclick: () => { state.rulesShown += SHOW_AT_ONCE; renderRules(); guarded(refreshCounters); } }))));
  showCounters();
}

async function submitRule(form) {
  const f = form.elements;
  const body = { dst: f.dst.value.trim(), action: f.action.value };
  const src = f.src.value.trim();
  if (src && src !== "untagged") body.src = src;
  if (f.proto.value.trim()) body.proto = f.proto.value.trim();
  if (f.dport.value.trim()) body.dport = f.dport.value.trim();
  if (f.comment.value.trim()) body.comment = f.comment.value;
  await write("POST", "/rule", body);
  f.comment.value = "";
  f.proto.value = "";
  f.dport.value = "";
  show(form.querySelector(".form-error"), false);
}

// ---- matrix and explain -------------------------------------------------------------------

// The matrix is shown a window at a time: the rows of the source subtree and the columns of
// the destination subtree that fit MATRIX_CELLS, fetched as pages of the API's matrix. However
// many groups there are, a window costs at most MATRIX_CELLS cells, in the DOM and on the server.
const MATRIX_CELLS = 1000, MATRIX_COLUMNS = 100, MATRIX_ROWS = 50;
const fmt = (n) => n.toLocaleString("en");

/** Rows and columns of the current filter, as the loaded groups give them. */
function matrixSides() {
  const { src, dst } = state.matrix;
  const n = state.groups.length;
  const sources = src === "" ? n + 1 : src === "untagged" ? 1 : state.tree.size.get(src) || 1;
  const destinations = dst === "" ? n : state.tree.size.get(dst) || 1;
  return { sources, destinations };
}

function matrixQuery(start, limit) {
  const { src, dst } = state.matrix;
  const q = new URLSearchParams();
  if (src) q.set("src", src);
  if (dst) q.set("dst", dst);
  q.set("start", start);
  q.set("limit", limit);
  return `/matrix?${q}`;
}

/** Fetches the window: one page when it spans whole rows, else one page per row. */
async function fetchMatrixWindow() {
  const sides = matrixSides();
  const m = state.matrix;
  const cols = Math.min(sides.destinations, MATRIX_COLUMNS);
  const rows = Math.max(1, Math.min(MATRIX_ROWS, Math.floor(MATRIX_CELLS / Math.max(cols, 1))));
  m.row = Math.max(0, Math.min(m.row, sides.sources - 1));
  m.col = Math.max(0, Math.min(m.col, sides.destinations - cols));
  const shownRows = Math.max(0, Math.min(rows, sides.sources - m.row));
  const D = sides.destinations;
  let pages;
  if (cols === D) {
    pages = [await api("GET", matrixQuery(m.row * D, Math.max(1, shownRows * D)))];
  } else {
    pages = await Promise.all([...Array(shownRows).keys()].map((r) => api("GET", matrixQuery((m.row + r) * D + m.col, cols))));
  }
  return { pages, rows, cols, sides };
}

async function renderMatrix() {
  const table = $("#matrix");
  const error = $("#matrix-error");
  let win;
  try {
    win = await fetchMatrixWindow();
    show(error, false);
  } catch (e) {
    table.replaceChildren();
    show($("#matrix-paging"), false);
    // A filter naming a group that went away falls back to the whole matrix.
    if (e instanceof ApiError && e.status === 400 && e.errors && (e.errors.src || e.errors.dst) && (state.matrix.src || state.matrix.dst)) {
      setMatrixFilter("src", ""); setMatrixFilter("dst", "");
      return renderMatrix();
    }
    error.textContent = `The pending config cannot be resolved: ${e.message}`;
    show(error, true);
    return;
  }
  const { pages, rows, cols } = win;
  const first = pages[0] || { data: { groups: [], matrix: [] }, sources: 0, destinations: 0 };
  const sides = { sources: first.sources ?? 0, destinations: first.destinations ?? 0 };
  renderMatrixPaging(sides, rows, cols);
  if (!state.groups.length) {
    table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "hint", text: "Add groups to see who may talk to whom." }))));
    return;
  }
  const columns = first.data.groups;
  const head = el("tr", {}, el("th", { text: "src \\ dst" }), columns.map((g) => el("th", { text: g, scope: "col" })));
  const byRow = new Map();
  for (const page of pages)
    for (const cell of page.data.matrix) {
      if (!byRow.has(cell.src)) byRow.set(cell.src, new Map());
      byRow.get(cell.src).set(cell.dst, cell);
    }
  const body = el("tbody");
  for (const [src, cells] of byRow) {
    body.append(el("tr", {},
      el("th", { class: "rowhead", scope: "row", text: src }),
      columns.map((dst) => {
        const c = cells.get(dst);
        if (!c) return el("td", { class: "empty" });
        const selected = state.selected && state.selected.src === c.src && state.selected.dst === c.dst;
        const partial = c.partial === 1;
        return el("td", {
          class: `cell ${c.verdict}${c.rule ? "" : " default"}${partial ? " partial" : ""}${selected ? " selected" : ""}`,
          title: cellTitle(c),
          dataset: { src: c.src, dst: c.dst, verdict: c.verdict, rule: c.rule ?? "", partial: partial ? "1" : "0" },
        }, partial ? `${c.verdict}*` : c.verdict);
      })));
  }
  table.replaceChildren(el("thead", {}, head), body);
  state.columns = columns;
  state.cells = [...byRow.values()].flatMap((cells) => [...cells.values()]);
  showCounters();
  guarded(refreshCounters);
  if (state.selected) await explain(state.selected.src, state.selected.dst, true, state.selected.service);
}

/** What hovering a cell says: the deciding rule and, when the verdict depends on the
 * service, the verdict of each service. */
function cellTitle(c) {
  const verdict = (v, rule) => rule ? `${v} by rule ${rule}` : `${v} (no rule matches: default deny)`;
  if (c.partial !== 1) return `${c.src} → ${c.dst}: ${verdict(c.verdict, c.rule)}`;
  return [`${c.src} → ${c.dst}: partial, it depends on the service`,
    ...c.per_service.map((v) => `${serviceText(v, { others: true })}: ${verdict(v.verdict, v.rule)}`),
    `any other traffic: ${verdict(c.verdict, c.rule)}`].join("\n");
}

function renderMatrixPaging(sides, rows, cols) {
  const m = state.matrix;
  const lastRow = Math.min(sides.sources, m.row + rows);
  const lastCol = Math.min(sides.destinations, m.col + cols);
  $("#matrix-range").textContent = sides.sources && sides.destinations
    ? `sources ${fmt(m.row + 1)}–${fmt(lastRow)} of ${fmt(sides.sources)} × destinations ${fmt(m.col + 1)}–${fmt(lastCol)} of ${fmt(sides.destinations)}`
    : "no cells";
  const step = (button, enabled, move) => { button.disabled = !enabled; button.onclick = () => { move(); guarded(renderMatrix); }; };
  step($("#matrix-up"), m.row > 0, () => { m.row = Math.max(0, m.row - rows); });
  step($("#matrix-down"), lastRow < sides.sources, () => { m.row += rows; });
  step($("#matrix-left"), m.col > 0, () => { m.col = Math.max(0, m.col - cols); });
  step($("#matrix-right"), lastCol < sides.destinations, () => { m.col += cols; });
  show($("#matrix-paging"), true);
}

// ---- counters -----------------------------------------------------------------------------

// The data plane counts packets and bytes per deciding rule and destination group (and per
// destination group for default deny, replies and infrastructure traffic). The UI asks for the
// rows of what it shows only: the matrix's columns and the rules listed.
const COUNTERS_POLL_MS = 5000;
const STATS_CHUNK = 20; // names per request: a window of 100 columns is five short URLs
const RULE_KINDS = new Set(["allow", "deny", "audit"]);

function bytesText(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function countText(c) { return `${fmt(c.packets)} pkt · ${bytesText(c.bytes)}`; }

async function statsFor(param, names) {
  const chunks = [];
  for (let i = 0; i < names.length; i += STATS_CHUNK) chunks.push(names.slice(i, i + STATS_CHUNK));
  const pages = await Promise.all(chunks.map((c) => api("GET", `/stats?${new URLSearchParams({ [param]: c.join(",") })}`)));
  return pages.flatMap((p) => p.data.rows);
}

/** Reads the counters of what is shown; a host without loaded programs (or a server that may
 * not read them) has none, which the note under the matrix says. */
async function refreshCounters() {
  const rules = state.rules.slice(0, state.rulesShown).map((r) => r.id);
  const note = $("#counters-note");
  try {
    const [byGroup, byRule] = await Promise.all([statsFor("group", state.columns), statsFor("rule", rules)]);
    state.stats = { byGroup, byRule };
    note.textContent = "Counters: packets and bytes this host counted for the deciding rule towards the column's group (every source that rule decides).";
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    state.stats = null;
    note.textContent = `No counters: ${e.message}`;
  }
  showCounters();
}

/** The counter a matrix cell shows: its deciding rules (one per service when it depends on
 * the service) towards its destination, or the destination's default deny. */
function cellCount(c, rows) {
  const rules = new Set([c.rule, ...(c.per_service || []).map((v) => v.rule)].filter((r) => r));
  const byDefault = !c.rule || (c.per_service || []).some((v) => !v.rule);
  const sum = { packets: 0, bytes: 0 };
  for (const r of rows) {
    if (r.group !== c.dst) continue;
    const counted = r.rule ? RULE_KINDS.has(r.kind) && rules.has(r.rule) : byDefault && (r.kind === "default-deny" || r.kind === "audit");
    if (counted) { sum.packets += r.packets; sum.bytes += r.bytes; }
  }
  return sum;
}

function showCounters() {
  const stats = state.stats;
  const cells = new Map(state.cells.map((c) => [`${c.src}\u0000${c.dst}`, c]));
  for (const td of document.querySelectorAll("#matrix td.cell")) {
    td.querySelector(".count")?.remove();
    const c = cells.get(`${td.dataset.src}\u0000${td.dataset.dst}`);
    if (!stats || !c) continue;
    const n = cellCount(c, stats.byGroup);
    td.append(el("span", { class: "count", text: countText(n) }));
    td.dataset.packets = n.packets;
    td.dataset.bytes = n.bytes;
  }
  for (const tr of document.querySelectorAll("#rule-table tr[data-rule]")) {
    const td = tr.querySelector("td.count");
    if (!stats) { td.textContent = ""; continue; }
    const sum = { packets: 0, bytes: 0 };
    for (const r of stats.byRule) if (r.rule === tr.dataset.rule && RULE_KINDS.has(r.kind)) { sum.packets += r.packets; sum.bytes += r.bytes; }
    td.textContent = countText(sum);
    tr.dataset.packets = sum.packets;
  }
}

// ---- recent drops -------------------------------------------------------------------------

const DROPS_POLL_MS = 2000, DROPS_SHOWN = 100;
const NOT_RULES = new Set(["default-deny", "reply", "infra", "unreadable"]); // else the reason is a rule id

/** The newest drops this host's kernel reported (GET .../drops), newest first. */
async function renderDrops() {
  const status = $("#drops-status"), body = $("#drops-table tbody");
  let d;
  try {
    d = await api("GET", `/drops?limit=${DROPS_SHOWN}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    status.textContent = `The recent drops could not be read: ${e.message}`;
    return;
  }
  const m = d.monitor;
  status.textContent = m.running
    ? `Watching this host's verdict events: ${fmt(m.total)} drop${m.total === 1 ? "" : "s"} since the server started` +
      (m.lost ? `, ${fmt(m.lost)} event${m.lost === 1 ? "" : "s"} lost to the rate limit` : "") + "."
    : `Not watching: ${m.error}`;
  const where = (addr, port) => addr ? (port != null ? `${addr}:${port}` : addr) : "(not IP)";
  body.replaceChildren(...d.data.map((e) => el("tr", { dataset: { reason: e.reason, dst: e.dst_group } },
    el("td", { class: "time", text: new Date(e.time).toLocaleTimeString() }),
    el("td", { text: e.nic }),
    el("td", { text: `${e.src_group ?? "untagged"} → ${e.dst_group}` }),
    el("td", { text: `${where(e.src, e.sport)} → ${where(e.dst, e.dport)}` }),
    el("td", { text: e.proto ?? "" }),
    el("td", { class: "reason", text: NOT_RULES.has(e.reason) ? e.reason : `rule ${e.reason}` }),
    el("td", { text: fmt(e.len) }))));
  if (!d.data.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "hint", text: "No drops yet." })));
}

// ---- group search (matrix filters) ---------------------------------------------------------

const MATCHES_SHOWN = 20;

/** Up to MATCHES_SHOWN names containing the text: exact first, then prefixes, then the rest. */
function searchGroups(text, withUntagged) {
  const q = text.trim().toLowerCase();
  const names = withUntagged ? ["untagged", ...state.groups.map((g) => g.id)] : state.groups.map((g) => g.id);
  if (!q) return names.slice(0, MATCHES_SHOWN);
  const exact = [], prefix = [], inside = [];
  for (const name of names) {
    const lower = name.toLowerCase();
    if (lower === q) exact.push(name);
    else if (lower.startsWith(q)) { if (prefix.length < MATCHES_SHOWN) prefix.push(name); }
    else if (inside.length < MATCHES_SHOWN && lower.includes(q)) inside.push(name);
  }
  return [...exact, ...prefix, ...inside].slice(0, MATCHES_SHOWN);
}

function setMatrixFilter(side, name) {
  state.matrix[side] = name;
  state.matrix.row = 0;
  state.matrix.col = 0;
  $(`#matrix-${side}`).value = name;
  $(`#matrix-${side}-current`).textContent = name === "" ? (side === "src" ? "all groups and untagged" : "all groups")
    : name === "untagged" ? "untagged traffic"
    : (state.tree.size.get(name) || 1) === 1 ? `${name} (no group below it)`
    : `${name} and the ${fmt(state.tree.size.get(name) - 1)} groups below it`;
}

/** Makes a text input find a group as one types: up to MATCHES_SHOWN names below it, one
 * picked with a click or Enter (the first match; Enter on an empty input picks ""). Choosing
 * among 20,000 groups this way costs a scan of their names, not 20,000 option nodes. */
function groupPicker(input, { untagged = false, onPick = () => {} } = {}) {
  let wrap = input.parentElement;
  if (!wrap || !wrap.classList.contains("picker")) {
    wrap = el("span", { class: "picker" });
    if (input.parentNode) input.replaceWith(wrap);
    wrap.append(input);
  }
  input.autocomplete = "off";
  input.spellcheck = false;
  const list = el("ul", { class: "matches", hidden: true });
  wrap.append(list);
  const pick = (name) => {
    show(list, false);
    input.value = name;
    onPick(name);
  };
  const fill = () => {
    const names = searchGroups(input.value, untagged);
    list.replaceChildren(...names.map((name) => el("li", {
      dataset: { group: name },
      onmousedown: (ev) => { ev.preventDefault(); pick(name); },
    }, el("span", { text: name }), name !== "untagged" && state.tree.size.get(name) > 1
      ? el("small", { text: ` ${fmt(state.tree.size.get(name) - 1)} below` }) : null)));
    if (!names.length) list.append(el("li", { class: "hint", text: "no group matches" }));
    show(list, true);
  };
  input.addEventListener("input", fill);
  input.addEventListener("focus", fill);
  input.addEventListener("blur", () => show(list, false));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { show(list, false); return; }
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    if (!input.value.trim()) { pick(""); return; }
    const first = searchGroups(input.value, untagged)[0];
    if (first) pick(first);
  });
}

/** Explains a pair: for one packet when service is {proto, dport}, else with the per-service listing. */
async function explain(src, dst, quiet = false, service = null) {
  let e;
  const q = new URLSearchParams({ src, dst });
  if (service?.proto) q.set("proto", service.proto);
  if (service?.proto && service.dport) q.set("dport", service.dport);
  try {
    e = (await api("GET", `/explain?${q}`)).data;
  } catch (err) {
    if (quiet) { state.selected = null; show($("#explain-panel"), false); return; }
    throw err;
  }
  state.selected = { src, dst, service };
  for (const td of document.querySelectorAll("#matrix td.cell"))
    td.classList.toggle("selected", td.dataset.src === src && td.dataset.dst === dst);
  const packet = e.proto ? ` ${e.proto}${e.dport ? `/${e.dport}` : ""}` : "";
  $("#explain-summary").replaceChildren(
    `${e.src} → ${e.dst}${packet}: `, el("span", { class: `verdict-${e.verdict}`, text: e.verdict }),
    e.rule ? ` (rule ${e.rule})` : " (no rule: default deny)");
  $("#explain-reason").textContent = e.reason;
  const services = $("#explain-services tbody");
  services.replaceChildren(...e.per_service.map((v) => el("tr", {},
    el("td", { text: serviceText(v, { others: true }) }),
    el("td", { class: `verdict-${v.verdict}`, text: v.verdict }),
    el("td", { text: v.rule ?? "(default deny)" }))));
  show($("#explain-services"), !e.proto && e.per_service.length > 0);
  const form = $("#explain-form");
  form.elements.proto.value = service?.proto ?? "";
  form.elements.dport.value = service?.dport ?? "";
  show(form.querySelector(".form-error"), false);
  const body = $("#explain-candidates tbody");
  body.replaceChildren(...e.candidates.map((c) => el("tr", {},
    el("td", { text: c.rule }), el("td", { text: c.src ?? "untagged" }), el("td", { text: c.dst }),
    el("td", { text: serviceText(c) }),
    el("td", { class: `verdict-${c.action}`, text: c.action }),
    el("td", { text: c.dst_distance }), el("td", { text: c.src_distance }))));
  show($("#explain-candidates"), e.candidates.length > 0);
  show($("#explain-panel"), true);
}

// ---- assignments, bridges, forwarders ------------------------------------------------------

function renderAssignments() {
  const body = $("#assignment-table tbody");
  body.replaceChildren();
  for (const a of state.assignments) {
    const group = el("input", { "aria-label": `group of ${a.id}`, value: a.group });
    groupPicker(group, { onPick: (name) => { if (name && name !== a.group) guarded(() => write("PUT", `/assignment/${encodeURIComponent(a.id)}`, { group: name })); } });
    body.append(el("tr", { dataset: { assignment: a.id } },
      el("td", { text: a.id }), el("td", { text: a.vmid }), el("td", { text: `net${a.iface}` }),
      el("td", {}, group.closest(".picker")),
      el("td", { class: "hint", text: `tap${a.vmid}i${a.iface}, veth${a.vmid}i${a.iface}` }),
      el("td", { class: "actions" }, el("button", { type: "button", class: "danger small", text: "delete", onclick: () => remove("assignment", a.id) }))));
  }
  if (!state.assignments.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "hint", text: "No assignments: no NIC is enforced." })));
}

function renderBridges() {
  const body = $("#bridge-table tbody");
  body.replaceChildren();
  for (const b of state.bridges) {
    body.append(el("tr", { dataset: { bridge: b.id } },
      el("td", { text: b.id }),
      el("td", { text: b.nodes ? b.nodes.join(", ") : "(all nodes)" }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "quiet small", text: "edit", onclick: () => editBridge(b) }),
        el("button", { type: "button", class: "danger small", text: "delete", onclick: () => remove("bridge", b.id) }))));
  }
  if (!state.bridges.length) body.append(el("tr", {}, el("td", { colspan: 3, class: "hint", text: "No carrier interfaces." })));
}

function editBridge(b) {
  const form = $("#bridge-form");
  form.dataset.edit = b.id;
  form.elements.id.value = b.id;
  form.elements.id.readOnly = true;
  form.elements.nodes.value = (b.nodes || []).join(",");
  $("#bridge-submit").textContent = "Save bridge";
  show(form.querySelector(".cancel"), true);
}

async function submitBridge(form) {
  const f = form.elements;
  const nodes = f.nodes.value.trim();
  if (form.dataset.edit) {
    await write("PUT", `/bridge/${encodeURIComponent(form.dataset.edit)}`, nodes ? { nodes } : { delete: "nodes" });
  } else {
    await write("POST", "/bridge", nodes ? { id: f.id.value.trim(), nodes } : { id: f.id.value.trim() });
  }
  resetForm(form, "Add bridge");
}

function renderForwarders() {
  const body = $("#forwarder-table tbody");
  body.replaceChildren();
  for (const fw of state.forwarders) {
    body.append(el("tr", { dataset: { forwarder: fw.id } },
      el("td", { text: fw.id }), el("td", { text: fw.router }), el("td", { text: fw.physical.join(", ") }), el("td", { text: fw.mode }),
      el("td", { text: fw.nodes ? fw.nodes.join(", ") : "(all nodes)" }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "quiet small", text: "edit", onclick: () => editForwarder(fw) }),
        el("button", { type: "button", class: "danger small", text: "delete", onclick: () => remove("forwarder", fw.id) }))));
  }
  if (!state.forwarders.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "hint", text: "No forwarders." })));
}

function editForwarder(fw) {
  const form = $("#forwarder-form");
  form.dataset.edit = fw.id;
  form.elements.id.value = fw.id;
  form.elements.id.readOnly = true;
  form.elements.router.value = fw.router;
  form.elements.physical.value = fw.physical.join(",");
  form.elements.mode.value = fw.mode;
  form.elements.nodes.value = (fw.nodes || []).join(",");
  $("#forwarder-submit").textContent = "Save forwarder";
  show(form.querySelector(".cancel"), true);
}

async function submitForwarder(form) {
  const f = form.elements;
  const body = { router: f.router.value.trim(), physical: f.physical.value.trim(), mode: f.mode.value };
  const nodes = f.nodes.value.trim();
  if (form.dataset.edit) await write("PUT", `/forwarder/${encodeURIComponent(form.dataset.edit)}`, nodes ? { ...body, nodes } : { ...body, delete: "nodes" });
  else await write("POST", "/forwarder", nodes ? { id: f.id.value.trim(), ...body, nodes } : { id: f.id.value.trim(), ...body });
  resetForm(form, "Add forwarder");
}

async function remove(type, id) {
  await guarded(() => write("DELETE", `/${type}/${encodeURIComponent(id)}`));
}

// ---- pending, commit, apply ----------------------------------------------------------------

function describe(obj) {
  if (!obj) return "";
  switch (obj.type) {
    case "group": return `mark ${obj.mark ?? "(on commit)"}${obj.parent ? `, parent ${obj.parent}` : ""}${switchesText(obj) ? `, ${switchesText(obj)}` : ""}${obj.comment ? `, "${obj.comment}"` : ""}`;
    case "rule": return `${obj.src ?? "untagged"} → ${obj.dst}${obj.proto ? ` ${serviceText(obj)}` : ""} ${obj.action}`;
    case "assignment": return `vmid ${obj.vmid} net${obj.iface} → ${obj.group}`;
    case "bridge": return obj.nodes ? `nodes ${obj.nodes.join(",")}` : "all nodes";
    case "forwarder": return `router ${obj.router}, physical ${obj.physical.join(",")}, ${obj.mode}${obj.nodes ? `, nodes ${obj.nodes.join(",")}` : ""}`;
    default: return "";
  }
}

async function renderPending() {
  const p = (await api("GET", "/pending")).data;
  const list = $("#pending-list");
  const sign = { added: "+", deleted: "−", modified: "~" };
  const item = (c) => el("li", { class: c.change, dataset: { type: c.type, id: c.id } },
    `${sign[c.change]} ${c.type} ${c.id}: `,
    c.change === "modified" ? `${describe(c.running)}  ⇒  ${describe(c.pending)}` : describe(c.pending ?? c.running));
  // The first SHOW_AT_ONCE changes, then more on request (a first commit of a big config is
  // tens of thousands of them).
  const more = (from) => {
    list.append(...p.changes.slice(from, from + SHOW_AT_ONCE).map(item));
    const left = p.changes.length - from - SHOW_AT_ONCE;
    if (left > 0) {
      const button = el("li", { class: "more" }, el("button", { type: "button", class: "quiet small",
        text: `show ${Math.min(left, SHOW_AT_ONCE)} more (${fmt(left)} not shown)`, onclick: () => { button.remove(); more(from + SHOW_AT_ONCE); } }));
      list.append(button);
    }
  };
  list.replaceChildren();
  more(0);
  if (!p.changes.length) list.append(el("li", { class: "hint", text: "Nothing to commit: the pending config is what runs." }));
  $("#running-version").textContent = p.running_version === null ? "nothing committed yet" : `running version ${p.running_version}`;
  const badge = $("#pending-badge");
  badge.textContent = `${p.changes.length} pending`;
  badge.classList.toggle("dirty", p.changes.length > 0);
}

async function renderStatus() {
  const s = (await api("GET", "/status")).data;
  showApply(s.last_apply, false);
}

// ---- cluster convergence ------------------------------------------------------------------

const CLUSTER_POLL_MS = 5000; // while the Pending tab is open: agents converge after a commit

/** The committed version against every node's report (GET .../nodes); a store that keeps no
 * node records says so, and one that cannot be reached (503) says why. */
async function renderCluster() {
  const summary = $("#cluster-summary"), box = $("#cluster-error"), table = $("#cluster-nodes");
  let c;
  try {
    c = (await api("GET", "/nodes")).data;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    box.textContent = e instanceof ApiError && e.status === 503 ? `The config store is unreachable (503): ${e.message}`
      : e instanceof ApiError ? `The cluster's state could not be read (${e.status}): ${e.message}`
      : `The server could not be reached: ${e.message}`;
    summary.textContent = "";
    summary.className = "";
    show(box, true);
    show(table, false);
    return;
  }
  show(box, false);
  $("#cluster-store").textContent = c.store;
  summary.textContent = c.summary;
  summary.className = c.nodes.length ? (c.converged ? "converged" : "unsettled") : "";
  table.querySelector("tbody").replaceChildren(...c.nodes.map((n) => el("tr", { class: n.lagging ? "lagging" : null, dataset: { node: n.node } },
    el("td", { text: n.dry_run ? `${n.node} (dry run)` : n.node }),
    el("td", { class: "version", text: n.version === 0 ? "none yet" : n.seen > n.version ? `${n.version} (told of ${n.seen})` : n.version }),
    el("td", { class: "lagging", text: n.lagging ? "yes" : "no" }),
    el("td", { class: n.error ? "node-error" : "hint", text: n.error ?? "none" }),
    el("td", { class: "updated", text: new Date(n.updated).toLocaleString() }))));
  show(table, c.nodes.length > 0);
}

function applyText(a) {
  if (!a) return "No apply since the server started.";
  const when = new Date(a.at).toLocaleString();
  if (a.error) return `Apply of version ${a.version} on ${a.node} failed (${when}):\n${a.error}`;
  const lines = [`Applied version ${a.version} on ${a.node} (${when}): programs ${a.programs}, ` +
    `${a.enforced.length} NIC${a.enforced.length === 1 ? "" : "s"} enforced` +
    (a.enforced.length ? `: ${a.enforced.map((n) => `${n.interface} (${n.group})`).join(", ")}` : "")];
  for (const f of a.failed) lines.push(`cannot enforce ${f.interface} (${f.group}): ${f.error}`);
  for (const s of a.subsystems) {
    lines.push(`${s.name}: ${s.summary}`);
    for (const e of s.errors) lines.push(`  error: ${e}`);
    for (const w of s.warnings) lines.push(`  warning: ${w}`);
  }
  return lines.join("\n");
}

function showApply(apply, banner) {
  $("#last-apply").textContent = applyText(apply);
  const box = $("#apply-result");
  if (banner) {
    box.textContent = applyText(apply);
    box.className = `apply ${apply.ok ? "ok" : "failed"}`;
    show(box, true);
  }
}

async function commit() {
  const buttons = [$("#commit-button"), $("#commit-button-2")];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const result = await api("POST", "/commit", { digest: state.digest });
    const c = result.data;
    const marks = c.marks_assigned.map((m) => `${m.group}=${m.mark}`).join(", ");
    showMessage("");
    await refresh();
    const box = $("#apply-result");
    showApply(c.apply, true);
    box.textContent = `Committed version ${c.version}${c.changed ? "" : " (no change)"}${marks ? `; marks assigned: ${marks}` : ""}.\n` + box.textContent;
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      await refresh();
      showMessage("The configuration changed since it was shown; review the pending changes and commit again.");
    } else {
      showMessage(`Commit refused: ${e.message}`);
    }
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---- wiring -------------------------------------------------------------------------------

/** Runs an action; API errors are shown (next to the form when there is one), not thrown. */
async function guarded(action, form) {
  try {
    await action();
  } catch (e) {
    if (!(e instanceof ApiError)) { showMessage(`Unexpected error: ${e.message}`); return; }
    if (e.status === 401) { showMessage("The token is no longer accepted. Log out and in again."); return; }
    const text = e.errors ? Object.entries(e.errors).map(([field, problem]) => `${field}: ${problem}`).join("\n") : e.message;
    const box = form?.querySelector(".form-error");
    if (box) { box.textContent = text; show(box, true); } else showMessage(text);
  }
}

function onSubmit(selector, handler) {
  const form = $(selector);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(() => handler(form), form);
  });
  const cancel = form.querySelector(".cancel");
  if (cancel) cancel.addEventListener("click", () => resetForm(form, form.querySelector("button[type=submit]").textContent.replace("Save", "Add")));
}

function selectTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) show(s, s.id === `tab-${name}`);
  if (name === "pending") guarded(renderCluster);
  if (name === "drops") guarded(renderDrops);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    login(normalizeToken($("#token-input").value));
  });
  $("#logout-button").addEventListener("click", logout);
  $("#commit-button").addEventListener("click", commit);
  $("#commit-button-2").addEventListener("click", commit);
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("#matrix").addEventListener("click", (ev) => {
    const td = ev.target.closest("td.cell");
    if (td) guarded(() => explain(td.dataset.src, td.dataset.dst));
  });
  for (const side of ["src", "dst"])
    groupPicker($(`#matrix-${side}`), { untagged: side === "src", onPick: (name) => { setMatrixFilter(side, name); guarded(renderMatrix); } });
  groupPicker($("#group-parent"));
  groupPicker($("#rule-src"), { untagged: true });
  groupPicker($("#rule-dst"));
  groupPicker($("#assignment-group"));
  setMatrixFilter("src", "");
  setMatrixFilter("dst", "");
  onSubmit("#group-form", submitGroup);
  onSubmit("#rule-form", submitRule);
  onSubmit("#assignment-form", async (form) => {
    const f = form.elements;
    await write("POST", "/assignment", { vmid: Number(f.vmid.value), iface: Number(f.iface.value), group: f.group.value.trim() });
    f.vmid.value = ""; f.iface.value = "";
    show(form.querySelector(".form-error"), false);
  });
  onSubmit("#bridge-form", submitBridge);
  onSubmit("#explain-form", async (form) => {
    const f = form.elements;
    if (!state.selected) return;
    await explain(state.selected.src, state.selected.dst, false, { proto: f.proto.value.trim(), dport: f.dport.value.trim() });
  });
  $("#explain-any").addEventListener("click", () => state.selected && guarded(() => explain(state.selected.src, state.selected.dst)));
  onSubmit("#forwarder-form", submitForwarder);
  $("#cluster-refresh").addEventListener("click", () => guarded(renderCluster));
  setInterval(() => {
    if (state.token && !$("#tab-pending").hidden && !document.hidden) guarded(renderCluster);
  }, CLUSTER_POLL_MS);
  setInterval(() => {
    if (state.token && !$("#tab-drops").hidden && !document.hidden) guarded(renderDrops);
  }, DROPS_POLL_MS);
  setInterval(() => {
    if (state.token && !$("#tab-policy").hidden && !document.hidden) guarded(refreshCounters);
  }, COUNTERS_POLL_MS);
  $("#drops-refresh").addEventListener("click", () => guarded(renderDrops));
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) login(saved);
});
