// The supervisors' insights page: highlights, and for each table a chart (Chart.js, served locally), the table
// and its CSV; a bar or a row opens the proposals or conversations behind it.
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// How each table is drawn: its title, the columns charted (top rows only) and the chart's kind.
const VIEWS = {
  by_reason: { title: "Returns by reason", chart: ["proposals", "approved", "rejected"] },
  by_product: { title: "Products that come back", chart: ["proposals", "damaged"], top: 10 },
  resolutions: { title: "Resolution mix", chart: ["approved"], kind: "doughnut" },
  decision_times: { title: "Time to a decision and to the committed return", chart: ["p50_seconds", "p90_seconds"], rows: 2, scale: 60, unit: "minutes" },
  agents: { title: "Approvals, edits and overrides by agent", chart: ["approvals", "edits", "overrides", "rejections", "escalations"] },
  rejection_reasons: { title: "Why returns were rejected" },
  outcomes: { title: "Where conversations end", chart: ["conversations"] },
  stalls: { title: "Where conversations without a return stopped", chart: ["conversations", "handed_to_person"] },
  engines: { title: "Ratings and thumbs by engine", chart: ["average_rating", "thumbs_up", "thumbs_down"] },
};
const COLOURS = ["#2453d6", "#1b7f3b", "#c62828", "#a15c00", "#6a3fc7", "#1769aa"];
const charts = [];

function period() {
  return new URLSearchParams({ from: $("from").value, to: $("to").value });
}

function cell(column, value) {
  if (value === null || value === undefined) return "–";
  if (column.endsWith("_cents")) return (value / 100).toLocaleString(undefined, { style: "currency", currency: "USD" });
  if (column.endsWith("_seconds")) return `${(value / 60).toFixed(1)} min`;
  if (column === "damaged_share") return `${value}%`;
  return String(value);
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `Request failed (${response.status})`);
  return body;
}

async function openDrill(table, key) {
  const dialog = $("drill");
  $("drill-title").textContent = `${VIEWS[table].title}: ${key}`;
  const list = $("drill-items");
  list.textContent = "";
  list.appendChild(el("li", "caption", "Loading…"));
  dialog.showModal();
  try {
    const body = await getJSON(`/console/api/insights/${table}/drill?${new URLSearchParams({ key })}&${period()}`);
    list.textContent = "";
    if (!body.items.length) list.appendChild(el("li", "caption", "Nothing in this period."));
    for (const item of body.items) {
      const li = el("li");
      const link = el("a", "", item.proposal ? `Proposal #${item.proposal} · ${item.customer}` : `${item.customer}`);
      link.href = `/console/#conversation=${encodeURIComponent(item.thread_id)}`;
      const money = item.amount_cents !== undefined ? ` · ${cell("amount_cents", item.amount_cents)}` : "";
      li.append(link, el("span", "caption", ` · ${item.state}${money}${item.last_message ? " · " + item.last_message : ""}`));
      list.appendChild(li);
    }
  } catch (error) {
    list.textContent = "";
    list.appendChild(el("li", "c-danger", error.message));
  }
}

function drawChart(canvas, name, table, view) {
  const rows = table.rows.slice(0, view.rows || view.top || 12);
  const key = table.columns[0];
  const scale = view.scale || 1;
  const datasets = view.chart.map((column, index) => ({
    label: column.replace(/_seconds$|_cents$/, "").replace(/_/g, " ") + (view.unit ? ` (${view.unit})` : ""),
    data: rows.map((row) => (row[column] === null ? null : row[column] / scale)),
    backgroundColor: view.kind === "doughnut" ? COLOURS : COLOURS[index % COLOURS.length],
  }));
  const chart = new window.Chart(canvas, {
    type: view.kind || "bar",
    data: { labels: rows.map((row) => row[key]), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      // Counts are whole numbers: no "0.5 conversations" on the axis (minutes keep their decimals).
      scales: view.kind === "doughnut" ? {} : { y: { beginAtZero: true, ticks: { precision: view.unit ? undefined : 0 } } },
      onClick: (_, elements) => {
        if (elements.length) openDrill(name, rows[elements[0].index][key]);
      },
    },
  });
  charts.push(chart);
}

function panel(name, table) {
  const view = VIEWS[name] || { title: name };
  const section = el("section", "panel");
  section.setAttribute("aria-labelledby", `title-${name}`);
  section.dataset.table = name;
  const head = el("div", "row between");
  const title = el("h2", "", view.title);
  title.id = `title-${name}`;
  const csv = el("a", "caption", "CSV");
  csv.href = `/console/api/insights/${name}.csv?${period()}`;
  csv.setAttribute("aria-label", `${view.title} as CSV`);
  head.append(title, csv);
  section.appendChild(head);
  if (view.chart && table.rows.length) {
    const box = el("div", "chart-box");
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Chart: ${view.title}. The same figures are in the table below.`);
    box.appendChild(canvas);
    section.appendChild(box);
    drawChart(canvas, name, table, view);
  }
  const wrap = el("div", "table-box");
  const grid = el("table", "data");
  const header = el("tr");
  for (const column of table.columns) {
    const th = el("th", typeof table.rows[0]?.[column] === "number" ? "num" : "", column.replace(/_cents$|_seconds$/, "").replace(/_/g, " "));
    th.scope = "col";
    header.appendChild(th);
  }
  grid.appendChild(header);
  for (const row of table.rows) {
    const tr = el("tr");
    table.columns.forEach((column, index) => {
      const td = el("td", typeof row[column] === "number" ? "num" : "");
      if (index === 0) {
        const open = el("button", "link", cell(column, row[column]));
        open.type = "button";
        open.addEventListener("click", () => openDrill(name, row[column]));
        td.appendChild(open);
      } else td.textContent = cell(column, row[column]);
      tr.appendChild(td);
    });
    grid.appendChild(tr);
  }
  if (!table.rows.length) section.appendChild(el("p", "caption", "Nothing in this period."));
  else {
    wrap.appendChild(grid);
    section.appendChild(wrap);
  }
  return section;
}

async function load() {
  $("error").hidden = true;
  try {
    const body = await getJSON(`/console/api/insights?${period()}`);
    const highlights = $("highlights");
    highlights.textContent = "";
    if (!body.highlights.length) highlights.appendChild(el("li", "caption", "Nothing stands out in this period."));
    for (const text of body.highlights) highlights.appendChild(el("li", "", text));
    charts.splice(0).forEach((chart) => chart.destroy());
    const tables = $("tables");
    tables.textContent = "";
    for (const [name, table] of Object.entries(body.tables)) tables.appendChild(panel(name, table));
    document.body.dataset.loaded = "true";
  } catch (error) {
    $("error").textContent = error.message;
    $("error").hidden = false;
  }
}

const today = new Date(`${document.body.dataset.today}T12:00:00`);
const monthAgo = new Date(today.getTime() - 29 * 86400000);
$("to").value = document.body.dataset.today;
$("from").value = monthAgo.toISOString().slice(0, 10);
$("period").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
$("drill-close").addEventListener("click", () => $("drill").close());
load();
