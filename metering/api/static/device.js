// Device page: its meter, last values, 24 h of its main gauges, its energy and CO2 today (/controlroom/devices/{id}).
const DEVICE = new URLSearchParams(location.search).get("id") || "";
let DATA = null;

function render() {
  const d = DATA;
  if (!d) return;
  document.getElementById("dev-name").textContent = `${d.device.name} (${d.device.id})`;
  const today = d.today;
  document.getElementById("amount").textContent = fmt(today.amount);
  document.getElementById("amount-unit").textContent = u(today.unit);
  document.getElementById("tce").textContent = fmt(today.tce_kg);
  document.getElementById("cost").textContent = fmt(today.cost, 2);
  document.getElementById("co2-scope1").textContent = fmt(today.co2_kg.scope1);
  document.getElementById("co2-location").textContent = fmt(today.co2_kg.scope2_location);
  document.getElementById("co2-market").textContent = fmt(today.co2_kg.scope2_market);
  const m = d.meter || {};
  const meta = [
    ["carrier", d.device.carrier], ["kind", d.device.kind], ["area", d.device.area], ["role", d.device.role],
    ["parent", d.device.parent || "–"], ["children", d.device.children.join(", ") || "–"],
    ["protocol", m.protocol || "–"], ["profile", m.profile || m.topic || "–"], ["last_seen", fmtTime(d.last_seen)],
  ];
  const dl = document.getElementById("meta");
  dl.replaceChildren(...meta.flatMap(([k, v]) => { const dt = document.createElement("dt"), dd = document.createElement("dd"); dt.textContent = t(k); dd.textContent = v; return [dt, dd]; }));
  const body = document.querySelector("#values tbody");
  body.replaceChildren(...Object.entries(d.values).map(([q, v]) => {
    const tr = document.createElement("tr"); tr.dataset.quantity = q;
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = q; b.textContent = fmt(v, 3); b.className = "num"; tr.append(a, b); return tr;
  }));
  const names = Object.keys(d.series);
  draw("chart-device", {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 60, right: 60, top: 34, bottom: 30 },
    xAxis: timeAxis(),
    yAxis: names.length > 1 ? [valueAxis(names[0]), { ...valueAxis(""), position: "right" }] : valueAxis(names[0] || ""),
    series: names.map((q, i) => lineSeries(q, d.series[q].map(([x, y]) => [Date.parse(x), y]), { yAxisIndex: names.length > 1 && i > 0 ? 1 : 0 })),
  }, true);
}

async function refresh() {
  const status = document.getElementById("status");
  if (!apiKey()) { status.textContent = t("need_key"); return; }
  try { DATA = await api(`/api/v1/controlroom/devices/${encodeURIComponent(DEVICE)}`); status.textContent = ""; render(); }
  catch (e) { status.textContent = e.message; }
}
window.onLangChange = render;
window.onThemeChange = () => { resetCharts(); render(); };
applyLabels(); setupKeyForm(); refresh(); setInterval(refresh, 10000);
