// Control-room page: polls /api/v1/live every 2 s and lets an operator acknowledge alerts.
async function refresh() {
  const status = document.getElementById("status");
  if (!apiKey()) { status.textContent = t("need_key"); return; }
  let live;
  try { live = await api("/api/v1/live"); status.textContent = ""; }
  catch (e) { status.textContent = e.message; return; }
  document.getElementById("power").textContent = fmt(live.power_kw);
  document.getElementById("energy").textContent = fmt(live.today.energy_kwh);
  // Scope 1 + scope 2, one figure per scope-2 method: the two are never added.
  const co2 = live.today.co2_kg ?? {};
  document.getElementById("co2").textContent = fmt(co2.total_location);
  document.getElementById("co2-market").textContent = fmt(co2.total_market);
  document.getElementById("cost").textContent = fmt(live.today.cost, 2);
  const d = live.demand;
  document.getElementById("demand").textContent = fmt(d.demand_kw);
  document.getElementById("forecast").textContent = fmt(d.forecast_kw);
  document.getElementById("limit").textContent = fmt(d.limit_kw, 0);
  const bar = document.getElementById("demand-bar");
  const pct = d.limit_kw && d.forecast_kw !== null ? Math.min(100, 100 * (d.forecast_kw ?? d.demand_kw) / d.limit_kw) : 0;
  bar.firstElementChild.style.width = pct + "%";
  bar.className = "bar" + (pct >= 100 ? " over" : pct >= 90 ? " warn" : "");
  const dr = live.dr.active;
  document.getElementById("dr").textContent = dr ? `${t("dr_active")}: ${dr.id} (−${fmt(dr.target_kw)} kW, → ${new Date(dr.end).toLocaleTimeString()})` : t("dr_none");
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const a of live.alerts) {
    const tr = document.createElement("tr");
    tr.className = `${a.severity} state-${a.state}`;
    tr.dataset.rule = a.rule;
    tr.dataset.state = a.state;
    const cells = [t(a.severity), a.rule, a.message, fmt(a.value, 2), fmt(a.threshold, 2), t(a.state), new Date(a.fired_at).toLocaleString()];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    const td = document.createElement("td");
    if (a.state === "firing") {
      const b = document.createElement("button");
      b.textContent = t("ack"); b.className = "ack";
      b.onclick = async () => { try { await api(`/api/v1/alerts/${a.id}/acknowledge`, { method: "POST" }); refresh(); } catch (e) { status.textContent = e.message; } };
      td.appendChild(b);
    }
    tr.appendChild(td);
    body.appendChild(tr);
  }
  document.getElementById("no-alerts").style.display = live.alerts.length ? "none" : "";
}
applyLabels(); setupKeyForm(); refresh(); setInterval(refresh, 2000);
