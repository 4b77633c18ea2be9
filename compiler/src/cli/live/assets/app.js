// dozerc live: the page. Everything it shows comes from the live server (`/live/state`,
// `/live/metrics`) and from the running pipeline's REST API, proxied under `/api`.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
let graphKey = "";
let previousCounts = null;
let lastRows = {};

async function getJson(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  return { status: response.status, body };
}

function text(tag, content, attrs) {
  const ns = tag === "svg" || ["rect", "text", "path", "g", "defs", "marker"].includes(tag);
  const el = ns ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (content !== undefined && content !== null) el.textContent = content;
  return el;
}

// ---- build status and errors

function renderStatus() {
  const build = state.build;
  $("app-name").textContent = state.app_name || "";
  const badge = $("build-status");
  badge.dataset.state = build.state;
  badge.textContent = build.message ? `${build.state}: ${build.message}` : build.state;
  const p = state.pipeline;
  $("pipeline-info").textContent = p
    ? `generation ${p.generation} · REST ${p.rest_url} · gRPC ${p.grpc_address}`
    : "no pipeline running";
  const errors = $("errors");
  if (build.error) {
    errors.hidden = false;
    const where = build.error.location ? `${build.error.location}\n` : "";
    $("error-text").textContent = where + build.error.text;
  } else {
    errors.hidden = true;
  }
}

// ---- the pipeline graph: columns by depth, sources left, endpoints right

function layout(graph) {
  const depth = {};
  const incoming = {};
  for (const [from, to] of graph.edges) (incoming[to] = incoming[to] || []).push(from);
  const depthOf = (id, seen = new Set()) => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    const parents = incoming[id] || [];
    depth[id] = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
    return depth[id];
  };
  graph.nodes.forEach((n) => depthOf(n.id));
  const maxDepth = Math.max(0, ...graph.nodes.filter((n) => n.kind !== "endpoint").map((n) => depth[n.id]));
  graph.nodes.filter((n) => n.kind === "endpoint").forEach((n) => { depth[n.id] = maxDepth + 1; });
  const columns = {};
  graph.nodes.forEach((n) => (columns[depth[n.id]] = columns[depth[n.id]] || []).push(n));
  const pos = {};
  const [w, h, gapX, gapY] = [190, 46, 60, 18];
  for (const [col, nodes] of Object.entries(columns)) {
    nodes.forEach((n, i) => { pos[n.id] = { x: 10 + col * (w + gapX), y: 10 + i * (h + gapY), w, h }; });
  }
  return pos;
}

function renderGraph() {
  const graph = state.graph;
  const key = JSON.stringify(graph);
  if (key === graphKey) return;
  graphKey = key;
  const svg = $("graph");
  svg.replaceChildren();
  if (!graph) return;
  const defs = text("defs");
  const marker = text("marker", null, { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" });
  marker.appendChild(text("path", null, { d: "M0,0 L10,5 L0,10 z", fill: "#8893a8" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const pos = layout(graph);
  for (const [from, to] of graph.edges) {
    const a = pos[from], b = pos[to];
    if (!a || !b) continue;
    const [x1, y1, x2, y2] = [a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2];
    const mid = (x1 + x2) / 2;
    svg.appendChild(text("path", null, { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
  }
  let width = 0, height = 0;
  for (const n of graph.nodes) {
    const p = pos[n.id];
    const g = text("g", null, { class: `node ${n.kind}`, "data-node": n.id, transform: `translate(${p.x},${p.y})` });
    const title = text("title", n.sql || n.label);
    g.appendChild(title);
    g.appendChild(text("rect", null, { width: p.w, height: p.h }));
    g.appendChild(text("text", n.label, { x: 8, y: 18 }));
    g.appendChild(text("text", "", { x: 8, y: 36, class: "count", "data-count": n.id }));
    svg.appendChild(g);
    width = Math.max(width, p.x + p.w + 10);
    height = Math.max(height, p.y + p.h + 10);
  }
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = `${height}px`;
}

async function refreshMetrics() {
  if (!state || !state.pipeline) return;
  const { status, body } = await getJson("/live/metrics");
  if (status !== 200 || !body) return;
  const now = body.time_ms;
  for (const [id, rows] of Object.entries(body.rows)) {
    const el = document.querySelector(`[data-count="${CSS.escape(id)}"]`);
    if (!el) continue;
    let rate = "";
    if (previousCounts && previousCounts.rows[id] !== undefined && now > previousCounts.time_ms) {
      const perSecond = ((rows - previousCounts.rows[id]) * 1000) / (now - previousCounts.time_ms);
      rate = ` · ${Math.max(0, Math.round(perSecond))}/s`;
    }
    el.textContent = `${rows} rows${rate}`;
  }
  previousCounts = body;
}

// ---- sources

function renderSchemas() {
  const box = $("schemas");
  box.replaceChildren();
  for (const source of state.sources || []) {
    box.appendChild(text("h3", `${source.name} (${source.origin})`));
    const table = text("table");
    const head = text("tr");
    ["column", "type", "nullable"].forEach((c) => head.appendChild(text("th", c)));
    table.appendChild(head);
    for (const column of source.columns) {
      const tr = text("tr");
      tr.appendChild(text("td", column.name));
      tr.appendChild(text("td", column.type));
      tr.appendChild(text("td", column.nullable ? "yes" : "no"));
      table.appendChild(tr);
    }
    box.appendChild(table);
  }
}

// ---- endpoint rows, polled

function fillSelect(select, endpoints) {
  const current = select.value;
  const names = endpoints.map((e) => e.name).join(",");
  if (select.dataset.names === names) return;
  select.dataset.names = names;
  select.replaceChildren(...endpoints.map((e) => text("option", `${e.name} (${e.path})`, { value: e.name })));
  if (endpoints.some((e) => e.name === current)) select.value = current;
}

function endpoint(name) {
  return (state.endpoints || []).find((e) => e.name === name);
}

function rowsTable(table, rows, previous) {
  table.replaceChildren();
  if (!Array.isArray(rows) || rows.length === 0) {
    table.appendChild(text("tr", "no rows"));
    return;
  }
  const columns = Object.keys(rows[0]);
  const head = text("tr");
  columns.forEach((c) => head.appendChild(text("th", c)));
  table.appendChild(head);
  rows.forEach((row, i) => {
    const tr = text("tr");
    const before = previous && previous[i];
    if (before && JSON.stringify(before) !== JSON.stringify(row)) tr.className = "changed";
    columns.forEach((c) => tr.appendChild(text("td", row[c] === null ? "NULL" : String(row[c]))));
    table.appendChild(tr);
  });
}

async function refreshRows() {
  if (!state || !state.pipeline) return;
  const ep = endpoint($("endpoint-select").value);
  if (!ep) return;
  const { status, body } = await getJson(`/api${ep.path}?limit=20`);
  if (status !== 200) return;
  const count = await getJson(`/api${ep.path}/count`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  // Another endpoint may have been chosen while these were on their way.
  if ($("endpoint-select").value !== ep.name) return;
  $("endpoint-count").textContent = count.status === 200 ? `${count.body} rows` : "";
  rowsTable($("endpoint-rows"), body, lastRows[ep.name]);
  lastRows[ep.name] = body;
}

// ---- the API explorer

function explorerBody() {
  const body = {};
  const filter = $("explorer-filter").value.trim();
  const order = $("explorer-order").value.trim();
  const limit = $("explorer-limit").value.trim();
  if (filter && filter !== "{}") body["$filter"] = JSON.parse(filter);
  if (order) body["$order_by"] = JSON.parse(order);
  if (limit) body["$limit"] = Number(limit);
  return body;
}

function shellQuote(s) {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function showCommands() {
  const ep = endpoint($("explorer-endpoint").value);
  if (!ep || !state.pipeline) return;
  let body;
  try { body = JSON.stringify(explorerBody()); } catch (e) { $("explorer-status").textContent = `not JSON: ${e.message}`; return; }
  const p = state.pipeline;
  $("explorer-curl").textContent =
    `curl -X POST ${p.rest_url}${ep.path}/query -H 'content-type: application/json' -d ${shellQuote(body)}`;
  $("explorer-grpc").textContent =
    `grpcurl -plaintext -d ${shellQuote(JSON.stringify({ query: body }))} ${p.grpc_address} ${ep.grpc_service}/query`;
  return body;
}

async function runExplorer(event) {
  event.preventDefault();
  const ep = endpoint($("explorer-endpoint").value);
  const body = showCommands();
  if (!ep || body === undefined) return;
  const { status, body: result } = await getJson(`/api${ep.path}/query`, {
    method: "POST", headers: { "content-type": "application/json" }, body,
  });
  $("explorer-status").textContent = `HTTP ${status}`;
  if (status === 200) {
    rowsTable($("explorer-result"), result);
  } else {
    $("explorer-result").replaceChildren(text("tr", JSON.stringify(result)));
  }
}

// ---- the loop

async function refreshState() {
  const { status, body } = await getJson("/live/state");
  if (status !== 200) return;
  state = body;
  renderStatus();
  renderGraph();
  renderSchemas();
  fillSelect($("endpoint-select"), state.endpoints || []);
  fillSelect($("explorer-endpoint"), state.endpoints || []);
  showCommands();
}

async function tick() {
  try {
    await refreshState();
    await refreshMetrics();
    await refreshRows();
  } catch (e) {
    console.warn(e);
  }
  setTimeout(tick, 1000);
}

$("explorer").addEventListener("submit", runExplorer);
["explorer-endpoint", "explorer-filter", "explorer-order", "explorer-limit"].forEach((id) =>
  $(id).addEventListener("input", showCommands));
$("endpoint-select").addEventListener("change", () => {
  $("endpoint-count").textContent = "";
  $("endpoint-rows").replaceChildren();
  refreshRows();
});
tick();
