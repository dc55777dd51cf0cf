// English and Simplified Chinese labels for the control-room pages; the language is kept in localStorage.
const LABELS = {
  en: {
    title: "Control room", thresholds: "Thresholds", key: "API key", save_key: "Use key",
    power: "Site power", today_energy: "Energy today", today_co2: "CO2 today (scope 1+2, location-based)", co2_market: "market-based", today_cost: "Cost today",
    demand: "Demand", limit: "limit", forecast: "forecast", dr: "Demand response", dr_none: "No active event",
    dr_active: "Active event", alerts: "Active alerts", no_alerts: "No active alerts", ack: "Acknowledge",
    rule: "Rule", severity: "Severity", state: "State", value: "Value", threshold: "Threshold", fired: "Fired",
    message: "Message", id: "Id", site: "Site", metric: "Metric", device: "Device", quantity: "Quantity",
    condition: "Condition", low: "Low", high: "High", clear: "Clear level", for_s: "For (s)", name: "Name",
    schedule: "Schedule (working hours)", sched_start: "From", sched_end: "To", enabled: "Enabled",
    save: "Save", new: "New threshold", edit: "Edit", delete: "Delete", saved: "Saved", deleted: "Deleted",
    updated: "Updated", lang: "中文", need_key: "Enter an API key to see live data.", actions: "",
    firing: "firing", acknowledged: "acknowledged", resolved: "resolved", info: "info", warning: "warning", critical: "critical",
    theme_toggle: "Light / dark", today_tce: "Energy today (tce)", co2_ets: "Carbon market direct emissions today",
    co2_ets_note: "fuel + process CO2 of the emission units; purchased power and heat excluded", co2_scope1: "Scope 1 today",
    co2_scope1_note: "GB/T 32150: the units' direct emissions + other fuel burnt on site", no_unit: "no emission unit",
    intensity_direct: "Direct CO2 per tonne of clinker today", no_benchmark: "no sector benchmark shipped",
    cbam_clinker: "CBAM embedded emissions per tonne of clinker today", cbam_direct: "direct", cbam_indirect: "indirect (electricity)",
    unconfirmed: "unconfirmed", per_t_of: "per t of", co2_s2_location: "Scope 2 today, location-based",
    co2_s2_location_note: "purchased energy × grid average factor", co2_s2_market: "Scope 2 today, market-based",
    co2_s2_market_note: "after green power contracts and certificates", intensity: "Intensity today",
    completeness: "Data completeness today", power_trend: "Site power, last 6 hours", demand_chart: "15-minute demand",
    flow: "Electricity flow today: main meters → feeders → devices", by: "Today by", area: "Area", kind: "Device kind",
    today: "today", month: "this month", top: "Top consumers today", health: "Device health",
    online: "online", stale: "stale", offline: "offline", bad: "bad values", since: "Since", all_fine: "All devices report.",
    updated: "Updated", boundary_note: "CO2 boundaries are shown side by side and never added: location- and market-based scope 2 are two methods for the same energy.",
    co2_loc_short: "CO2 (scope 1 + scope 2 loc.)", demand_kw: "Demand", sliding_kw: "Sliding demand", forecast_kw: "Forecast",
    limit_kw: "Contract limit", prealarm: "Pre-alarm band", site_kw: "Site power", unmetered: "unmetered",
    benchmark_met: "meets", benchmark_above: "above all levels", intervals: "intervals", devices: "devices", never: "never",
    energy_tce: "Energy (kgce)", co2_direct_s2loc: "CO2 scope 1 + scope 2 location (kg)", no_data: "no data yet",
    device_page: "Device", meter: "Meter", live_values: "Live values", last_24h: "Last 24 hours", back: "Control room",
    protocol: "Protocol", profile: "Profile", parent: "Parent", children: "Sub-meters", carrier: "Carrier",
    last_seen: "Last reading", today_device: "Today", amount: "Amount", role: "Role", cost: "Cost",
    advanced: "advanced", new_plant: "new plant", limit_level: "limit", charts_missing: "Charts library not installed: run make setup.",
  },
  zh: {
    title: "集控室", thresholds: "告警阈值", key: "API 密钥", save_key: "使用密钥",
    power: "全厂功率", today_energy: "今日用电", today_co2: "今日碳排放 (范围一+二, 基于位置)", co2_market: "基于市场", today_cost: "今日电费",
    demand: "需量", limit: "限值", forecast: "预测", dr: "需求响应", dr_none: "当前无响应事件",
    dr_active: "进行中的事件", alerts: "当前告警", no_alerts: "当前无告警", ack: "确认",
    rule: "规则", severity: "级别", state: "状态", value: "数值", threshold: "阈值", fired: "触发时间",
    message: "信息", id: "编号", site: "站点", metric: "指标", device: "设备", quantity: "测量量",
    condition: "条件", low: "下限", high: "上限", clear: "恢复值", for_s: "持续 (秒)", name: "名称",
    schedule: "生效时段 (工作时间)", sched_start: "从", sched_end: "至", enabled: "启用",
    save: "保存", new: "新建阈值", edit: "编辑", delete: "删除", saved: "已保存", deleted: "已删除",
    updated: "更新于", lang: "English", need_key: "请输入 API 密钥以查看实时数据。", actions: "",
    firing: "告警中", acknowledged: "已确认", resolved: "已恢复", info: "提示", warning: "警告", critical: "严重",
    theme_toggle: "浅色 / 深色", today_tce: "今日综合能耗", co2_ets: "今日全国碳市场直接排放",
    co2_ets_note: "排放单元燃料燃烧 + 工业生产过程排放，不含外购电力与热力", co2_scope1: "今日范围一",
    co2_scope1_note: "GB/T 32150：排放单元直接排放 + 厂内其他燃料燃烧", no_unit: "无排放单元",
    intensity_direct: "今日吨熟料直接排放", no_benchmark: "未内置行业基准值",
    cbam_clinker: "今日CBAM吨熟料隐含排放", cbam_direct: "直接", cbam_indirect: "间接（电力）",
    unconfirmed: "未核实", per_t_of: "每吨", co2_s2_location: "今日范围二（基于位置）",
    co2_s2_location_note: "外购能源 × 电网平均排放因子", co2_s2_market: "今日范围二（基于市场）",
    co2_s2_market_note: "计入绿电交易与绿证", intensity: "今日单位产品能耗",
    completeness: "今日数据完整率", power_trend: "全厂功率（近 6 小时）", demand_chart: "15 分钟需量",
    flow: "今日电能流向：总表 → 馈线 → 设备", by: "今日分项", area: "区域", kind: "设备类型",
    today: "今日", month: "本月", top: "今日能耗排名", health: "设备状态",
    online: "在线", stale: "数据滞后", offline: "离线", bad: "数据异常", since: "起始时间", all_fine: "所有设备上报正常。",
    updated: "更新于", boundary_note: "各核算边界分列显示、互不相加：范围二基于位置与基于市场是同一能耗的两种核算方法。",
    co2_loc_short: "CO₂（范围一 + 范围二位置法）", demand_kw: "需量", sliding_kw: "滑差需量", forecast_kw: "预测",
    limit_kw: "合同需量", prealarm: "预警区间", site_kw: "全厂功率", unmetered: "未计量",
    benchmark_met: "达到", benchmark_above: "高于全部等级", intervals: "个时段", devices: "台设备", never: "从未",
    energy_tce: "能耗（千克标准煤）", co2_direct_s2loc: "CO₂ 范围一 + 范围二位置法（千克）", no_data: "暂无数据",
    device_page: "设备", meter: "计量表", live_values: "实时数据", last_24h: "近 24 小时", back: "集控室",
    protocol: "协议", profile: "表型", parent: "上级表", children: "下级表", carrier: "能源品种",
    last_seen: "最近读数", today_device: "今日", amount: "用量", role: "角色", cost: "费用",
    advanced: "先进值", new_plant: "准入值", limit_level: "限定值", charts_missing: "图表库未安装：请运行 make setup。",
  },
};

function lang() { return localStorage.getItem("pc.lang") || "en"; }
function t(key) { return (LABELS[lang()] || LABELS.en)[key] ?? key; }
// Units as each language writes them (GB 3102 names in Chinese: 千瓦, 千瓦时, 千克标准煤).
const UNITS = {
  en: { kW: "kW", kWh: "kWh", kgce: "kgce", kgce_t: "kgce/t", tCO2_t: "tCO₂/t", kgCO2: "kg CO₂", CNY: "CNY", t: "t", Nm3: "Nm³", GJ: "GJ", m3: "m³" },
  zh: { kW: "千瓦", kWh: "千瓦时", kgce: "千克标准煤", kgce_t: "千克标准煤/吨", tCO2_t: "吨 CO₂/吨", kgCO2: "千克 CO₂", CNY: "元", t: "吨", Nm3: "标立方米", GJ: "吉焦", m3: "立方米" },
};
function u(key) { return (UNITS[lang()] || UNITS.en)[key] ?? key; }
function locale() { return lang() === "zh" ? "zh-CN" : "en-US"; }
function applyLabels() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  document.querySelectorAll("[data-u]").forEach((el) => { el.textContent = u(el.dataset.u); });
}
function toggleLang() {
  localStorage.setItem("pc.lang", lang() === "en" ? "zh" : "en"); applyLabels();
  if (window.onLangChange) window.onLangChange(); else if (window.refresh) refresh();
}

function apiKey() { return sessionStorage.getItem("pc.key") || ""; }
async function api(path, opts = {}) {
  const headers = { "Authorization": "Bearer " + apiKey(), ...(opts.body ? { "Content-Type": "application/json" } : {}) };
  const r = await fetch(path, { ...opts, headers });
  const text = await r.text();
  const body = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const d = body && body.detail;
    const msg = Array.isArray(d) ? d.map((e) => (e.loc || []).slice(1).join(".") + ": " + e.msg).join("; ") : (d || r.statusText);
    throw new Error(msg);
  }
  return body;
}
function setupKeyForm() {
  const input = document.getElementById("key");
  input.value = apiKey();
  document.getElementById("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault(); sessionStorage.setItem("pc.key", input.value.trim());
    if (window.defaults) defaults();
    if (window.onKey) window.onKey(); else if (window.refresh) refresh();
  });
}
// Numbers in the page's language; Chinese counts large figures in 万 (10⁴), as control rooms there do.
function fmt(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return "–";
  const n = Number(v);
  if (lang() === "zh" && Math.abs(n) >= 1e5) return (n / 1e4).toLocaleString("zh-CN", { maximumFractionDigits: 2 }) + " 万";
  return n.toLocaleString(locale(), { maximumFractionDigits: digits });
}
function fmtTime(iso) { return iso ? new Date(iso).toLocaleString(locale(), { hour12: false }) : t("never"); }
