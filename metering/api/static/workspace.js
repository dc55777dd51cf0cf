// The energy manager's workspace pages (lab, month): API calls that keep every error, role gating, downloads.
const RANK = ["viewer", "operator", "energy_manager", "admin"];
let me = null; // {name, role} of the key in use

// A call whose refusal keeps the API's list of mistakes (err.details), each as the API wrote it.
async function call(path, opts = {}) {
  const json = opts.body && !(opts.body instanceof FormData);
  const headers = { "Authorization": "Bearer " + apiKey(), ...(json ? { "Content-Type": "application/json" } : {}) };
  const r = await fetch(path, { ...opts, headers });
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
  if (!r.ok) {
    const d = body && body.detail;
    const details = Array.isArray(d) ? d.map((e) => (typeof e === "string" ? e : e.msg)) : [String(d || r.statusText)];
    const err = new Error(details.join("\n"));
    err.details = details; err.status = r.status;
    throw err;
  }
  return body;
}

async function whoAmI() {
  me = await call("/api/v1/me");
  document.getElementById("me").textContent = `${me.name} (${t("role_" + me.role)})`;
  return me;
}

// May the key in use press a button that needs `need`? The auditor reads everything and changes nothing.
function may(need) {
  if (!me) return false;
  if (need === "viewer") return true; // a read (a download): every role, the auditor too
  return me.role !== "auditor" && RANK.indexOf(me.role) >= RANK.indexOf(need);
}

// Buttons carry data-need="operator|energy_manager": disabled with a tooltip naming the role when the key lacks it.
function gate(root = document) {
  root.querySelectorAll("[data-need]").forEach((b) => {
    const ok = may(b.dataset.need);
    b.disabled = !ok;
    b.title = ok ? "" : `${t("needs_role")}: ${t("role_" + b.dataset.need)}` + (me ? ` (${t("role_" + me.role)})` : "");
  });
}

// Show a result line and the API's mistakes as a list under it.
function report(id, ok, line, details = []) {
  const p = document.getElementById(id);
  p.className = ok ? "ok" : "error";
  p.textContent = line;
  const ul = document.getElementById(id + "-list");
  if (ul) {
    ul.replaceChildren(...details.map((d) => { const li = document.createElement("li"); li.textContent = d; return li; }));
  }
}

// Download a file the API serves behind the key: fetched, then saved under the name the API gives.
async function download(path, fallback) {
  const r = await fetch(path, { headers: { "Authorization": "Bearer " + apiKey() } });
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  const cd = r.headers.get("content-disposition") || "";
  const m = cd.match(/filename="([^"]+)"/);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await r.blob());
  a.download = m ? m[1] : fallback;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
