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
    more_area: "{n} more areas", more_kind: "{n} more kinds",
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
    lab_page: "Lab values", month_page: "The month", lab_enter: "Enter a value", sample_id: "Sample", material: "Material",
    parameter: "Parameter", unit_col: "Unit", period_start: "From", period_end: "To (included)", standard: "Standard", lab: "Laboratory",
    lab_upload: "Upload a lab file", lab_upload_note: "CSV or XLSX, at most 2 MiB, the columns of docs/direct-emissions.md §3; merged with the stored book, used whole or not at all.",
    upload: "Upload", lab_current: "Current values", filter_hint: "filter: sample, material, parameter", period: "Period", version: "Version",
    entered_by: "Entered by", reason: "Reason", correct: "Correct", correct_title: "Correct a lab value (a new version)", cancel: "Cancel",
    corrected: "corrected", correct_done: "Corrected", every_version: "every version", deadlines_title: "Deadlines of the year", due: "Due", days_left: "Days left", overdue: "overdue", not_reviewed: "not reviewed yet", blocking_items: "What blocks it", stocks_title: "Stock balances", stocks_note: "CSV or XLSX: material, month, opening_t, receipts_t, closing_t, reference, entered_by; a material and month given again replaces the stored one.",
    opening_t: "Opening (t)", receipts_t: "Receipts (t)", closing_t: "Closing (t)", consumed_t: "Consumed (t)", reference: "Stock-take", stock_rows: "balances stored", stock_warnings: "To explain:", reason_needed: "Say why the value changes (at least 3 characters).", refused: "Refused", nothing_new: "nothing new",
    choose_file: "Choose a CSV or XLSX file first.", added: "added", unchanged: "already stored",
    needs_role: "needs role", role_viewer: "viewer", role_operator: "operator", role_energy_manager: "energy manager", role_admin: "admin", role_auditor: "auditor",
    emission_unit: "Emission unit", month_col: "Month", show: "Show", workflow: "Review, approve, revise, file", do_review: "Review",
    do_approve: "Approve and lock", revise_hint: "reason for a new revision", do_revise: "Revise", file_hint: "filing reference", do_file: "Mark filed",
    downloads: "Downloads", dl_workbook: "Filing workbook (XLSX)", dl_annual: "Annual report (JSON)", dl_cbam: "CBAM communication, this month (XLSX)", figures_title: "Figures: locked revisions and the month as computed now",
    item: "Item", diff_title: "What changed between revisions", revision: "Revision", kind_col: "Kind", before: "Before", after: "After",
    review_title: "Completeness review", status_col: "Status", basis: "Basis", days_measured: "Days measured", missing: "Missing days",
    filled_by: "Filled by / default", computing: "computing the month…", state_open: "open", state_in_review: "in review",
    state_approved: "approved", state_filed: "filed", locked: "Locked", current: "Computed now", by_at: "By, at",
    fig_clinker_t: "Clinker (t)", fig_fuel_co2_t: "Fuel CO2 (t)", fig_process_clinker_co2_t: "Process CO2, clinker (t)",
    fig_process_dust_co2_t: "Process CO2, dust (t)", fig_process_toc_co2_t: "Process CO2, raw meal organic carbon (t)",
    fig_process_co2_t: "Process CO2 (t)", fig_direct_co2_t: "Direct CO2, national carbon market (t)", fig_biogenic_co2_t: "Biogenic CO2, memo only (t)",
    fig_intensity_tco2_per_t: "Intensity (tCO2/t clinker)", not_locked: "Not locked yet.", recompute_differs: "The month computed now differs from locked revision",
    recompute_same: "The month computed now equals locked revision", kind_figure: "figure", kind_parameter: "parameter", kind_input: "input",
    st_ok: "complete", st_default: "default", st_filled: "gap filled", st_blocking: "blocking", basis_measured: "measured", basis_stock: "stock balance",
    basis_default: "default", basis_mixed: "mixed", basis_filled: "filled", basis_missing: "missing", days: "days", all_days: "every day", default_value: "default",
    done_review: "In review.", done_approve: "Approved and locked.", done_revise: "New revision locked.", done_file: "Marked filed.",
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
    more_area: "其余 {n} 个区域", more_kind: "其余 {n} 类设备",
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
    lab_page: "化验数据", month_page: "月度核算", lab_enter: "录入化验值", sample_id: "样品编号", material: "物料",
    parameter: "参数", unit_col: "单位", period_start: "起始日", period_end: "截止日（含）", standard: "检测标准", lab: "化验室",
    lab_upload: "上传化验文件", lab_upload_note: "CSV 或 XLSX，不超过 2 MiB，列见 docs/direct-emissions.md 第 3 节；与已存数据合并，整份采用或整份拒绝。",
    upload: "上传", lab_current: "当前值", filter_hint: "筛选：样品、物料、参数", period: "代表时段", version: "版本",
    entered_by: "录入人", reason: "原因", correct: "更正", correct_title: "更正化验值（生成新版本）", cancel: "取消",
    corrected: "已更正", correct_done: "更正完成", every_version: "显示全部版本", deadlines_title: "全年报送期限", due: "截止日期", days_left: "剩余天数", overdue: "已逾期", not_reviewed: "尚未审核", blocking_items: "阻断事项", stocks_title: "库存盘点", stocks_note: "CSV 或 XLSX：material、month、opening_t、receipts_t、closing_t、reference、entered_by；同一物料同一月份再次上传即替换已存记录。",
    opening_t: "期初库存（吨）", receipts_t: "本期购入（吨）", closing_t: "期末库存（吨）", consumed_t: "消耗量（吨）", reference: "盘点单号", stock_rows: "条库存记录已保存", stock_warnings: "需说明：", reason_needed: "请说明更正原因（至少 3 个字符）。", refused: "被拒绝", nothing_new: "无新增",
    choose_file: "请先选择 CSV 或 XLSX 文件。", added: "条新增", unchanged: "条已存在",
    needs_role: "需要角色", role_viewer: "查看者", role_operator: "操作员", role_energy_manager: "能源管理员", role_admin: "管理员", role_auditor: "审计员",
    emission_unit: "排放单元", month_col: "月份", show: "显示", workflow: "审核、批准、修订、报送", do_review: "提交审核",
    do_approve: "批准并锁定", revise_hint: "新修订版的原因", do_revise: "修订", file_hint: "报送回执编号", do_file: "标记已报送",
    downloads: "下载", dl_workbook: "月度存证表（XLSX）", dl_annual: "年度排放报告（JSON）", dl_cbam: "CBAM 排放数据通报（本月，XLSX）", figures_title: "核算结果：已锁定版本与当前重算",
    item: "项目", diff_title: "版本间差异", revision: "版本", kind_col: "类别", before: "修改前", after: "修改后",
    review_title: "完整性审核", status_col: "状态", basis: "数据来源", days_measured: "实测天数", missing: "缺失日期",
    filled_by: "补齐规则 / 缺省值", computing: "正在核算本月…", state_open: "未审核", state_in_review: "审核中",
    state_approved: "已批准", state_filed: "已报送", locked: "已锁定", current: "当前重算", by_at: "操作人、时间",
    fig_clinker_t: "熟料产量（吨）", fig_fuel_co2_t: "燃料燃烧排放（吨 CO₂）", fig_process_clinker_co2_t: "过程排放：熟料（吨 CO₂）",
    fig_process_dust_co2_t: "过程排放：窑头粉尘与旁路放风粉尘（吨 CO₂）", fig_process_toc_co2_t: "过程排放：生料有机碳（吨 CO₂）",
    fig_process_co2_t: "工业生产过程排放（吨 CO₂）", fig_direct_co2_t: "全国碳市场直接排放（吨 CO₂）", fig_biogenic_co2_t: "生物质 CO₂（仅报告，吨）",
    fig_intensity_tco2_per_t: "排放强度（吨 CO₂/吨熟料）", not_locked: "尚未锁定。", recompute_differs: "当前重算结果不同于已锁定版本",
    recompute_same: "当前重算结果与已锁定版本一致：版本", kind_figure: "结果", kind_parameter: "参数", kind_input: "输入",
    st_ok: "完整", st_default: "缺省值", st_filled: "已补齐", st_blocking: "阻断", basis_measured: "实测", basis_stock: "库存盘点",
    basis_default: "缺省值", basis_mixed: "混合", basis_filled: "补齐", basis_missing: "缺失", days: "天", all_days: "全月", default_value: "缺省值",
    done_review: "已提交审核。", done_approve: "已批准并锁定。", done_revise: "新修订版已锁定。", done_file: "已标记报送。",
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
// The device register's page (register.html): its own block so the control room's labels stay apart.
Object.assign(LABELS.en, {
  reg_title: "Device register", reg_as_of: "Calibration state as of", reg_gb_note: "GB 17167-2006 table 3 (unconfirmed: see docs/register.md)",
  reg_instrument: "Instrument", reg_model: "Model", reg_serial: "Serial", reg_class: "Accuracy class", reg_due: "Calibration due",
  reg_last_cal: "Last calibration", reg_interval: "Interval (months)", reg_certificate: "Certificate", reg_owner: "Owner",
  reg_missing: "Missing", reg_plan: "Data-quality control plan", reg_unit: "Emission unit", reg_parameter: "Parameter",
  reg_sources: "Source", reg_frequency: "Frequency", reg_missing_rule: "Missing-data rule", reg_pick: "Pick an instrument to edit (Edit).",
  reg_electricity_meter: "electricity meter", reg_gas_flow: "gas flow meter", reg_steam_flow: "steam meter", reg_oil_flow: "oil flow meter",
  reg_water_flow: "water meter", reg_weigher: "weigher", reg_lab_method: "lab method",
  reg_v_meets: "meets", reg_v_below: "below", reg_v_unknown_class: "class missing", reg_v_no_requirement: "no requirement",
  reg_s_ok: "ok", reg_s_due: "due soon", reg_s_lapsed: "lapsed", reg_s_unknown: "unknown",
  reg_f_model: "model", reg_f_serial: "serial", reg_f_accuracy_class: "class", reg_f_last_calibration: "last calibration",
  reg_f_calibration_due: "due date", reg_f_certificate: "certificate", reg_f_owner: "owner",
});
Object.assign(LABELS.zh, {
  reg_title: "计量器具台账", reg_as_of: "检定状态截至", reg_gb_note: "GB 17167-2006 表3（未核实：见 docs/register.md）",
  reg_instrument: "器具类别", reg_model: "型号", reg_serial: "出厂编号", reg_class: "准确度等级", reg_due: "检定有效期至",
  reg_last_cal: "上次检定/校准", reg_interval: "检定周期（月）", reg_certificate: "证书编号", reg_owner: "责任人",
  reg_missing: "待补信息", reg_plan: "数据质量控制计划", reg_unit: "排放单元", reg_parameter: "参数",
  reg_sources: "数据来源", reg_frequency: "监测频次", reg_missing_rule: "数据缺失处理", reg_pick: "请先选择要编辑的器具（编辑）。",
  reg_electricity_meter: "电能表", reg_gas_flow: "气体流量计", reg_steam_flow: "蒸汽流量计", reg_oil_flow: "油流量计",
  reg_water_flow: "水表", reg_weigher: "衡器", reg_lab_method: "化验方法",
  reg_v_meets: "符合", reg_v_below: "低于要求", reg_v_unknown_class: "等级未填", reg_v_no_requirement: "无要求",
  reg_s_ok: "有效", reg_s_due: "即将到期", reg_s_lapsed: "已过期", reg_s_unknown: "未知",
  reg_f_model: "型号", reg_f_serial: "编号", reg_f_accuracy_class: "等级", reg_f_last_calibration: "检定日期",
  reg_f_calibration_due: "有效期", reg_f_certificate: "证书", reg_f_owner: "责任人",
});
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
