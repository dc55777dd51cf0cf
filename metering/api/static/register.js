// Device-register page: instruments with their calibration state and GB 17167 verdict, an edit form
// (energy managers; the API validates and names the field), and the data-quality control plan.
const form = document.getElementById("entry");
const msg = document.getElementById("msg");
let editing = null;

function say(cls, text) { msg.className = cls; msg.textContent = text; }
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text ?? ""; if (cls) td.className = cls; tr.appendChild(td); }
const STATE_CLASS = { lapsed: "s-bad", due: "s-stale", ok: "s-online", unknown: "muted" };
const VERDICT_CLASS = { below: "s-bad", meets: "s-online", unknown_class: "s-stale", no_requirement: "muted" };

function edit(e) {
  editing = e.id;
  document.getElementById("editing").textContent = e.id;
  for (const k of ["serial", "accuracy_class", "last_calibration", "calibration_interval_months", "calibration_due", "certificate", "owner"]) {
    form.elements[k].value = e[k] ?? "";
  }
}
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!editing) { say("error", t("reg_pick")); return; }
  const f = new FormData(form);
  const body = {};
  for (const [k, v] of f.entries()) {
    if (["last_calibration", "calibration_due", "calibration_interval_months"].includes(k)) body[k] = v === "" ? null : (k.endsWith("months") ? Number(v) : v);
    else body[k] = v;
  }
  try {
    await api(`/api/v1/register/${editing}`, { method: "PUT", body: JSON.stringify(body) });
    say("ok", `${t("saved")}: ${editing}`); refresh();
  } catch (e) { say("error", e.message); }
});

async function download(format) {
  const r = await fetch(`/api/v1/register/plan?format=${format}`, { headers: { "Authorization": "Bearer " + apiKey() } });
  if (!r.ok) { say("error", r.statusText); return; }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await r.blob()); a.download = `data-quality-plan.${format}`; a.click();
}
document.getElementById("dl-csv").onclick = () => download("csv");
document.getElementById("dl-xlsx").onclick = () => download("xlsx");

async function refresh() {
  applyLabels();
  if (!apiKey()) { say("error", t("need_key")); return; }
  let reg, plan;
  try { [reg, plan] = await Promise.all([api("/api/v1/register"), api("/api/v1/register/plan")]); } catch (e) { say("error", e.message); return; }
  document.getElementById("as-of").textContent = reg.as_of;
  const body = document.querySelector("#instruments tbody");
  body.replaceChildren();
  for (const e of reg.instruments) {
    const tr = document.createElement("tr");
    tr.dataset.id = e.id;
    cell(tr, e.id); cell(tr, t("reg_" + e.instrument)); cell(tr, e.model); cell(tr, e.serial); cell(tr, e.location);
    cell(tr, e.accuracy_class);
    const g = e.gb17167;
    cell(tr, g ? t("reg_v_" + g.verdict) + (g.required ? ` (${g.required})` : "") : "–", g ? VERDICT_CLASS[g.verdict] : "muted");
    cell(tr, e.due_date); cell(tr, t("reg_s_" + e.calibration_state), "cal " + STATE_CLASS[e.calibration_state]);
    cell(tr, e.missing.map((m) => t("reg_f_" + m)).join(", "), "small muted");
    const td = document.createElement("td");
    const b = document.createElement("button"); b.textContent = t("edit"); b.className = "edit"; b.onclick = () => edit(e);
    td.appendChild(b); tr.appendChild(td); body.appendChild(tr);
  }
  const pb = document.querySelector("#plan tbody");
  pb.replaceChildren();
  for (const r of plan.rows) {
    const tr = document.createElement("tr");
    cell(tr, r.unit); cell(tr, `${r.name} [${r.uom}]`); cell(tr, r.sources.join(", ") || r.source_text);
    cell(tr, r.frequency, "small"); cell(tr, r.missing_rule, "small"); cell(tr, r.owner || "–");
    pb.appendChild(tr);
  }
}
setupKeyForm(); refresh();
