// Lab page: the lab book's current values and versions, entry form, CSV/XLSX upload and corrections with a reason.
let rows = [];
let correcting = null;
let seq = 0;

async function refresh() {
  if (!apiKey()) { report("status", false, t("need_key")); return; }
  try {
    await whoAmI();
    gate();
    const mine = ++seq;
    const all = document.getElementById("history").checked;
    const got = (await call("/api/v1/direct/lab" + (all ? "?history=true" : ""))).rows;
    if (mine !== seq) return; // a newer load is on its way: draw that one
    rows = got;
    report("status", true, "");
  } catch (e) { report("status", false, e.message); return; }
  lists();
  render();
  stocks();
}

// Stock balances per material and month: consumption = opening + receipts − closing.
async function stocks() {
  let d;
  try { d = await call("/api/v1/direct/stocks"); } catch (e) { report("stock-msg", false, e.message); return; }
  document.querySelector("#stocks tbody").replaceChildren(...d.rows.map((r) => {
    const tr = document.createElement("tr"); tr.dataset.material = r.material; tr.dataset.month = r.month;
    cell(tr, r.material); cell(tr, r.month);
    for (const k of ["opening_t", "receipts_t", "closing_t", "consumed_t"]) cell(tr, fmt(Number(r[k]), 3), "num");
    cell(tr, r.reference); cell(tr, r.entered_by);
    return tr;
  }));
  const ul = document.getElementById("stock-msg-list");
  if (d.warnings.length && !ul.children.length) report("stock-msg", false, t("stock_warnings"), d.warnings);
}

// The materials and parameters already in the book, offered in the form (the API names the others).
function lists() {
  const opts = (id, values) => document.getElementById(id).replaceChildren(...[...new Set(values)].sort().map((v) => {
    const o = document.createElement("option"); o.value = v; return o;
  }));
  opts("materials", rows.map((r) => r.material));
  opts("parameters", rows.map((r) => r.parameter));
}

function render() {
  const q = document.getElementById("filter").value.trim().toLowerCase();
  const body = document.querySelector("#lab tbody");
  const shown = rows.filter((r) => !q || `${r.sample_id} ${r.material} ${r.parameter}`.toLowerCase().includes(q))
    .sort((a, b) => b.period_start.localeCompare(a.period_start) || a.sample_id.localeCompare(b.sample_id)
      || a.parameter.localeCompare(b.parameter) || b.version - a.version);
  // With every version shown, only the newest of each (sample, parameter) can be corrected.
  const newest = new Set();
  body.replaceChildren(...shown.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.sample = r.sample_id; tr.dataset.parameter = r.parameter; tr.dataset.version = r.version;
    cell(tr, r.sample_id); cell(tr, r.material); cell(tr, r.parameter); cell(tr, fmt(r.value, 6), "num");
    cell(tr, r.unit); cell(tr, r.period_start === r.period_end ? r.period_start : `${r.period_start} … ${r.period_end}`);
    cell(tr, r.version > 1 ? `${r.version} (${t("corrected")})` : "1", "num version");
    cell(tr, r.entered_by); cell(tr, r.reason || "");
    const td = cell(tr, "");
    const b = document.createElement("button");
    b.className = "correct"; b.dataset.need = "operator"; b.textContent = t("correct");
    b.onclick = () => openCorrect(r);
    const key = `${r.sample_id}\u0000${r.parameter}`;
    if (!newest.has(key)) { newest.add(key); td.appendChild(b); } else tr.className = "superseded";
    return tr;
  }));
  gate(body);
}

function openCorrect(r) {
  correcting = r;
  document.getElementById("c-what").textContent = `${r.sample_id} · ${r.material} ${r.parameter} = ${r.value} ${r.unit} (${t("version")} ${r.version})`;
  document.getElementById("c-value").value = r.value;
  document.getElementById("c-reason").value = "";
  report("c-msg", true, "");
  document.getElementById("correct").showModal();
}

document.getElementById("correct-form").addEventListener("submit", async (ev) => {
  if (ev.submitter && ev.submitter.value === "cancel") return; // the dialog closes by itself
  ev.preventDefault();
  const r = correcting;
  const body = { parameter: r.parameter, value: Number(document.getElementById("c-value").value), reason: document.getElementById("c-reason").value.trim() };
  if (body.reason.length < 3) { report("c-msg", false, t("reason_needed")); return; }
  try {
    const v = await call(`/api/v1/direct/lab/${encodeURIComponent(r.sample_id)}/corrections`, { method: "POST", body: JSON.stringify(body) });
    document.getElementById("correct").close();
    report("lab-msg", true, `${t("correct_done")}: ${v.sample_id} ${v.parameter} = ${v.value} (${t("version")} ${v.version}, ${v.entered_by}: ${v.reason})`);
    refresh();
  } catch (e) { report("c-msg", false, t("refused"), e.details || [e.message]); }
});

document.getElementById("entry").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const entry = Object.fromEntries(["sample_id", "material", "parameter", "unit", "period_start", "period_end", "standard", "lab"].map((k) => [k, (f.get(k) || "").trim()]));
  entry.value = f.get("value") === "" ? null : Number(f.get("value"));
  if (!entry.period_end) entry.period_end = entry.period_start;
  try {
    const r = await call("/api/v1/direct/lab/entries", { method: "POST", body: JSON.stringify({ entries: [entry] }) });
    report("entry-msg", true, `${t("saved")}: ${r.added.map((x) => `${x.sample_id} ${x.parameter}`).join(", ") || t("nothing_new")}`);
    refresh();
  } catch (e) { report("entry-msg", false, t("refused"), e.details || [e.message]); }
});

document.getElementById("upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) { report("upload-msg", false, t("choose_file")); return; }
  const data = new FormData();
  data.append("file", file, file.name);
  try {
    const r = await call("/api/v1/direct/lab", { method: "POST", body: data });
    report("upload-msg", true, `${r.source}: ${r.added.length} ${t("added")}, ${r.unchanged} ${t("unchanged")}`);
    refresh();
  } catch (e) { report("upload-msg", false, `${file.name}: ${t("refused")}`, e.details || [e.message]); }
});

document.getElementById("stock-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = document.getElementById("stock-file").files[0];
  if (!file) { report("stock-msg", false, t("choose_file")); return; }
  const data = new FormData();
  data.append("file", file, file.name);
  try {
    const r = await call("/api/v1/direct/stocks", { method: "POST", body: data });
    report("stock-msg", true, `${r.source}: ${r.rows} ${t("stock_rows")}`, r.warnings);
    stocks();
  } catch (e) { report("stock-msg", false, `${file.name}: ${t("refused")}`, e.details || [e.message]); }
});
document.getElementById("filter").addEventListener("input", render);
document.getElementById("history").addEventListener("change", refresh);
window.onLangChange = () => { applyPlaceholders(); if (apiKey()) refresh(); };
function applyPlaceholders() { document.querySelectorAll("[data-tp]").forEach((el) => { el.placeholder = t(el.dataset.tp); }); }
applyLabels(); applyPlaceholders(); setupKeyForm(); refresh();
