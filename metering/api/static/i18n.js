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
  },
};

function lang() { return localStorage.getItem("pc.lang") || "en"; }
function t(key) { return (LABELS[lang()] || LABELS.en)[key] ?? key; }
function applyLabels() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
}
function toggleLang() { localStorage.setItem("pc.lang", lang() === "en" ? "zh" : "en"); applyLabels(); if (window.refresh) refresh(); }

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
    if (window.refresh) refresh();
  });
}
function fmt(v, digits = 1) { return v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits }); }
