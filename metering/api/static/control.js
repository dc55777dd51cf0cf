// Control-room page: /controlroom/live every 5 s, /controlroom/breakdown every 60 s; operators acknowledge alerts.
let LIVE = null, BREAKDOWN = null;
const shown = {};  // element id → text last written: unchanged figures are not touched (no flicker)

function setText(id, text) {
  if (shown[id] === text) return;
  shown[id] = text;
  document.getElementById(id).textContent = text;
}
// Rebuilds a table body only when its rows changed.
function setRows(id, key, build) {
  if (shown[id] === key) return;
  shown[id] = key;
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...build());
}
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
function deviceLink(id, name) {
  const td = document.createElement("td"), a = document.createElement("a");
  a.href = `device.html?id=${encodeURIComponent(id)}`; a.textContent = name || id; a.className = "device-link"; a.dataset.device = id;
  td.appendChild(a); return td;
}

function renderLive() {
  const live = LIVE;
  if (!live) return;
  setText("site-name", live.site.name);
  setText("power", fmt(live.power.kw));
  const d = live.demand;
  setText("demand", fmt(d.latest.demand ?? d.latest.sliding));
  setText("forecast", fmt(d.latest.forecast));
  setText("limit", fmt(d.limit_kw, 0));
  const now = d.latest.forecast ?? d.latest.sliding ?? d.latest.demand;
  const pct = d.limit_kw && now !== null ? Math.min(100, 100 * now / d.limit_kw) : 0;
  const bar = document.getElementById("demand-bar");
  bar.firstElementChild.style.width = pct + "%";
  bar.className = "bar" + (d.limit_kw && now >= d.limit_kw ? " over" : d.prealarm_kw && now >= d.prealarm_kw ? " warn" : "");
  const td = live.today;
  setText("energy", fmt(td.electricity_kwh));
  setText("carriers", Object.entries(td.carriers).filter(([c]) => c !== "electricity" && c !== "production")
    .map(([c, v]) => `${fmt(v.amount)} ${u(v.unit)}`).join(" · "));
  setText("tce", fmt(td.tce_kg));
  setText("cost", fmt(td.cost, 2));
  // National carbon market direct emissions exist only where the plant has an emission unit (a kiln line).
  setText("co2-ets", td.co2_kg.ets_direct !== null ? fmt(td.co2_kg.ets_direct) : t(live.carbon_units ? "no_data" : "no_unit"));
  setText("co2-scope1", fmt(td.co2_kg.scope1));
  setText("co2-location", fmt(td.co2_kg.scope2_location));
  setText("co2-market", fmt(td.co2_kg.scope2_market));
  const c = live.completeness;
  setText("completeness", c.pct === null ? "–" : fmt(c.pct, 1));
  setText("completeness-detail", `${fmt(c.intervals, 0)} ${t("intervals")} × ${fmt(c.devices, 0)} ${t("devices")}`);
  const h = live.health;
  setRowsHealth(h);
  const dr = live.dr.active;
  setText("dr", dr ? `${t("dr_active")}: ${dr.id} (→ ${fmtTime(dr.end)})` : t("dr_none"));
  renderAlerts(live.alerts);
  setText("updated", fmtTime(live.ts));
  setText("clock", new Date(live.ts).toLocaleString(locale(), { hour12: false, timeZone: live.site.timezone }));
  draw("chart-power", {
    tooltip: { trigger: "axis" }, grid: { left: 60, right: 20, top: 30, bottom: 30 },
    xAxis: timeAxis(), yAxis: valueAxis(u("kW")),
    series: [lineSeries(t("site_kw"), live.power.trend.map(([x, y]) => [Date.parse(x), y]), { areaStyle: { opacity: 0.15 } })],
  });
  const band = d.limit_kw && d.prealarm_kw ? [[{ yAxis: d.prealarm_kw, name: t("prealarm") }, { yAxis: d.limit_kw }]] : [];
  draw("chart-demand", {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 60, right: 90, top: 34, bottom: 30 },
    xAxis: timeAxis(), yAxis: { ...valueAxis(u("kW")), max: d.limit_kw ? (v) => Math.max(v.max, d.limit_kw * 1.05) : null },
    series: [
      lineSeries(t("sliding_kw"), d.sliding.map(([x, y]) => [Date.parse(x), y])),
      lineSeries(t("demand_kw"), d.demand.map(([x, y]) => [Date.parse(x), y]), { step: "end" }),
      lineSeries(t("forecast_kw"), d.forecast.map(([x, y]) => [Date.parse(x), y]), { lineStyle: { type: "dashed" },
        markLine: d.limit_kw ? { symbol: "none", data: [{ yAxis: d.limit_kw, name: t("limit_kw") }], lineStyle: { color: "#f85149" }, label: { formatter: t("limit_kw") } } : undefined,
        markArea: { silent: true, itemStyle: { color: "rgba(227,179,65,0.18)" }, data: band } }),
    ],
  });
}

function setRowsHealth(h) {
  const counts = document.getElementById("health-counts");
  const key = JSON.stringify([h.counts, lang()]);
  if (shown["health-counts"] !== key) {
    shown["health-counts"] = key;
    counts.replaceChildren(...["online", "stale", "offline", "bad"].map((s) => {
      const span = document.createElement("span"); span.className = `s-${s}`; span.dataset.state = s;
      const b = document.createElement("b"); b.textContent = String(h.counts[s]);
      span.append(b, " ", t(s)); return span;
    }));
  }
  setRows("health", JSON.stringify([h.not_fine, lang()]), () => h.not_fine.map((r) => {
    const tr = document.createElement("tr"); tr.dataset.device = r.device;
    tr.append(deviceLink(r.device, r.name), cell(t(r.state), `s-${r.state}`), cell(fmtTime(r.since)), cell(r.error || ""));
    return tr;
  }));
  const fine = document.getElementById("all-fine");
  fine.style.display = h.not_fine.length ? "none" : "";
  setText("more-not-fine", h.not_fine_more ? `+ ${fmt(h.not_fine_more, 0)} ${t("devices")}` : "");
}

function renderAlerts(alerts) {
  setRows("alerts", JSON.stringify([alerts, lang()]), () => alerts.map((a) => {
    const tr = document.createElement("tr");
    tr.className = `${a.severity} state-${a.state}`; tr.dataset.rule = a.rule; tr.dataset.state = a.state;
    for (const c of [t(a.severity), a.rule, a.message, fmt(a.value, 2), fmt(a.threshold, 2), t(a.state), fmtTime(a.fired_at)]) tr.appendChild(cell(c));
    const td = document.createElement("td");
    if (a.state === "firing") {
      const b = document.createElement("button");
      b.textContent = t("ack"); b.className = "ack";
      b.onclick = async () => {
        try { await api(`/api/v1/alerts/${a.id}/acknowledge`, { method: "POST" }); await refresh(); }
        catch (e) { document.getElementById("status").textContent = e.message; }
      };
      td.appendChild(b);
    }
    tr.appendChild(td); return tr;
  }));
  document.getElementById("no-alerts").style.display = alerts.length ? "none" : "";
}

function renderBreakdown() {
  const b = BREAKDOWN;
  if (!b) return;
  const it = b.intensity.today;
  setText("intensity", fmt(it.value, 1));
  const bm = it.benchmarks[0];
  setText("benchmark", bm ? (it.value === null ? t("no_data") : `${bm.met ? t("benchmark_met") + " " + t(bm.met === "limit" ? "limit_level" : bm.met) : t("benchmark_above")} · ${bm.id} · ${t("per_t_of")} ${bm.product}`) : "");
  const dir = it.direct;
  setText("intensity-direct", dir ? (dir.value === null ? t("no_data") : fmt(dir.value, 3)) : t("no_unit"));
  setText("benchmark-direct", !dir ? "" : !dir.benchmark ? t("no_benchmark")
    : `${dir.met ? t("benchmark_met") : t("benchmark_above")} ${fmt(dir.benchmark.value, 3)}${dir.benchmark.confirmed ? "" : " (" + t("unconfirmed") + ")"}`);
  // CBAM: direct and indirect shown apart under their sum (metering/direct/cbam.py; stored days only).
  const cbam = dir ? dir.cbam : null;
  setText("cbam-clinker", !dir ? t("no_unit") : !cbam ? t("no_data") : fmt(cbam.see_total_tco2_per_t, 3));
  setText("cbam-parts", !cbam ? "" : `${t("cbam_direct")} ${fmt(cbam.see_direct_tco2_per_t, 3)} · ${t("cbam_indirect")} ${fmt(cbam.see_indirect_tco2_per_t, 3)}`);
  const period = document.getElementById("bd-period").value, by = document.getElementById("bd-by").value;
  const rows = b[period][by];
  draw("chart-breakdown", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, legend: { top: 0 },
    grid: { left: 110, right: 20, top: 34, bottom: 30 },
    xAxis: { type: "value", splitNumber: 4, axisLabel: { formatter: (v) => fmt(v, 0), hideOverlap: true } },
    yAxis: { type: "category", inverse: true, data: rows.map((r) => (r.others ? t(`more_${by}`).replace("{n}", fmt(r.others, 0))
      : r.key === "unmetered" ? t("unmetered") : r.key)) },
    series: [
      { name: t("energy_tce"), type: "bar", data: rows.map((r) => r.tce_kg) },
      { name: t("co2_direct_s2loc"), type: "bar", data: rows.map((r) => (r.scope1 ?? 0) + (r.scope2_location ?? 0)) },
    ],
  }, true);
  setRows("top", JSON.stringify([b.today.top, lang()]), () => b.today.top.map((r) => {
    const tr = document.createElement("tr");
    tr.append(deviceLink(r.device, r.name), cell(r.area), cell(fmt(r.tce_kg), "num"), cell(fmt(r.kwh), "num"),
      cell(fmt((r.scope1 ?? 0) + (r.scope2_location ?? 0)), "num"));
    return tr;
  }));
  const s = b.sankey;
  const labels = Object.fromEntries(s.nodes.map((n) => [n.name, n.name.endsWith(":unmetered") ? n.label.replace("unmetered", t("unmetered")) : n.label]));
  draw("chart-sankey", {
    tooltip: { trigger: "item", formatter: (p) => p.dataType === "edge" ? `${labels[p.data.source]} → ${labels[p.data.target]}: ${fmt(p.data.value)} ${u(s.unit)}` : `${labels[p.name]}` },
    series: [{ type: "sankey", left: 10, right: 210, top: 10, bottom: 10, nodeGap: 6, nodeAlign: "left", emphasis: { focus: "adjacency" },
      data: s.nodes.map((n) => ({ name: n.name })), links: s.links,
      label: { formatter: (p) => labels[p.name] }, lineStyle: { color: "gradient", opacity: 0.4 } }],
  }, true);
}

async function refresh() {
  const status = document.getElementById("status");
  if (!apiKey()) { status.textContent = t("need_key"); return; }
  try { LIVE = await api("/api/v1/controlroom/live"); status.textContent = ""; renderLive(); }
  catch (e) { status.textContent = e.message; }
}
async function refreshBreakdown() {
  if (!apiKey()) return;
  try { BREAKDOWN = await api("/api/v1/controlroom/breakdown"); renderBreakdown(); }
  catch (e) { document.getElementById("status").textContent = e.message; }
}
function rerender() { for (const k of Object.keys(shown)) delete shown[k]; renderLive(); renderBreakdown(); }
window.onLangChange = rerender;
window.onThemeChange = () => { resetCharts(); rerender(); };
window.onKey = () => { refresh(); refreshBreakdown(); };
document.getElementById("bd-by").onchange = renderBreakdown;
document.getElementById("bd-period").onchange = renderBreakdown;
applyLabels(); setupKeyForm(); refresh(); refreshBreakdown();
setInterval(refresh, 5000); setInterval(refreshBreakdown, 60000);
