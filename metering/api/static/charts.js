// ECharts helpers shared by the control-room and device pages: one chart per element, themed, updated in place.
const CHARTS = {};
function chartsReady() { return typeof window.echarts !== "undefined"; }
function chart(id) {
  const el = document.getElementById(id);
  if (!chartsReady()) { el.textContent = t("charts_missing"); return null; }
  let c = CHARTS[id];
  if (!c) {
    c = echarts.init(el, theme() === "dark" ? "dark" : null, { renderer: "canvas" });
    CHARTS[id] = c;
  }
  return c;
}
// setOption merges: the chart redraws its series without clearing (no flicker on refresh).
function draw(id, option, replace = false) {
  const c = chart(id);
  if (c) c.setOption({ backgroundColor: "transparent", animation: false, ...option }, { notMerge: replace, lazyUpdate: true });
}
function resetCharts() { for (const [id, c] of Object.entries(CHARTS)) { c.dispose(); delete CHARTS[id]; } }
window.addEventListener("resize", () => Object.values(CHARTS).forEach((c) => c.resize()));
function timeAxis() {
  return { type: "time", axisLabel: { formatter: (v) => new Date(v).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", hour12: false }) } };
}
function valueAxis(name) { return { type: "value", name, scale: true, axisLabel: { formatter: (v) => fmt(v, 0) } }; }
function lineSeries(name, data, extra = {}) { return { name, type: "line", showSymbol: false, data, ...extra }; }
