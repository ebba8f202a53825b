// The Costline dashboard: one module, no build step, no network but its own API.
// Money arrives as exact decimal strings; every figure printed is rounded from them with
// BigInt arithmetic (half-even, as the invoices round). Numbers are used only for chart geometry.

const KEY = "costline.key";
const POLL_MS = 2000;
// The Customer and Agents views read draft invoices and a month of task figures (as the CLI
// does), heavier than windows: they refresh less often.
const SLOW_POLL_MS = { customer: 10000, agents: 10000 };
const pollMs = () => SLOW_POLL_MS[view()] ?? POLL_MS;
const LIVE = () => `Live: updated ${new Date().toLocaleTimeString()}, every ${pollMs() / 1000} s.`;
// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const SCALE = 12; // the ledger's 1e-12 unit

const $ = (selector) => document.querySelector(selector);

// ---- exact money ---------------------------------------------------------------------------

export function units(text) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  const value = BigInt(whole || "0") * 10n ** BigInt(SCALE) + BigInt((fraction + "0".repeat(SCALE)).slice(0, SCALE) || "0");
  return negative ? -value : value;
}

function roundHalfEven(value, places) {
  const step = 10n ** BigInt(SCALE - places);
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  let quotient = magnitude / step;
  const remainder = magnitude % step;
  if (remainder * 2n > step || (remainder * 2n === step && quotient % 2n === 1n)) quotient += 1n;
  return negative ? -quotient : quotient;
}

let symbol = "$";

export function formatUnits(value, places) {
  const rounded = roundHalfEven(value, places);
  const negative = rounded < 0n;
  const digits = (negative ? -rounded : rounded).toString().padStart(places + 1, "0");
  const whole = BigInt(digits.slice(0, digits.length - places)).toLocaleString("en-US");
  return `${negative ? "-" : ""}${symbol}${whole}.${digits.slice(digits.length - places)}`;
}

function showMoney(element, text) {
  const value = units(text);
  element.textContent = formatUnits(value, 2);
  element.title = formatUnits(value, 6);
  element.dataset.exact = text;
}

// ---- the key -------------------------------------------------------------------------------

const VIEWS = ["overview", "customer", "agents", "alerts", "dead-letters"];

function view() {
  const name = location.hash.slice(1);
  return VIEWS.includes(name) ? name : "overview";
}

function showView() {
  for (const name of VIEWS) {
    $(`#${name}`).hidden = name !== view();
    const link = $(`nav a[href="#${name}"]`);
    if (name === view()) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
}

window.addEventListener("hashchange", () => {
  if (sessionStorage.getItem(KEY)) start();
});

function signIn() {
  $("#sign-in").hidden = false;
  $("#filters").hidden = true;
  for (const name of VIEWS) $(`#${name}`).hidden = true;
  $("#sign-out").hidden = true;
  $("#key").focus();
}

$("#sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("#key").value.trim());
  $("#key").value = "";
  start();
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  stop();
  signIn();
});

// ---- filters -------------------------------------------------------------------------------

const FILTERS = ["customer", "agent", "model", "category", "from", "to", "window", "group", "at"];

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function readFilters() {
  const form = $("#filters");
  const params = new URLSearchParams(location.search);
  const today = new Date();
  const defaults = { from: isoDay(new Date(today - 29 * 86400e3)), to: isoDay(today), window: "3600", group: "category" };
  for (const name of FILTERS) {
    const value = params.get(name) ?? defaults[name] ?? "";
    form.elements[name].value = value;
  }
}

function query() {
  const form = $("#filters");
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
  const api = new URLSearchParams(params);
  const to = new Date(`${params.get("to")}T00:00:00Z`);
  api.set("from", `${params.get("from")}T00:00:00Z`);
  api.set("to", new Date(to.getTime() + 86400e3).toISOString()); // the "to" day is included
  return api;
}

// The month the Customer and Agents views show: that of "As of", else of "To".
function month() {
  const form = $("#filters");
  return (form.elements.at.value || form.elements.to.value || isoDay(new Date())).slice(0, 7);
}

function scoped(names) {
  const form = $("#filters");
  const params = new URLSearchParams();
  for (const name of names) if (form.elements[name].value) params.set(name, form.elements[name].value);
  return params;
}

function invoiceQuery() {
  const params = scoped(["customer", "at"]);
  params.set("month", month());
  return params;
}

function agentsQuery() {
  const params = scoped(["customer", "agent"]);
  params.set("month", month());
  return params;
}

function alertsQuery() {
  const api = query();
  const params = scoped(["customer", "agent", "model"]);
  params.set("from", api.get("from"));
  params.set("to", api.get("to"));
  return params;
}

function customerQuery() {
  return scoped(["customer"]);
}

$("#filters").addEventListener("change", () => refresh(true));

// ---- fetching and live updates -------------------------------------------------------------

let timer = null;
let generation = 0;

function stop() {
  clearTimeout(timer);
  timer = null;
  generation += 1;
}

class SignedOut extends Error {}

async function get(path, key) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${key}` } });
  const answer = await response.json();
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    throw new SignedOut(answer.error);
  }
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

const RENDER = { overview: render, customer: renderCustomer, agents: renderAgents, alerts: renderAlerts, "dead-letters": renderDeadLetters };

async function refresh(restart = false) {
  if (restart) stop();
  const mine = generation;
  const key = sessionStorage.getItem(KEY);
  if (!key) return signIn();
  const shown = view();
  try {
    const path = {
      // The figures first, the slower rankings after them: the cards and chart never wait for the tables.
      overview: () => `/v1/dashboard/overview?${query()}&parts=figures`,
      customer: () => `/v1/dashboard/customer?${invoiceQuery()}`,
      agents: () => `/v1/dashboard/agents?${agentsQuery()}`,
      alerts: () => `/v1/dashboard/alerts?${alertsQuery()}`,
      "dead-letters": () => `/v1/dashboard/dead-letters?${customerQuery()}`,
    }[shown]();
    const answer = await get(path, key);
    if (mine !== generation) return; // a newer request has been made since
    showError("");
    RENDER[shown](answer);
    $("#customer-filter").hidden = Boolean(answer.customer);
    $("#who").textContent = answer.customer ? `customer ${answer.customer}` : "all customers";
    if (shown === "overview") {
      const tops = await get(`/v1/dashboard/overview?${query()}&parts=tops`, key);
      if (mine !== generation) return;
      renderTops(tops);
    }
  } catch (error) {
    if (error instanceof SignedOut) {
      showError(error.message);
      return signIn();
    }
    if (mine !== generation) return;
    showError(error.message);
  }
  timer = setTimeout(() => refresh(), pollMs());
}

function showError(message) {
  $("#error").hidden = !message;
  $("#error").textContent = message;
}

function start() {
  $("#sign-in").hidden = true;
  $("#filters").hidden = false;
  showView();
  $("#sign-out").hidden = false;
  readFilters();
  refresh(true);
}

// ---- rendering -----------------------------------------------------------------------------

function render(answer) {
  symbol = new Intl.NumberFormat("en", { style: "currency", currency: answer.currency })
    .formatToParts(0).find((part) => part.type === "currency").value;
  showMoney($('[data-figure="spend.today"]'), answer.spend.today);
  showMoney($('[data-figure="spend.month"]'), answer.spend.month);
  showMoney($('[data-figure="spend.projected"]'), answer.spend.projected);
  showMoney($('[data-figure="total"]'), answer.total);
  $("#stacked-by").textContent = answer.group;
  $("#by-model").hidden = answer.window !== 86400;
  if (answer.group === "model") options("#model-list", answer.series.map((series) => series.name));
  chart(answer);
  $("#status").textContent = LIVE();
}

function renderTops(answer) {
  table("#top-customers", answer.top_customers, (row) => [row.customer]);
  table("#top-agents", answer.top_agents, (row) => [row.customer, row.agent]);
  options("#customer-list", answer.top_customers.map((row) => row.customer));
  options("#agent-list", [...new Set(answer.top_agents.map((row) => row.agent))]);
}

function renderInvoice(answer) {
  const invoice = answer.invoice;
  $("#invoice-id").textContent = invoice.invoice_id;
  $("#invoice-status").textContent = invoice.status;
  symbol = new Intl.NumberFormat("en", { style: "currency", currency: invoice.currency })
    .formatToParts(0).find((part) => part.type === "currency").value;
  $("#invoice tbody").replaceChildren(...invoice.lines.map((line) => {
    const tr = document.createElement("tr");
    tr.append(cell(line.description), cell(line.quantity, "num"), cell(line.included, "num"), cell(line.billable, "num"),
      cell(line.unit_price ?? "", "num"));
    const amount = cell("", "num");
    amount.dataset.figure = "amount";
    showMoney(amount, line.amount);
    tr.append(amount);
    return tr;
  }));
  for (const figure of ["subtotal", "credits_applied", "total"]) showMoney($(`[data-figure="invoice.${figure}"]`), invoice[figure]);
  $("#status").textContent = LIVE();
}

function renderDeadLetters(answer) {
  $("#dead-letter-codes tbody").replaceChildren(...answer.codes.map((code) => {
    const tr = document.createElement("tr");
    tr.append(cell(code.code), cell(code.letters.toLocaleString("en-US"), "num"), cell(code.latest.replace("T", " ").slice(0, 19)));
    const samples = document.createElement("td");
    for (const sample of code.samples) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${sample.message_key || "(no key)"}: ${sample.reason}`;
      const payload = document.createElement("pre");
      payload.textContent = sample.payload;
      details.append(summary, payload);
      samples.append(details);
    }
    tr.append(samples);
    return tr;
  }));
  $("#status").textContent = LIVE();
}

function table(selector, rows, names) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    for (const name of names(row)) tr.append(cell(name));
    tr.append(cell(row.events.toLocaleString("en-US"), "num"));
    const cost = cell("", "num");
    cost.dataset.figure = "cost";
    showMoney(cost, row.cost);
    tr.append(cost);
    return tr;
  }));
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function options(selector, values) {
  $(selector).replaceChildren(...values.map((value) => Object.assign(document.createElement("option"), { value })));
}

// ---- customer, agents, alerts ---------------------------------------------------------------



function moneyCell(text, figure) {
  const td = cell("", "num");
  if (text === null || text === undefined) { td.textContent = "n/a"; return td; }
  if (figure) td.dataset.figure = figure;
  showMoney(td, text);
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map((c) => (c instanceof Node ? c : cell(String(c)))));
  return tr;
}

const when = (iso) => iso.replace("T", " ").slice(0, 16);

function renderCustomer(answer) {
  renderInvoice(answer);
  $("#customer-hint").hidden = true;
  renderBudgets(answer.budgets);
  $("#margins tbody").replaceChildren(...answer.margins.map((m) =>
    row(m.month, moneyCell(m.cost, "cost"), moneyCell(m.revenue, "revenue"), moneyCell(m.margin, "margin"))));
  const exact = new Map(answer.margins.map((m) => [m.month, m]));
  drawChart($("#margin-chart"), {
    grid: { left: 70, right: 20, top: 40, bottom: 30 },
    legend: { top: 0 },
    tooltip: { trigger: "axis", formatter: moneyTooltip((item) => exact.get(item.name)?.[item.seriesName.toLowerCase()]) },
    xAxis: { type: "category", data: answer.margins.map((m) => m.month) },
    yAxis: moneyAxis(),
    series: ["Cost", "Revenue", "Margin"].map((name) => ({
      name, type: name === "Margin" ? "line" : "bar",
      data: answer.margins.map((m) => Number(m[name.toLowerCase()])),
    })),
  });
  $("#customer-alerts tbody").replaceChildren(...answer.alerts.map((a) =>
    row(when(a.occurred_at), a.rule, a.status, a.reason)));
  $("#status").textContent = LIVE();
}

function renderBudgets(budgets) {
  const holder = $("#budgets");
  if (!budgets.length) {
    holder.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: "No budget for this customer (costline budgets set)." }));
    return;
  }
  // One block per budget, kept by id so its chart survives a poll.
  const blocks = budgets.map((budget) => {
    let block = holder.querySelector(`[data-budget="${CSS.escape(budget.budget_id)}"]`);
    if (!block) {
      block = document.createElement("div");
      block.className = "budget";
      block.dataset.budget = budget.budget_id;
      block.innerHTML = '<h4></h4><p class="figures"></p><div class="chart small"></div>';
    }
    block.querySelector("h4").textContent = `${budget.budget_id}: ${budget.scope}, ${budget.period}, ${budget.kind}`;
    const figures = block.querySelector(".figures");
    figures.replaceChildren();
    const amount = document.createElement("output");
    amount.dataset.figure = "amount";
    showMoney(amount, budget.amount);
    if (!budget.tracked) {
      figures.append("Budget ", amount, ": its spend per agent, user or task is the worker's, not in the windows.");
      block.querySelector(".chart").hidden = true;
      return block;
    }
    const spent = document.createElement("output");
    spent.dataset.figure = "spent";
    showMoney(spent, budget.spent);
    const projected = document.createElement("output");
    projected.dataset.figure = "projected";
    showMoney(projected, budget.projected);
    figures.append("Spent ", spent, ` (${budget.used_pct} %) of `, amount, "; projected for the period ", projected, ".");
    burnChart(block.querySelector(".chart"), budget);
    return block;
  });
  holder.replaceChildren(...blocks);
}

// The axis must reach the budget line even before spend does; a round top keeps its labels apart.
function niceCeiling(value) {
  const step = 10 ** Math.floor(Math.log10(value || 1)) / 2;
  return Math.ceil((value * 1.05) / step) * step;
}

function burnChart(element, budget) {
  const start = Date.parse(budget.start), end = Date.parse(budget.end), at = Date.parse(budget.at);
  const spend = [[start, 0], ...budget.cumulative.map(([t, total]) => [Date.parse(t), Number(total)])];
  const exact = new Map([[start, "0"], ...budget.cumulative.map(([t, total]) => [Date.parse(t), total])]);
  exact.set(at, budget.spent);
  exact.set(end, budget.projected);
  drawChart(element, {
    grid: { left: 70, right: 90, top: 30, bottom: 30 },
    legend: { top: 0 },
    tooltip: { trigger: "item", formatter: moneyTooltip((item) => exact.get(item.value[0])) },
    xAxis: { type: "time", min: start, max: end },
    yAxis: { ...moneyAxis(), max: (extent) => niceCeiling(Math.max(extent.max, Number(budget.amount))) },
    series: [
      { name: "Spent", type: "line", step: "end", areaStyle: { opacity: 0.3 }, symbol: "none", data: [...spend, [at, Number(budget.spent)]],
        markLine: { symbol: "none", lineStyle: { color: "#D55E00", width: 2 }, label: { formatter: `budget ${formatUnits(units(budget.amount), 2)}` },
          data: [{ yAxis: Number(budget.amount) }] } },
      { name: "Projected", type: "line", lineStyle: { type: "dashed" }, symbolSize: 6,
        data: [[at, Number(budget.spent)], [end, Number(budget.projected)]] },
    ],
  });
}

function renderAgents(answer) {
  $("#agents-period").textContent = answer.period;
  $("#agent-table tbody").replaceChildren(...answer.agents.map((a) => {
    const tr = row(a.customer, a.agent, moneyCell(a.cost, "cost"), a.tasks.toLocaleString("en-US"),
      a.successful_tasks.toLocaleString("en-US"), a.success_pct === null ? "n/a" : `${a.success_pct} %`,
      moneyCell(a.cost_per_successful_task, "cost_per_successful_task"), moneyCell(a.value, "value"),
      a.value_per_cost === null ? "n/a" : `${a.value_per_cost} ×`);
    for (const index of [3, 4, 5, 8]) tr.children[index].className = "num";
    tr.dataset.agent = `${a.customer}/${a.agent}`;
    return tr;
  }));
  const names = answer.agents.map((a) => (answer.customer ? a.agent : `${a.customer}/${a.agent}`));
  const exact = new Map(answer.agents.map((a, i) => [names[i], a]));
  drawChart($("#value-chart"), {
    grid: { left: 70, right: 20, top: 40, bottom: 40 },
    legend: { top: 0 },
    tooltip: { trigger: "axis", formatter: moneyTooltip((item) => exact.get(item.name)?.[item.seriesName === "Cost" ? "cost" : "value"]) },
    xAxis: { type: "category", data: names },
    yAxis: moneyAxis(),
    series: [
      { name: "Cost", type: "bar", data: answer.agents.map((a) => Number(a.cost)) },
      { name: "Value delivered", type: "bar", data: answer.agents.map((a) => Number(a.value)) },
    ],
  });
  drawChart($("#layer-chart"), {
    grid: { left: 70, right: 20, top: 40, bottom: 40 },
    legend: { type: "scroll", top: 0 },
    tooltip: { trigger: "axis", formatter: moneyTooltip((item) => exact.get(item.name)?.layers[item.seriesName]) },
    xAxis: { type: "category", data: names },
    yAxis: moneyAxis(),
    series: answer.layers.map((layer) => ({
      name: layer, type: "bar", stack: "layers", data: answer.agents.map((a) => Number(a.layers[layer])),
    })),
  });
  $("#status").textContent = LIVE();
}

const RULE_ORDER = (alerts) => [...new Set(alerts.map((a) => a.rule))].sort();

function renderAlerts(answer) {
  const rules = RULE_ORDER(answer.alerts);
  drawChart($("#alert-chart"), {
    grid: { left: 120, right: 20, top: 40, bottom: 60 },
    legend: { top: 0 },
    tooltip: { trigger: "item", formatter: (item) => escapeHtml(`${when(item.data.alert.occurred_at)} ${item.data.alert.customer}: ${item.data.alert.reason}`) },
    xAxis: { type: "time" },
    yAxis: { type: "category", data: rules },
    dataZoom: [{ type: "slider", bottom: 10 }, { type: "inside" }],
    series: ["firing", "resolved"].map((status) => ({
      name: status, type: "scatter", symbol: status === "firing" ? "triangle" : "circle", symbolSize: 12,
      data: answer.alerts.filter((a) => a.status === status).map((alert) => ({ value: [Date.parse(alert.occurred_at), alert.rule], alert })),
    })),
  });
  $("#alert-table tbody").replaceChildren(...answer.alerts.map((a) => {
    const names = (kind) => a.contributors[kind].map((c) => `${c.id} (${formatUnits(units(c.cost), 2)})`).join(", ");
    const link = Object.assign(document.createElement("a"), { href: a.events, textContent: "events" });
    link.addEventListener("click", (event) => { event.preventDefault(); showEvents(a.events); });
    const events = document.createElement("td");
    events.append(link);
    const tr = row(when(a.occurred_at), a.customer, a.rule, a.status, a.reason, names("agent"), names("model"), names("task"), events);
    tr.dataset.alert = a.alert_id;
    return tr;
  }));
  $("#status").textContent = LIVE();
}

// The link is the /v1/costs query (curl-able with a key); here it is fetched with the page's key.
async function showEvents(path) {
  const out = $("#alert-events");
  out.hidden = false;
  const response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
  const answer = await response.json();
  out.textContent = `GET ${path}\n${JSON.stringify(response.ok ? answer.data : answer, null, 1)}`;
  out.focus();
}

// ---- charts (Apache ECharts, vendored: see costline/dev/vendor.py) ---------------------------

const CHART_LIBRARY_MISSING = "The chart library is not installed on this server: run `python -m costline.dev.vendor` "
  + "where Costline is installed (`make setup` does). Figures and tables below are complete.";
const charts = new Map();
const waiting = new Map(); // element -> the option to draw once the library has loaded

// 1 MB of library: loaded beside the first request, so figures print before it has been parsed.
let library = "loading";
const script = Object.assign(document.createElement("script"), { src: "/dashboard/vendor/echarts.min.js", async: true });
script.addEventListener("load", () => {
  library = window.echarts ? "ready" : "missing";
  for (const [element, option] of waiting) drawChart(element, option);
  waiting.clear();
});
script.addEventListener("error", () => {
  library = "missing";
  for (const element of waiting.keys()) drawChart(element, null);
  waiting.clear();
});
document.head.append(script);

// One instance per element, kept across polls so the range picked with the zoom survives a refresh.
function drawChart(element, option) {
  if (library === "loading") {
    waiting.set(element, option);
    return null;
  }
  if (library === "missing") {
    element.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: CHART_LIBRARY_MISSING }));
    return null;
  }
  let instance = charts.get(element);
  if (!instance || instance.isDisposed()) {
    instance = window.echarts.init(element, null, { renderer: "svg" });
    charts.set(element, instance);
  }
  instance.setOption({ color: PALETTE, aria: { enabled: true }, animation: false, ...option },
    { replaceMerge: ["series", "xAxis", "yAxis", "legend"] });
  element.dataset.series = String(option.series?.length ?? 0);
  return instance;
}

window.addEventListener("resize", () => { for (const instance of charts.values()) instance.resize(); });

// A tooltip of exact money: cents, and micro-dollars beside them (the figures are never floats).
function moneyTooltip(exactOf) {
  return (items) => {
    const rows = [].concat(items).map((item) => {
      const exact = exactOf(item);
      const shown = exact === undefined ? "" : `${formatUnits(units(exact), 2)} <small>(${formatUnits(units(exact), 6)})</small>`;
      return `${item.marker}${escapeHtml(item.seriesName)}: <b>${shown}</b>`;
    });
    const first = [].concat(items)[0];
    const when = first && typeof first.axisValue === "number" ? new Date(first.axisValue).toISOString().slice(0, 16).replace("T", " ") + " UTC" : first?.name ?? "";
    return [escapeHtml(when), ...rows].join("<br>");
  };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const moneyAxis = () => ({ type: "value", axisLabel: { formatter: (v) => formatUnits(units(String(v)), 2).replace(/\.00$/, "") } });

function chart(answer) {
  // Every series gets every window (0 where it had none), so the stacks line up exactly.
  const times = [...new Set(answer.series.flatMap((s) => s.points.map(([t]) => Date.parse(t))))].sort((a, b) => a - b);
  const exact = new Map();
  const series = answer.series.map((item) => {
    const at = new Map(item.points.map(([t, cost]) => [Date.parse(t), cost]));
    exact.set(item.name, at);
    return {
      name: item.name, type: "line", stack: "cost", step: "end", symbol: "none", areaStyle: { opacity: 0.85 },
      lineStyle: { width: 1 }, emphasis: { focus: "series" },
      data: times.map((t) => [t, Number(at.get(t) ?? "0")]),
    };
  });
  drawChart($("#chart"), {
    aria: { enabled: true, label: { description: `Cost per ${{ 60: "minute", 3600: "hour", 86400: "day" }[answer.window]} stacked by ${answer.group}: ${answer.series.length} series, ${times.length} windows` } },
    grid: { left: 70, right: 20, top: 40, bottom: 70 },
    legend: { type: "scroll", top: 0 },
    tooltip: { trigger: "axis", formatter: moneyTooltip((item) => exact.get(item.seriesName)?.get(item.value[0]) ?? "0") },
    xAxis: { type: "time" },
    yAxis: moneyAxis(),
    // The range picker: drag the slider or its handles; the wheel zooms where the pointer is.
    dataZoom: [{ type: "slider", bottom: 10 }, { type: "inside" }],
    series,
  });
}

// ---- go ------------------------------------------------------------------------------------

if (sessionStorage.getItem(KEY)) start(); else signIn();
