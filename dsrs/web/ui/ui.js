// The live page: reads the API with the viewer's bearer token and draws the KPIs as plain HTML and SVG.
// Everything the API returns is written with textContent, never parsed as HTML.
"use strict";

const POLL_MS = 5000;
const DEAD_LETTER_EVERY = 3; // polls: reading the dead-letter topics costs the worker a Kafka scan
const TOKEN_KEY = "dsrs-token";
const SVG = "http://www.w3.org/2000/svg";
const PAYMENT_OUTCOMES = [
  ["payments_completed", "completed"],
  ["payments_failed", "failed"],
  ["payments_cancelled", "cancelled"],
];
const FORBIDDEN = Symbol("forbidden");
// A cycle's figures: the payment statuses each adds up ("entitled" is the API's count and total).
const CYCLE_FIGURES = [
  ["entitled", "Entitled", null],
  ["paid", "Paid", ["completed"]],
  ["failed", "Failed", ["failed"]],
  ["outstanding", "Outstanding", ["scheduled", "sent"]],
  ["cancelled", "Cancelled", ["cancelled"]],
];
const CYCLE_STATES = { open: "open", opening: "opening: its payments are being created" };

const count = new Intl.NumberFormat();
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
// A due date is a calendar day (YYYY-MM-DD, read as UTC midnight): shown in UTC so that it stays that day.
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const WINDOW_FORMATS = {
  minute: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
  hour: new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
  day: new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" }),
};

class SignedOut extends Error {}

// The token comes in the fragment (never sent to a server), moves to this tab's storage and leaves the address bar.
function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
}

async function api(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  // Relative to /ui/, so that the page also works behind a proxy's path prefix.
  const response = await fetch(new URL(`../${path}`, window.location.href), {
    headers, cache: "no-store", credentials: "omit",
  });
  if (response.status === 401) throw new SignedOut();
  if (response.status === 403) return FORBIDDEN;
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function setStatus(text, problem = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("problem", problem);
}

// Totals

function card(list, key, label, value, shown) {
  const term = element("dt", label);
  const figure = element("dd", shown);
  figure.dataset.key = key;
  figure.dataset.value = value === null || value === undefined ? "" : String(value);
  // A div per pair (allowed in a dl), so that each pair is one cell of the grid.
  const pair = element("div", null, "card");
  pair.append(term, figure);
  list.append(pair);
}

function drawTotals(summary, registry) {
  const list = document.getElementById("totals");
  const cards = document.createDocumentFragment();
  if (registry !== FORBIDDEN && registry) {
    card(cards, "households", "Households", registry.households, count.format(registry.households));
  }
  card(cards, "assessed", "Assessed", summary.assessed, count.format(summary.assessed));
  card(cards, "approved", "Approved", summary.approved, count.format(summary.approved));
  const rate = summary.approval_rate;
  card(cards, "approval_rate", "Approval rate", rate, rate === null ? "—" : percent.format(rate));
  card(cards, "payments_scheduled", "Payments scheduled", summary.payments_scheduled,
    count.format(summary.payments_scheduled));
  if (registry !== FORBIDDEN && registry) {
    const sent = registry.payments_by_status.sent;
    card(cards, "payments_sent", "Payments sent", sent, count.format(sent));
  }
  for (const [key, label] of PAYMENT_OUTCOMES) {
    card(cards, key, `Payments ${label}`, summary[key], count.format(summary[key]));
  }
  card(cards, "amount_scheduled", "Amount scheduled", summary.amount_scheduled,
    money.format(Number(summary.amount_scheduled)));
  card(cards, "amount_completed", "Amount paid", summary.amount_completed,
    money.format(Number(summary.amount_completed)));
  list.replaceChildren(cards);
}

// Bar charts: one row per bar, the value written beside it (not colour alone).

function barRow(label, value, maximum, shown, kind) {
  const row = element("li", null, "bar-row");
  row.append(element("span", label, "bar-label"));
  const track = element("span", null, "bar-track");
  const bar = element("span", null, `bar ${kind || ""}`.trim());
  bar.dataset.value = value === null ? "" : String(value);
  // CSSOM, not a style attribute: allowed by the Content-Security-Policy.
  bar.style.width = `${maximum > 0 && value ? Math.min(100, (value / maximum) * 100) : 0}%`;
  track.append(bar);
  row.append(track, element("span", shown, "bar-value"));
  return row;
}

function drawApproval(id, groups) {
  const rows = Object.entries(groups).map(([name, totals]) => {
    const rate = totals.approval_rate;
    const shown = rate === null ? "—" : `${percent.format(rate)} (${count.format(totals.approved)} of ${count.format(totals.assessed)})`;
    return barRow(name, rate, 1, shown, "approved");
  });
  fill(id, rows, "Nothing assessed yet.");
}

// One bar per program or region, as long as its scheduled payments, split by how they ended.
function drawPayments(id, groups) {
  const maximum = Math.max(0, ...Object.values(groups).map((t) => t.payments_scheduled));
  const rows = Object.entries(groups).map(([name, totals]) => {
    const row = barRow(name, totals.payments_scheduled, maximum, "", "stack");
    row.classList.add("stacked");
    const bar = row.querySelector(".bar");
    const ended = { completed: totals.payments_completed, failed: totals.payments_failed, cancelled: totals.payments_cancelled };
    const open = Math.max(0, totals.payments_scheduled - ended.completed - ended.failed - ended.cancelled);
    for (const [outcome, value] of [...Object.entries(ended), ["open", open]]) {
      const segment = element("span", null, `segment ${outcome}`);
      segment.dataset.value = String(value);
      segment.style.flexGrow = String(value);
      bar.append(segment);
    }
    row.querySelector(".bar-value").textContent = `${count.format(totals.payments_scheduled)} scheduled: `
      + `${count.format(ended.completed)} paid, ${count.format(ended.failed)} failed, `
      + `${count.format(ended.cancelled)} cancelled, ${count.format(open)} open`;
    return row;
  });
  fill(id, rows, "No payments yet.");
}

function fill(id, rows, empty) {
  const chart = document.getElementById(id);
  chart.replaceChildren(...(rows.length ? rows : [element("li", empty, "empty")]));
}

// The time series: a line per measure over the windows, each point a circle with its value in a title.

function drawWindows(granularity, points) {
  const windows = new Map();
  for (const point of points) {
    const sums = windows.get(point.window_start) || { assessed: 0, approved: 0 };
    sums.assessed += point.assessed;
    sums.approved += point.approved;
    windows.set(point.window_start, sums);
  }
  const series = [...windows.entries()].sort(([a], [b]) => Date.parse(a) - Date.parse(b));
  const format = WINDOW_FORMATS[granularity];
  const chart = document.getElementById("chart-windows");
  const body = document.querySelector("#windows-table tbody");
  body.replaceChildren(...series.map(([start, sums]) => {
    const row = element("tr");
    row.append(element("th", format.format(new Date(start))), element("td", count.format(sums.assessed)),
      element("td", count.format(sums.approved)));
    row.firstChild.scope = "row";
    return row;
  }));
  if (!series.length) {
    chart.replaceChildren(element("p", `Nothing assessed per ${granularity} yet.`, "empty"));
    return;
  }
  // Drawn at the width it is shown at, so that its text keeps its size on a phone.
  const width = Math.max(300, Math.min(960, chart.clientWidth || 640));
  const [height, left, right, top, bottom] = [240, 48, 16, 12, 28];
  const maximum = Math.max(1, ...series.map(([, sums]) => sums.assessed));
  const x = (i) => left + (series.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (series.length - 1));
  const y = (value) => top + (height - top - bottom) * (1 - value / maximum);
  const first = format.format(new Date(series[0][0]));
  const last = format.format(new Date(series[series.length - 1][0]));
  const figure = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "series",
    "aria-label": `Assessed and approved per ${granularity}, ${series.length} windows from ${first} to ${last}, `
      + `at most ${count.format(maximum)} assessed in one window`,
  });
  figure.append(svg("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), class: "axis" }));
  figure.append(svg("line", { x1: left, y1: top, x2: left, y2: y(0), class: "axis" }));
  const label = (text, attributes) => {
    const node = svg("text", attributes);
    node.textContent = text;
    figure.append(node);
  };
  label(count.format(maximum), { x: left - 6, y: top + 10, "text-anchor": "end" });
  label("0", { x: left - 6, y: y(0), "text-anchor": "end" });
  label(first, { x: left, y: height - 8, "text-anchor": "start" });
  if (series.length > 1) label(last, { x: width - right, y: height - 8, "text-anchor": "end" });
  for (const measure of ["assessed", "approved"]) {
    const coordinates = series.map(([, sums], i) => `${x(i)},${y(sums[measure])}`).join(" ");
    figure.append(svg("polyline", { points: coordinates, class: `line ${measure}` }));
    series.forEach(([start, sums], i) => {
      const point = svg("circle", { cx: x(i), cy: y(sums[measure]), r: 4, class: `point ${measure}` });
      point.dataset.value = String(sums[measure]);
      const title = svg("title", {});
      title.textContent = `${format.format(new Date(start))}: ${count.format(sums[measure])} ${measure}`;
      point.append(title);
      figure.append(point);
    });
  }
  chart.replaceChildren(figure);
}

// The current cycle: per program, its newest opened cycle and its payments by outcome.

// Amounts come as decimal strings: added in cents, so that a sum is exact.
function cents(amount) {
  return Math.round(Number(amount) * 100);
}

function cycleCard(list, key, label, paymentCount, amountCents, currency) {
  const term = element("dt", label);
  const figure = element("dd", count.format(paymentCount));
  const amount = (amountCents / 100).toFixed(2);
  figure.dataset.key = key;
  figure.dataset.count = String(paymentCount);
  figure.dataset.amount = amount;
  figure.append(element("span", `${money.format(Number(amount))} ${currency}`.trim(), "amount"));
  const pair = element("div", null, "card");
  pair.append(term, figure);
  list.append(pair);
}

function drawCycle(programId, listing) {
  const block = element("article", null, "cycle");
  block.dataset.program = programId;
  block.append(element("h3", programId));
  if (listing === null) {
    block.append(element("p", "This worker does not pay this program.", "note"));
    return block;
  }
  // Newest first; a cycle that only holds approvals' payments has not opened and is not current.
  const current = listing.items.find((cycle) => cycle.state !== "not_opened");
  if (!current) {
    block.append(element("p", "No cycle opened yet.", "empty"));
    return block;
  }
  block.dataset.cycle = current.cycle;
  const state = CYCLE_STATES[current.state] || current.state;
  block.append(element("p", `Cycle ${current.cycle}, due ${day.format(new Date(current.due_date))}; ${state}.`));
  const list = element("dl", null, "cards");
  for (const [key, label, statuses] of CYCLE_FIGURES) {
    const parts = statuses ? statuses.map((status) => current.by_status[status]) : [];
    const paymentCount = statuses ? parts.reduce((sum, part) => sum + part.count, 0) : current.count;
    const amount = statuses ? parts.reduce((sum, part) => sum + cents(part.amount), 0) : cents(current.total);
    cycleCard(list, key, label, paymentCount, amount, current.currency || "");
  }
  block.append(list);
  return block;
}

function drawCycles(programs, listings) {
  const panel = document.getElementById("cycles-panel");
  if (listings === FORBIDDEN) {
    panel.replaceChildren(element("p", "Your role may not read payment cycles.", "note"));
    return;
  }
  if (!programs.length) {
    panel.replaceChildren(element("p", "No program has assessed a household yet.", "empty"));
    return;
  }
  panel.replaceChildren(...programs.map((programId, i) => drawCycle(programId, listings[i])));
}

// One listing per program, or FORBIDDEN when the token's roles may not read cycles.
async function readCycles(programs) {
  if (state.cycles === FORBIDDEN) return FORBIDDEN;
  const listings = await Promise.all(
    programs.map((programId) => api(`api/v1/programs/${encodeURIComponent(programId)}/cycles`)),
  );
  return listings.includes(FORBIDDEN) ? FORBIDDEN : listings;
}

// Operations: shown only to the roles the API lets read them.

function drawOutbox(lag) {
  const list = document.getElementById("outbox");
  document.getElementById("outbox-forbidden").hidden = lag !== FORBIDDEN;
  list.hidden = lag === FORBIDDEN;
  if (lag === FORBIDDEN) return;
  const cards = document.createDocumentFragment();
  card(cards, "pending", "Events waiting", lag.pending, count.format(lag.pending));
  const age = lag.oldest_pending_age_seconds;
  card(cards, "oldest_pending_age_seconds", "Oldest waiting", age, `${count.format(Math.round(age))} s`);
  list.replaceChildren(cards);
}

function drawDeadLetters(answer) {
  const panel = document.getElementById("dead-letters");
  if (answer === FORBIDDEN) {
    panel.replaceChildren(element("p", "Only admins may read the dead letters.", "note"));
    return;
  }
  // Per topic and state: counts only, no message content.
  const tally = new Map();
  const letters = [...answer.items, ...answer.held_in_database.map((held) => ({ ...held, held: true }))];
  for (const letter of letters) {
    const topic = letter.original_topic || "unknown topic";
    const state = letter.held ? `${letter.state || "held"} (held in PostgreSQL)` : letter.state || "not yet reprocessed";
    const key = `${topic}\u0000${state}`;
    tally.set(key, (tally.get(key) || 0) + 1);
  }
  if (!tally.size) {
    panel.replaceChildren(element("p", "No dead letters.", "empty"));
    return;
  }
  const table = element("table");
  table.id = "dead-letters-table";
  const head = element("tr");
  for (const name of ["topic", "state", "letters"]) {
    const cell = element("th", name);
    cell.scope = "col";
    head.append(cell);
  }
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  for (const [key, letterCount] of [...tally.entries()].sort()) {
    const [topic, state] = key.split("\u0000");
    const row = element("tr");
    row.append(element("td", topic), element("td", state), element("td", count.format(letterCount), "number"));
    row.dataset.count = String(letterCount);
    table.tBodies[0].append(row);
  }
  panel.replaceChildren(table);
}

// A household's decisions: only the assessments and their rule results are drawn, nothing personal.

function ruleValues(values) {
  return Object.entries(values || {}).map(([name, value]) => `${name} = ${JSON.stringify(value)}`).join(", ");
}

function drawDecisions(household) {
  const result = document.getElementById("lookup-result");
  if (household === null) {
    result.replaceChildren(element("p", "No household has this id.", "note"));
    return;
  }
  if (household === FORBIDDEN) {
    result.replaceChildren(element("p", "Your role may not read households.", "note"));
    return;
  }
  const parts = [element("p", `Version ${household.version}: ${household.assessments.length} standing decisions.`)];
  for (const assessment of household.assessments) {
    const block = element("article", null, "decision");
    block.append(element("h3", `${assessment.program_id}: ${assessment.decision}`));
    const facts = element("p");
    const benefit = assessment.benefit_amount === null ? "no benefit" : `benefit ${money.format(Number(assessment.benefit_amount))}`;
    const score = assessment.score === null ? "" : `, score ${assessment.score}`;
    facts.textContent = `Policy ${assessment.policy_version}${score}, ${benefit}.`;
    block.append(facts);
    const table = element("table", null, "rules");
    const head = element("tr");
    for (const name of ["rule", "result", "values read"]) {
      const cell = element("th", name);
      cell.scope = "col";
      head.append(cell);
    }
    table.append(element("thead"), element("tbody"));
    table.tHead.append(head);
    for (const rule of assessment.rule_results) {
      const row = element("tr", null, rule.passed ? "passed" : "failed");
      const name = element("th", rule.description || rule.rule_id);
      name.scope = "row";
      row.append(name, element("td", rule.passed ? "✓ passed" : "✗ failed"), element("td", ruleValues(rule.values)));
      table.tBodies[0].append(row);
    }
    block.append(table);
    parts.push(block);
  }
  result.replaceChildren(...parts);
}

async function lookUp(event) {
  event.preventDefault();
  const input = document.getElementById("household-id");
  const id = input.value.trim().toLowerCase();
  if (!input.checkValidity()) {
    document.getElementById("lookup-result").replaceChildren(element("p", "That is not a household id.", "note"));
    return;
  }
  try {
    drawDecisions(await api(`api/v1/households/${encodeURIComponent(id)}`));
  } catch (problem) {
    report(problem);
  }
}

// Polling

// A route that answered 403 is not asked again: the token's roles do not change.
const state = { polls: 0, stopped: false, lag: undefined, deadLetters: undefined, cycles: undefined };

function report(problem) {
  if (problem instanceof SignedOut) {
    state.stopped = true;
    setStatus("Not signed in, or the token expired: open the link `dsrs demo` printed, "
      + "or this page's address followed by #token= and a token from `dsrs token issue`.", true);
  } else {
    setStatus(`The API did not answer (${problem.message}); trying again in a few seconds.`, true);
  }
}

async function poll() {
  const granularity = document.getElementById("granularity").value;
  const readDeadLetters = state.polls % DEAD_LETTER_EVERY === 0 && state.deadLetters !== FORBIDDEN;
  const [summary, registry, windows, lag, deadLetters] = await Promise.all([
    api("api/v1/analytics/summary"),
    api("api/v1/analytics/registry"),
    api(`api/v1/analytics/windows?granularity=${encodeURIComponent(granularity)}`),
    state.lag === FORBIDDEN ? Promise.resolve(FORBIDDEN) : api("api/v1/outbox/lag"),
    readDeadLetters ? api("api/v1/admin/dlq") : Promise.resolve(state.deadLetters),
  ]);
  // The programs are the summary's: the cycles are read for those it counts.
  const programs = Object.keys(summary.by_program).sort();
  const cycles = await readCycles(programs);
  state.polls += 1;
  state.deadLetters = deadLetters;
  state.lag = lag;
  state.cycles = cycles;
  drawTotals(summary, registry);
  drawApproval("chart-approval-program", summary.by_program);
  drawPayments("chart-payments-program", summary.by_program);
  drawCycles(programs, cycles);
  drawApproval("chart-approval-region", summary.by_region);
  drawPayments("chart-payments-region", summary.by_region);
  drawWindows(windows.granularity, windows.points);
  const operations = document.getElementById("operations");
  operations.hidden = lag === FORBIDDEN && deadLetters === FORBIDDEN;
  if (!operations.hidden) {
    drawOutbox(lag);
    if (deadLetters !== undefined) drawDeadLetters(deadLetters);
  }
  setStatus(`Updated ${clock.format(new Date())}; refreshed every ${POLL_MS / 1000} seconds.`);
  document.body.dataset.polls = String(state.polls);
}

async function loop() {
  if (state.stopped) return;
  if (!document.hidden) {
    try {
      await poll();
    } catch (problem) {
      report(problem);
    }
  }
  if (!state.stopped) window.setTimeout(loop, POLL_MS);
}

async function probeLookup() {
  // An id no household has: 404 for a role that may read households, 403 for one that may not.
  try {
    if ((await api("api/v1/households/00000000-0000-0000-0000-000000000000")) === FORBIDDEN) {
      document.getElementById("lookup-form").hidden = true;
      drawDecisions(FORBIDDEN);
    }
  } catch (problem) {
    report(problem);
  }
}

function start() {
  takeToken();
  document.getElementById("lookup-form").addEventListener("submit", lookUp);
  document.getElementById("granularity").addEventListener("change", () => {
    poll().catch(report);
  });
  probeLookup();
  loop();
}

start();
