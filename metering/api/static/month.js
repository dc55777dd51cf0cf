// Month page: an emission unit's month — review (what is missing, which rule filled what), approve and lock,
// revise with a reason (revisions side by side with the diff), file with a reference; workbook and annual downloads.
const FIGS = ["clinker_t", "fuel_co2_t", "process_clinker_co2_t", "process_dust_co2_t", "process_toc_co2_t",
  "process_co2_t", "direct_co2_t", "biogenic_co2_t", "intensity_tco2_per_t"];
let st = null;
// Every load and action takes a number; only the newest one's answer is drawn (a slow load that
// started before an approval must not draw the month as it was before it).
let seq = 0;

function base() {
  return `/api/v1/compliance/${encodeURIComponent(document.getElementById("unit").value)}/${document.getElementById("month").value}`;
}

async function defaults() {
  const q = new URLSearchParams(location.search);
  const sel = document.getElementById("unit");
  try {
    const p = await call("/api/v1/plant");
    sel.replaceChildren(...p.emission_units.map((u) => {
      const o = document.createElement("option"); o.value = u.id; o.textContent = u.name ? `${u.id} · ${u.name}` : u.id; return o;
    }));
    if (!p.emission_units.length) report("status", false, t("no_unit"));
  } catch (e) { report("status", false, e.message); }
  if (q.get("unit")) sel.value = q.get("unit");
  const m = document.getElementById("month");
  if (q.get("month")) m.value = q.get("month");
  if (!m.value) { // last month: the one in review now
    const d = new Date(); d.setDate(1); d.setMonth(d.getMonth() - 1);
    m.value = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
  }
}

async function refresh() {
  if (!apiKey()) { report("status", false, t("need_key")); return; }
  try {
    await whoAmI(); gate();
    if (!document.getElementById("unit").value) await defaults();
    const mine = ++seq;
    report("status", true, t("computing"));
    const got = await call(base());
    if (mine !== seq) return;
    st = got;
    report("status", true, "");
  } catch (e) { report("status", false, e.message); return; }
  render();
  deadlines();
}

function num(v, d = 4) { return typeof v === "number" ? fmt(v, d) : Array.isArray(v) ? v.join(", ") : (v ?? "–"); }

function render() {
  const s = document.getElementById("state");
  s.dataset.state = st.state; s.textContent = t("state_" + st.state);
  const lock = document.getElementById("locked");
  lock.hidden = !(st.state === "approved" || st.state === "filed");
  lock.textContent = `${t("locked")} · ${t("revision")} ${st.revision}` + (st.filed_reference ? ` · ${st.filed_reference}` : "");
  // revisions side by side, then the month as computed now
  const revs = st.revisions || [];
  const head = document.querySelector("#figures thead tr");
  head.replaceChildren(...[t("item"), ...revs.map((r) => `${t("revision")} ${r.revision}`), t("current")].map((x, i) => {
    const th = document.createElement("th"); th.textContent = x; if (i) th.className = "num"; th.dataset.rev = i <= revs.length ? i : "current"; return th;
  }));
  const body = document.querySelector("#figures tbody");
  const row = (label, vals, key) => {
    const tr = document.createElement("tr"); tr.dataset.figure = key;
    cell(tr, label); vals.forEach((v) => cell(tr, v, "num")); return tr;
  };
  body.replaceChildren(
    ...FIGS.map((k) => row(t("fig_" + k), [...revs.map((r) => num(r.figures[k])), num(st.current ? st.current.figures[k] : null)], k)),
    row(t("reason"), [...revs.map((r) => r.reason), ""], "reason"),
    row(t("by_at"), [...revs.map((r) => `${r.created_by} · ${fmtTime(r.created_at)}`), ""], "by"),
  );
  const rc = document.getElementById("recompute");
  rc.textContent = !st.recompute ? t("not_locked") : st.recompute.differs
    ? `${t("recompute_differs")} ${st.recompute.against_revision}` : `${t("recompute_same")} ${st.recompute.against_revision}`;
  rc.className = st.recompute && st.recompute.differs ? "error" : "muted";
  // the diff of each revision against the one before, and of the recompute against the locked one
  const diffs = [];
  revs.forEach((r, i) => { if (i) r.diff_from_previous.forEach((d) => diffs.push([`${revs[i - 1].revision} → ${r.revision}`, d])); });
  if (st.recompute && st.recompute.differs) st.recompute.diff.forEach((d) => diffs.push([`${st.recompute.against_revision} → ${t("current")}`, d]));
  document.querySelector("#diff tbody").replaceChildren(...diffs.map(([label, d]) => {
    const tr = document.createElement("tr"); tr.dataset.kind = d.kind; tr.dataset.item = d.item;
    cell(tr, label); cell(tr, t("kind_" + d.kind)); cell(tr, d.item); cell(tr, num(d.before)); cell(tr, num(d.after)); return tr;
  }));
  const items = st.current ? st.current.review.items : [];
  document.querySelector("#review-items tbody").replaceChildren(...items.map((i) => {
    const tr = document.createElement("tr"); tr.dataset.material = i.material; tr.dataset.parameter = i.parameter; tr.dataset.status = i.status;
    tr.className = i.status === "blocking" ? "critical" : i.status === "filled" || i.status === "default" ? "warning" : "";
    cell(tr, i.material); cell(tr, i.parameter); cell(tr, t("st_" + i.status)); cell(tr, t("basis_" + i.basis));
    cell(tr, `${i.measured_days} / ${i.days}`, "num");
    const n = i.missing_days.length;
    cell(tr, !n ? "–" : n === i.days ? `${t("all_days")} (${n})` : i.missing_days.join(", "));
    const how = i.fill ? `${i.fill.rule}: ${fmt(i.fill.value, 6)} ${i.unit} (${i.fill.days} ${t("days")}) — ${i.fill.text}`
      : i.default ? `${t("default_value")} ${fmt(i.default.value, 6)} ${i.unit} — ${i.default.source || ""}` : i.note || "";
    cell(tr, how);
    return tr;
  }));
}

// The unit's year: each month's due date, state and what blocks it; a month opens on click.
async function deadlines() {
  const unit = document.getElementById("unit").value, year = document.getElementById("month").value.slice(0, 4);
  let d;
  try { d = await call(`/api/v1/compliance/deadlines?unit=${encodeURIComponent(unit)}&year=${year}`); } catch (e) { return; }
  document.getElementById("deadline-rule").textContent = d.rule.text || d.rule.id;
  document.querySelector("#deadlines tbody").replaceChildren(...d.months.map((m) => {
    const tr = document.createElement("tr"); tr.dataset.month = m.month; tr.dataset.state = m.state;
    if (m.overdue) tr.className = "critical";
    const a = document.createElement("a"); a.href = `?unit=${encodeURIComponent(unit)}&month=${m.month}`; a.textContent = m.month;
    cell(tr, "").appendChild(a); cell(tr, m.due); cell(tr, t("state_" + m.state) + (m.overdue ? ` · ${t("overdue")}` : ""));
    cell(tr, m.revision || "–", "num"); cell(tr, m.days_left ?? "–", "num");
    cell(tr, m.missing === null ? t("not_reviewed") : m.missing.length ? m.missing.join("; ") : "–");
    return tr;
  }));
}

async function act(path, body, done) {
  report("action-msg", true, t("computing"));
  const mine = ++seq;
  try {
    const r = await call(base() + path, { method: "POST", ...(body ? { body: JSON.stringify(body) } : {}) });
    report("action-msg", true, done);
    if (!(r && r.revisions)) refresh();
    else if (mine === seq) { st = r; report("status", true, ""); render(); deadlines(); }
  } catch (e) { report("action-msg", false, t("refused"), e.details || [e.message]); }
}

document.getElementById("pick").addEventListener("submit", (ev) => {
  ev.preventDefault();
  history.replaceState(null, "", `?unit=${encodeURIComponent(document.getElementById("unit").value)}&month=${document.getElementById("month").value}`);
  refresh();
});
document.getElementById("review").onclick = () => act("/review", null, t("done_review"));
document.getElementById("approve").onclick = () => act("/approve", null, t("done_approve"));
document.getElementById("revise").onclick = () => act("/revise", { reason: document.getElementById("revise-reason").value.trim() }, t("done_revise"));
document.getElementById("file").onclick = () => act("/file", { reference: document.getElementById("file-ref").value.trim() }, t("done_file"));
document.getElementById("dl-workbook").onclick = async () => {
  try { await download(base() + "/workbook", "workbook.xlsx"); } catch (e) { report("action-msg", false, e.message); }
};
document.getElementById("dl-annual").onclick = async () => {
  const unit = document.getElementById("unit").value, year = document.getElementById("month").value.slice(0, 4);
  try {
    const r = await call(`/api/v1/compliance/${encodeURIComponent(unit)}/annual/${year}`);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify(r, null, 2)], { type: "application/json" }));
    a.download = `${unit}-annual-${year}.json`; document.body.appendChild(a); a.click(); a.remove();
  } catch (e) { report("action-msg", false, e.message); }
};
window.onLangChange = () => { applyPlaceholders(); if (st) render(); if (me) { whoAmI(); gate(); } };
function applyPlaceholders() { document.querySelectorAll("[data-tp]").forEach((el) => { el.placeholder = t(el.dataset.tp); }); }
applyLabels(); applyPlaceholders(); setupKeyForm(); if (apiKey()) defaults().then(refresh); else refresh();
