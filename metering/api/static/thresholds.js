// Thresholds page: energy managers create, edit and delete alert rules; the API validates and explains.
let editing = null;
const form = document.getElementById("rule");
const msg = document.getElementById("form-msg");

function num(v) { return v === "" ? null : Number(v); }
function fromForm() {
  const f = new FormData(form);
  const body = {
    id: f.get("id"), name: f.get("name"), site: f.get("site"), metric: f.get("metric"),
    device: f.get("device") || null, quantity: f.get("metric") === "quantity" ? (f.get("quantity") || null) : null,
    condition: f.get("condition"), threshold: num(f.get("threshold")), low: num(f.get("low")), high: num(f.get("high")),
    clear: num(f.get("clear")), for_s: num(f.get("for_s")) ?? 0, severity: f.get("severity"),
    enabled: form.elements.enabled.checked, schedule: null,
  };
  if (f.get("sched_start") && f.get("sched_end")) body.schedule = { start: f.get("sched_start"), end: f.get("sched_end") };
  return body;
}
function toForm(r) {
  for (const k of ["id", "name", "site", "metric", "device", "quantity", "condition", "threshold", "low", "high", "clear", "for_s", "severity"]) {
    form.elements[k].value = r[k] ?? "";
  }
  form.elements.enabled.checked = r.enabled;
  form.elements.sched_start.value = r.schedule ? r.schedule.start.slice(0, 5) : "";
  form.elements.sched_end.value = r.schedule ? r.schedule.end.slice(0, 5) : "";
  form.elements.id.readOnly = true;
  editing = r.id;
}
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = fromForm();
  try {
    if (editing) await api(`/api/v1/thresholds/${editing}`, { method: "PUT", body: JSON.stringify(body) });
    else await api("/api/v1/thresholds", { method: "POST", body: JSON.stringify(body) });
    msg.className = "ok"; msg.textContent = `${t("saved")}: ${body.id}`;
    editing = null; form.reset(); form.elements.id.readOnly = false; await defaults(); refresh();
  } catch (e) { msg.className = "error"; msg.textContent = e.message; }
});
async function refresh() {
  if (!apiKey()) { msg.className = "error"; msg.textContent = t("need_key"); return; }
  let rules;
  try { rules = await api("/api/v1/thresholds"); } catch (e) { msg.className = "error"; msg.textContent = e.message; return; }
  const body = document.querySelector("#rules tbody");
  body.replaceChildren();
  for (const r of rules) {
    const tr = document.createElement("tr");
    tr.dataset.rule = r.id;
    const level = r.condition === "outside" ? `${r.low}..${r.high}` : r.threshold;
    for (const c of [r.id, r.metric === "quantity" ? `${r.device}.${r.quantity}` : r.metric, r.condition, level, r.clear ?? "–", r.for_s, r.severity, `${new Date(r.updated_at).toLocaleString()} (${r.updated_by})`]) {
      const td = document.createElement("td"); td.textContent = c; tr.appendChild(td);
    }
    const td = document.createElement("td");
    const e = document.createElement("button"); e.textContent = t("edit"); e.className = "edit"; e.onclick = () => toForm(r);
    const d = document.createElement("button"); d.textContent = t("delete"); d.className = "danger delete";
    d.onclick = async () => { try { await api(`/api/v1/thresholds/${r.id}`, { method: "DELETE" }); msg.className = "ok"; msg.textContent = `${t("deleted")}: ${r.id}`; refresh(); } catch (err) { msg.className = "error"; msg.textContent = err.message; } };
    td.append(e, " ", d); tr.appendChild(td); body.appendChild(tr);
  }
}
async function defaults() {
  if (!apiKey() || form.elements.site.value) return;
  try { const p = await api("/api/v1/plant"); form.elements.site.value = p.site.id; } catch (e) { /* no plant file: type the site */ }
}
applyLabels(); setupKeyForm(); defaults(); refresh();
