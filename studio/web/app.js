// cellflow studio: draws the picture the server laid out, chats with the bot
// through the /v1 API, and follows each turn's trace over server-sent events.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const studio = {
  key: "",
  picture: null,      // the drawn picture (see docs/STUDIO.md)
  nodes: new Map(),   // node id -> its <g>
  edges: [],          // [{from, to, el}]
  view: { x: 0, y: 0, w: 1000, h: 800 },
  conversation: null, // the chat's conversation id
  language: "",
  visited: [],        // node ids of the last turn, in order
  coverage: null,     // node id -> "reached" | "missed"
  openFlow: "",       // the flow shown alone ("" for all)
  selected: "",
  turnTimers: [],
};

// ---- the API ------------------------------------------------------------

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + studio.key };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : response.status + " " + response.statusText;
    throw new Error(message);
  }
  return data;
}

function status(text) {
  $("status").textContent = text;
  $("status").title = text;
}

// ---- the picture ----------------------------------------------------------

function el(name, attributes, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function shorten(text, most) {
  const one = String(text).replace(/\s+/g, " ");
  return one.length <= most ? one : one.slice(0, most - 1) + "…";
}

async function loadPicture() {
  const path = studio.openFlow
    ? "/studio/graph?flow=" + encodeURIComponent(studio.openFlow)
    : "/studio/graph";
  const started = performance.now();
  const picture = await call("GET", path);
  draw(picture);
  const took = Math.round(performance.now() - started);
  document.body.dataset.drawnMs = String(took);
  return picture;
}

function draw(picture) {
  const first = studio.picture === null;
  studio.picture = picture;
  $("bot-name").textContent = (picture.bot || "bot") + " — cellflow studio";
  document.title = (picture.bot || "bot") + " — cellflow studio";
  // The picture is written as one string of SVG and parsed once: for
  // tens of thousands of elements that is several times faster than
  // creating each one.
  const flows = [];
  const edges = [];
  const nodes = [];
  const byId = new Map(picture.nodes.map((n) => [n.id, n]));
  if (!picture.collapsed) {
    for (const flow of picture.flows) {
      let g = `<g class="flow" data-flow="${attr(flow.name)}">` +
        `<rect class="flow-box" x="${flow.x}" y="${flow.y}" width="${flow.w}" height="${flow.h}"></rect>` +
        `<text class="flow-title" x="${flow.x + 14}" y="${flow.y + 22}">${text(flow.name)}</text>`;
      if (flow.trigger) {
        const label = "on " + flow.trigger;
        const width = 12 + label.length * 6.2;
        const tx = flow.x + flow.w - width - 14;
        g += `<g class="trigger"><rect x="${tx}" y="${flow.y + 9}" width="${width}" height="18"></rect>` +
          `<text x="${tx + 6}" y="${flow.y + 22}">${text(label)}</text></g>`;
        const entry = byId.get(flow.entry);
        if (entry) {
          edges.push(`<g class="edge kind-trigger" data-flow="${attr(flow.name)}"><polyline points="${tx + width / 2},${flow.y + 27} ${entry.x + entry.w / 2},${entry.y}"></polyline></g>`);
        }
      }
      flows.push(g + "</g>");
    }
  }
  // Past a thousand collapsed flows, the edges between them (three or so
  // per flow, each with an arrowhead) cost the browser seconds to lay out
  // and say little at that density: they are left out, and a flow opened
  // on its own shows its cells' edges.
  const sparse = picture.collapsed && picture.nodes.length > 1000;
  picture.edges.forEach((edge, i) => {
    if (sparse) return;
    let g = `<g class="edge kind-${edge.kind}" data-edge="${i}"><polyline points="${edge.points.map((p) => p.join(",")).join(" ")}"></polyline>`;
    if (edge.label) {
      const [a, b] = middle(edge.points);
      g += `<text x="${a + 4}" y="${b - 3}">${text(shorten(edge.label, 28))}</text><title>${text(edge.label)}</title>`;
    }
    edges.push(g + "</g>");
  });
  for (const node of picture.nodes) {
    nodes.push(`<g class="node kind-${node.kind}" data-id="${attr(node.id)}" data-flow="${attr(node.flow)}" tabindex="0">` +
      `<rect x="${node.x}" y="${node.y}" width="${node.w}" height="${node.h}"></rect>` +
      `<text class="kind" x="${node.x + 8}" y="${node.y + 14}">${text(node.kind + (node.cell ? " · " + node.cell : ""))}</text>` +
      `<text class="label" x="${node.x + 8}" y="${node.y + 33}">${text(shorten(node.label, 30))}</text>` +
      `<title>${text(node.label + "\n" + node.file + ":" + node.line)}</title></g>`);
  }
  const viewport = $("viewport");
  viewport.innerHTML = `<g class="flows">${flows.join("")}</g><g class="edges">${edges.join("")}</g><g class="nodes">${nodes.join("")}</g>`;
  studio.nodes.clear();
  for (const g of viewport.querySelectorAll(".node")) studio.nodes.set(g.dataset.id, g);
  studio.edges = [];
  for (const g of viewport.querySelectorAll(".edge[data-edge]")) {
    const edge = picture.edges[Number(g.dataset.edge)];
    studio.edges.push({ from: edge.from, to: edge.to, el: g });
  }
  placeDiagnostics(picture);
  fillFlowFilter(picture);
  fillLanguages(picture);
  paintCoverage();
  paintVisited(false);
  applySearch();
  if (studio.selected && studio.nodes.has(studio.selected)) {
    studio.nodes.get(studio.selected).classList.add("selected");
  }
  if (first || studio.fitNext) {
    studio.fitNext = false;
    fit();
  }
  const errors = picture.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = picture.diagnostics.length - errors;
  status(`${picture.cells} cells in ${picture.flows.length} flows` +
    (picture.collapsed ? " (collapsed: pick a flow to open it" + (sparse ? "; edges between flows not drawn at this size" : "") + ")" : "") +
    (errors ? `, ${errors} errors` : "") + (warnings ? `, ${warnings} warnings` : ""));
}

function text(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function attr(value) {
  return text(value).replace(/"/g, "&quot;");
}

function middle(points) {
  if (points.length === 2) {
    return [(points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2];
  }
  const i = Math.floor(points.length / 2);
  return [(points[i - 1][0] + points[i][0]) / 2, (points[i - 1][1] + points[i][1]) / 2];
}

function nodeIndex(picture, id) {
  if (!picture.index) picture.index = new Map(picture.nodes.map((n, i) => [n.id, i]));
  return picture.index.get(id);
}

function placeDiagnostics(picture) {
  const byNode = new Map();
  for (const d of picture.diagnostics) {
    if (!d.node || !studio.nodes.has(d.node)) continue;
    if (!byNode.has(d.node)) byNode.set(d.node, []);
    byNode.get(d.node).push(d);
  }
  for (const [id, found] of byNode) {
    const g = studio.nodes.get(id);
    const node = picture.nodes[nodeIndex(picture, id)];
    const worst = found.some((d) => d.severity === "error") ? "error" : "warning";
    g.classList.add("has-" + worst);
    const badge = el("g", { class: "badge " + worst }, g);
    el("circle", { cx: node.x + node.w - 4, cy: node.y + 4, r: 9 }, badge);
    const mark = el("text", { x: node.x + node.w - 4, y: node.y + 8 }, badge);
    mark.textContent = found.length > 1 ? String(found.length) : "!";
    const tip = el("title", {}, badge);
    tip.textContent = found.map((d) => `${d.severity} ${d.code}: ${d.message}`).join("\n");
  }
}

function fillFlowFilter(picture) {
  const select = $("flow-filter");
  const names = picture.collapsed || !studio.openFlow
    ? picture.flows.map((f) => f.name)
    : [...select.options].slice(1).map((o) => o.value);
  if (!studio.openFlow || select.options.length <= 1) {
    select.textContent = "";
    const all = document.createElement("option");
    all.value = "";
    all.textContent = `All flows (${names.length})`;
    select.appendChild(all);
    for (const name of names) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    }
  }
  select.value = studio.openFlow || studio.filter || "";
}

function fillLanguages(picture) {
  const select = $("language");
  if (picture.languages.length < 2) {
    select.hidden = true;
    return;
  }
  if (select.options.length !== picture.languages.length) {
    select.textContent = "";
    for (const language of picture.languages) {
      const option = document.createElement("option");
      option.value = language;
      option.textContent = language;
      select.appendChild(option);
    }
  }
  select.hidden = false;
  studio.language = studio.language || picture.languages[0];
  select.value = studio.language;
}

// Zoom and pan by the SVG's viewBox.
function setView() {
  const v = studio.view;
  $("picture").setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
}

function fit() {
  const p = studio.picture;
  const box = $("picture").getBoundingClientRect();
  const ratio = (box.width || 1000) / (box.height || 800);
  const margin = 40;
  let w = Math.max(p.width, 300) + 2 * margin;
  let h = Math.max(p.height, 200) + 2 * margin;
  if (w / h > ratio) h = w / ratio; else w = h * ratio;
  studio.view = { x: -margin, y: -margin, w, h };
  setView();
}

function centreOn(id) {
  const node = studio.picture.nodes.find((n) => n.id === id);
  if (!node) return;
  const v = studio.view;
  const w = Math.min(v.w, 1400);
  const h = v.h * (w / v.w);
  studio.view = { x: node.x + node.w / 2 - w / 2, y: node.y + node.h / 2 - h / 2, w, h };
  setView();
}

function setupPanZoom() {
  const svg = $("picture");
  // One listener for every cell, whatever the picture.
  svg.addEventListener("click", (e) => {
    const node = e.target.closest(".node");
    if (node) select(node.dataset.id);
  });
  svg.addEventListener("keydown", (e) => {
    const node = e.target.closest(".node");
    if (node && e.key === "Enter") select(node.dataset.id);
  });
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const box = svg.getBoundingClientRect();
    const v = studio.view;
    const px = v.x + ((e.clientX - box.left) / box.width) * v.w;
    const py = v.y + ((e.clientY - box.top) / box.height) * v.h;
    const factor = Math.exp(e.deltaY * 0.0015);
    const w = Math.min(Math.max(v.w * factor, 100), 1e7);
    const h = v.h * (w / v.w);
    studio.view = { x: px - (px - v.x) * (w / v.w), y: py - (py - v.y) * (h / v.h), w, h };
    setView();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".node")) return;
    drag = { x: e.clientX, y: e.clientY, view: { ...studio.view } };
    svg.classList.add("panning");
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    const scale = drag.view.w / box.width;
    studio.view = { ...drag.view, x: drag.view.x - (e.clientX - drag.x) * scale, y: drag.view.y - (e.clientY - drag.y) * scale };
    setView();
  });
  const stop = () => { drag = null; svg.classList.remove("panning"); };
  svg.addEventListener("pointerup", stop);
  svg.addEventListener("pointercancel", stop);
  window.addEventListener("resize", () => studio.picture && fit());
}

// ---- search, filter, details ----------------------------------------------

function applySearch() {
  const query = $("search").value.trim().toLowerCase();
  let first = null;
  for (const node of studio.picture.nodes) {
    const g = studio.nodes.get(node.id);
    const hit = query !== "" &&
      (node.label.toLowerCase().includes(query) || node.id.toLowerCase().includes(query) || node.kind === query);
    g.classList.toggle("match", hit);
    if (hit && first === null) first = node.id;
  }
  applyFilter();
  return first;
}

function applyFilter() {
  const flow = studio.picture.collapsed ? "" : (studio.filter || "");
  for (const g of document.querySelectorAll("#viewport .flow, #viewport .node, #viewport .kind-trigger")) {
    g.classList.toggle("hidden", flow !== "" && g.dataset.flow !== flow);
  }
  for (const edge of studio.edges) {
    const shown = flow === "" ||
      (edge.from.split("#")[0] === flow && edge.to.split("#")[0] === flow);
    edge.el.classList.toggle("hidden", !shown);
  }
}

async function select(id) {
  if (studio.picture.collapsed) {
    // A collapsed flow opens on its own.
    studio.openFlow = id;
    studio.fitNext = true;
    await loadPicture();
    return;
  }
  for (const g of document.querySelectorAll(".node.selected")) g.classList.remove("selected");
  studio.selected = id;
  const g = studio.nodes.get(id);
  if (g) g.classList.add("selected");
  const node = studio.picture.nodes.find((n) => n.id === id);
  $("details").hidden = false;
  $("details-title").textContent = id + " (" + (node ? node.kind : "?") + ")";
  $("details-place").textContent = node ? `${node.file}:${node.line}` : "";
  const list = $("details-diagnostics");
  list.textContent = "";
  for (const d of studio.picture.diagnostics.filter((d) => d.node === id)) {
    const li = document.createElement("li");
    li.className = d.severity;
    li.textContent = `${d.severity} ${d.code} (line ${d.line}): ${d.message}` + (d.help ? ` — ${d.help}` : "");
    list.appendChild(li);
  }
  $("details-source").textContent = "…";
  try {
    const source = await call("GET", "/studio/source?node=" + encodeURIComponent(id));
    const lines = source.text.replace(/\n$/, "").split("\n");
    $("details-source").textContent = lines
      .map((line, i) => String(source.line + i).padStart(4) + "  " + line)
      .join("\n");
  } catch (e) {
    $("details-source").textContent = e.message;
  }
}

// ---- coverage and traces ---------------------------------------------------

function paintCoverage() {
  for (const [id, g] of studio.nodes) {
    g.classList.remove("reached", "missed");
    if (studio.coverage && studio.coverage[id]) g.classList.add(studio.coverage[id]);
  }
}

async function toggleCoverage() {
  const button = $("coverage-button");
  if (studio.coverage) {
    studio.coverage = null;
    button.classList.remove("on");
    paintCoverage();
    return;
  }
  status("running the bot's tests…");
  try {
    const report = await call("GET", "/studio/coverage");
    studio.coverage = report.nodes;
    button.classList.add("on");
    paintCoverage();
    status(`coverage ${report.percent.toFixed(1)}% of cells and branches — ` +
      `${report.passed} passed, ${report.failed} failed in ${report.files} test files` +
      (report.problems.length ? `; ${report.problems.length} files with errors` : ""));
  } catch (e) {
    status("coverage: " + e.message);
  }
}

function paintVisited(animate) {
  for (const t of studio.turnTimers) clearTimeout(t);
  studio.turnTimers = [];
  for (const g of document.querySelectorAll(".node.visited, .node.current, .edge.visited")) {
    g.classList.remove("visited", "current");
  }
  const order = studio.visited;
  const light = (i) => {
    const g = studio.nodes.get(order[i]);
    for (const c of document.querySelectorAll(".node.current")) c.classList.remove("current");
    if (g) g.classList.add("visited", "current");
    if (i > 0) {
      for (const edge of studio.edges) {
        if (edge.from === order[i - 1] && edge.to === order[i]) edge.el.classList.add("visited");
      }
    }
  };
  order.forEach((_, i) => {
    if (animate) studio.turnTimers.push(setTimeout(() => light(i), i * 150));
    else light(i);
  });
}

function showTurn(turn) {
  studio.visited = turn.steps.map((s) => s.node);
  paintVisited(true);
  const nlu = $("nlu");
  nlu.textContent = turn.intent
    ? `intent ${turn.intent} (confidence ${Number(turn.confidence).toFixed(2)})`
    : "no intent";
  const entities = Object.entries(turn.entities || {});
  if (entities.length) nlu.textContent += " — entities " + entities.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
  const list = $("steps");
  list.textContent = "";
  for (const step of turn.steps) {
    const li = document.createElement("li");
    li.dataset.node = step.node;
    const file = step.file ? step.file.split(/[\\/]/).pop() : "";
    li.textContent = `${step.node} ${step.kind}` + (step.line ? ` (${file}:${step.line})` : "");
    li.title = step.file ? `${step.file}:${step.line}` : "";
    const changed = Object.entries(step.changed || {});
    if (changed.length) {
      const span = document.createElement("span");
      span.className = "changed";
      span.textContent = " " + changed.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ");
      li.appendChild(span);
    }
    if (step.error) {
      const span = document.createElement("span");
      span.className = "error";
      span.textContent = " " + step.error;
      li.appendChild(span);
    }
    li.addEventListener("click", () => { if (studio.nodes.has(step.node)) { centreOn(step.node); select(step.node); } });
    list.appendChild(li);
  }
}

function listen() {
  const source = new EventSource("/studio/events?key=" + encodeURIComponent(studio.key));
  source.addEventListener("turn", (e) => {
    const turn = JSON.parse(e.data);
    if (turn.conversation === studio.conversation) showTurn(turn);
  });
  source.addEventListener("reload", async (e) => {
    const reload = JSON.parse(e.data);
    try {
      await loadPicture();
      document.body.dataset.generation = String(reload.generation);
      if (reload.failed) status("reload failed: " + reload.failed);
      else if (reload.errors) status(`reloaded: ${reload.errors} errors, the last bot without errors keeps running`);
      else status("reloaded");
      if (studio.coverage) { studio.coverage = null; $("coverage-button").classList.remove("on"); }
    } catch (err) {
      status("reload: " + err.message);
    }
  });
  source.addEventListener("hello", () => { document.body.dataset.live = "yes"; });
}

// ---- the chat --------------------------------------------------------------

function say(kind, text) {
  const div = document.createElement("div");
  div.className = "message " + kind;
  if (text !== undefined) div.textContent = text;
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}

function choices(buttons, quick, parent) {
  const row = document.createElement("div");
  row.className = "choices" + (quick ? " quick" : "");
  for (const b of buttons) {
    if (b.url && !b.value) {
      const a = document.createElement("a");
      a.href = b.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = b.label;
      row.appendChild(a);
      continue;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = b.label;
    button.addEventListener("click", () => send({ text: b.value || b.label }, b.label));
    row.appendChild(button);
  }
  parent.appendChild(row);
}

function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (_) {
    return null;
  }
}

function media(m, parent) {
  const url = safeUrl(m.url);
  const box = document.createElement("div");
  box.className = "media";
  if (url && m.type === "image") {
    const img = document.createElement("img");
    img.src = url;
    img.alt = m.name || "image";
    box.appendChild(img);
  } else if (url && (m.type === "video" || m.type === "audio")) {
    const player = document.createElement(m.type);
    player.src = url;
    player.controls = true;
    box.appendChild(player);
  } else {
    const a = document.createElement("a");
    if (url) a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = `${m.type}: ${m.name || m.url}`;
    box.appendChild(a);
  }
  parent.appendChild(box);
}

function answer(a) {
  if (a.type === "typing" || a.type === "delay") return;
  const div = say("bot", a.text || "");
  div.dataset.type = a.type || "text";
  if (a.buttons && a.buttons.length) choices(a.buttons, false, div);
  if (a.quick_replies && a.quick_replies.length) choices(a.quick_replies, true, div);
  for (const card of a.cards || []) {
    const box = document.createElement("div");
    box.className = "card";
    if (card.image && safeUrl(card.image)) {
      const img = document.createElement("img");
      img.src = safeUrl(card.image);
      img.alt = card.title;
      box.appendChild(img);
    }
    const title = document.createElement("strong");
    title.textContent = card.title;
    box.appendChild(title);
    if (card.subtitle) {
      const sub = document.createElement("div");
      sub.className = "subtitle";
      sub.textContent = card.subtitle;
      box.appendChild(sub);
    }
    if (card.buttons && card.buttons.length) choices(card.buttons, false, box);
    div.appendChild(box);
  }
  if (a.media) media(a.media, div);
  if (a.link) {
    const link = document.createElement("a");
    link.className = "link";
    const url = safeUrl(a.link.url);
    if (url) link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = (a.link.title || a.link.url) + (a.link.description ? " — " + a.link.description : "");
    div.appendChild(link);
  }
  if (a.location) {
    const where = document.createElement("a");
    where.className = "link";
    where.href = `https://www.openstreetmap.org/?mlat=${a.location.lat}&mlon=${a.location.lng}`;
    where.target = "_blank";
    where.rel = "noopener noreferrer";
    where.textContent = `📍 ${a.location.name || ""} ${a.location.address || ""} (${a.location.lat}, ${a.location.lng})`.trim();
    div.appendChild(where);
  }
  if (a.custom !== undefined) {
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(a.custom, null, 2);
    div.appendChild(pre);
  }
}

function awaiting(reply) {
  const line = $("awaiting");
  const w = reply.awaiting;
  $("location-form").hidden = true;
  if (reply.ended) {
    line.textContent = "The conversation ended. Restart to begin another.";
  } else if (!w) {
    line.textContent = "";
  } else if (w.kind === "intent") {
    line.textContent = "Waiting for a message (intents are matched)";
  } else {
    line.textContent = `Waiting for ${w.var} (${w.type})` +
      (w.options && w.options.length ? ": " + w.options.join(", ") : "") +
      (w.pattern ? ` matching ${w.pattern}` : "");
    if (w.type === "location" || w.offer === "location_picker") $("location-form").hidden = false;
  }
  line.dataset.kind = w ? w.kind : (reply.ended ? "ended" : "none");
}

async function send(request, shown) {
  if (shown !== undefined) say("user", shown);
  try {
    let reply;
    if (studio.conversation === null) {
      if (studio.language) request.language = studio.language;
      reply = await call("POST", "/v1/conversations", request);
      studio.conversation = reply.sessionCode;
      document.body.dataset.conversation = reply.sessionCode;
    } else {
      reply = await call("POST", "/v1/conversations/" + encodeURIComponent(studio.conversation), request);
    }
    for (const a of reply.answers) answer(a);
    for (const event of reply.events || []) {
      if (event.type === "error") say("message error", "error: " + event.message);
      else if (event.type === "handoff") say("note", `handed to queue ${event.queue}`);
      else if (event.type === "restarted") say("note", "the reloaded bot no longer has the cell this conversation was on: it started again");
    }
    awaiting(reply);
    $("save-test").disabled = false;
  } catch (e) {
    say("message error", e.message);
  }
}

function restart() {
  studio.conversation = null;
  studio.visited = [];
  paintVisited(false);
  $("messages").textContent = "";
  $("steps").textContent = "";
  $("nlu").textContent = "";
  $("save-test").disabled = true;
  send({ event: "welcome" });
}

async function saveTest() {
  if (!studio.conversation) return;
  try {
    const saved = await call("POST", "/studio/tests", { conversation: studio.conversation });
    say("note", `Saved as test “${saved.name}” in ${saved.file}`);
    status(`saved test “${saved.name}” in ${saved.file}`);
  } catch (e) {
    say("message error", "not saved: " + e.message);
  }
}

// ---- start ---------------------------------------------------------------

async function start() {
  const meta = document.querySelector('meta[name="cellflow-key"]');
  studio.key = (meta && meta.content) || sessionStorage.getItem("cellflow-key") || "";
  if (!studio.key) {
    studio.key = window.prompt("The studio's API key") || "";
    sessionStorage.setItem("cellflow-key", studio.key);
  }
  setupPanZoom();
  $("fit-button").addEventListener("click", fit);
  $("coverage-button").addEventListener("click", toggleCoverage);
  $("details-close").addEventListener("click", () => { $("details").hidden = true; });
  $("search").addEventListener("input", applySearch);
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      const first = applySearch();
      if (first) centreOn(first);
    }
  });
  $("flow-filter").addEventListener("change", async (e) => {
    const flow = e.target.value;
    if (studio.picture.collapsed || studio.openFlow) {
      studio.openFlow = flow;
      studio.fitNext = true;
      await loadPicture();
    } else {
      studio.filter = flow;
      applyFilter();
    }
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (text.trim() === "") return;
    $("text").value = "";
    send({ text }, text);
  });
  $("location-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const lat = Number($("lat").value);
    const lng = Number($("lng").value);
    send({ location: { lat, lng } }, `📍 ${lat}, ${lng}`);
  });
  $("restart").addEventListener("click", restart);
  $("save-test").addEventListener("click", saveTest);
  $("language").addEventListener("change", (e) => { studio.language = e.target.value; restart(); });
  try {
    await loadPicture();
  } catch (e) {
    status("cannot load the picture: " + e.message);
    return;
  }
  listen();
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "yes";
  restart();
}

start();
