"""Dashboard, panel and variable titles in English and Simplified Chinese.

One row per text: key → (English, 简体中文). A missing key is a programming error and raises
`KeyError` at build time, never an empty title in Grafana.
"""

from __future__ import annotations

from typing import Literal

from plantcarbon_core.kinds import kinds

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

TEXTS: dict[str, tuple[str, str]] = {
    # Dashboards.
    "dash.overview": ("Plant overview", "工厂总览"),
    "dash.equipment": ("Equipment", "设备"),
    "dash.carbon": ("Carbon accounting", "碳核算"),
    "dash.demand": ("Demand and demand response", "需量与需求响应"),
    "dash.quality": ("Data quality", "数据质量"),
    "dash.alerts": ("Alerts", "告警"),
    # Device kinds, for the equipment dashboards' titles: their labels are the kind table's.
    **{f"kind.{k.id}": (k.en, k.zh) for k in kinds().values()},
    # Variables.
    "var.site": ("Site", "厂区"),
    "var.area": ("Area", "区域"),
    "var.device": ("Device", "设备"),
    "var.event": ("DR event", "需求响应事件"),
    "var.rule": ("Rule", "规则"),
    # Annotation.
    "anno.alerts": ("Alerts", "告警"),
    # Rows.
    "row.now": ("Now", "实时"),
    "row.today": ("Today", "今日"),
    "row.load": ("Load", "负荷"),
    "row.electrical": ("Electrical", "电气参数"),
    "row.process": ("Process", "工艺参数"),
    "row.energy": ("Energy", "能耗"),
    "row.scope": ("Scope 1 and 2", "范围一与范围二"),
    "row.breakdown": ("Breakdown", "构成"),
    "row.demand": ("Demand", "需量"),
    "row.tou": ("Time of use", "分时电价"),
    "row.dr": ("Demand response", "需求响应"),
    "row.completeness": ("Completeness", "数据完整率"),
    "row.status": ("Device status", "设备状态"),
    "row.errors": ("Sequence gaps and dead letters", "序号缺失与死信"),
    # Overview panels.
    "p.site_power": ("Site power", "全厂功率"),
    "p.site_power_trend": ("Site power (main meters)", "全厂功率（总表）"),
    "p.energy_today": ("Electricity today", "今日用电量"),
    "p.tce_today": ("Energy today (tce)", "今日综合能耗（吨标煤）"),
    "p.co2_today": ("CO2 today (location-based)", "今日CO2排放（基于位置）"),
    "p.cost_today": ("Energy cost today", "今日能源费用"),
    "p.intensity_today": ("Carbon intensity today", "今日碳排放强度"),
    "p.demand_vs_limit": ("15-minute demand against the contract limit", "15分钟需量与合同需量"),
    "p.demand_now": ("Demand now", "当前需量"),
    "p.top_consumers": ("Top consumers today (tce)", "今日能耗排名（吨标煤）"),
    "p.devices_offline": ("Devices offline", "离线设备数"),
    # Equipment panels.
    "p.load_factor": ("Load factor", "负载率"),
    "p.power": ("Active power", "有功功率"),
    "p.reactive": ("Reactive power", "无功功率"),
    "p.apparent": ("Apparent power", "视在功率"),
    "p.pf": ("Power factor", "功率因数"),
    "p.voltage": ("Phase voltage", "相电压"),
    "p.voltage_ll": ("Line voltage", "线电压"),
    "p.current": ("Phase current", "相电流"),
    "p.frequency": ("Frequency", "频率"),
    "p.thd": ("Harmonic distortion", "谐波畸变率"),
    "p.flow": ("Flow", "流量"),
    "p.mass_flow": ("Mass flow", "质量流量"),
    "p.heat_rate": ("Heat flow", "热流量"),
    "p.temperature": ("Temperature", "温度"),
    "p.pressure": ("Pressure", "压力"),
    "p.running": ("Running", "运行状态"),
    "p.load_pct": ("Load", "负载"),
    "p.rate": ("Production rate", "产量速率"),
    "p.device_energy": ("Energy per day", "日能耗"),
    # Carbon panels.
    "p.scope1": ("Scope 1", "范围一"),
    "p.scope2_location": ("Scope 2, location-based", "范围二（基于位置）"),
    "p.scope2_market": ("Scope 2, market-based", "范围二（基于市场）"),
    "p.total_location": ("Scope 1 + 2, location-based", "范围一+二（基于位置）"),
    "p.total_market": ("Scope 1 + 2, market-based", "范围一+二（基于市场）"),
    "p.location_vs_market": ("Scope 2: location- against market-based, per day", "范围二：基于位置与基于市场（日）"),
    "p.by_carrier": ("CO2 by energy carrier", "按能源品种的CO2"),
    "p.by_area": ("CO2 by area", "按区域的CO2"),
    "p.monthly": ("Monthly trend (t CO2)", "月度趋势（吨CO2）"),
    "p.factors": ("Emission factors used", "所用排放因子"),
    # Demand panels.
    "p.month_max_demand": ("Maximum demand this month", "本月最大需量"),
    "p.tou_energy": ("Electricity by time-of-use band", "分时段用电量"),
    "p.tou_cost": ("Cost by time-of-use band", "分时段电费"),
    "p.dr_baseline": ("DR event: baseline against actual", "需求响应：基线与实际"),
    "p.dr_reduction": ("DR reduction (mean)", "需求响应平均削减量"),
    # Quality panels.
    "p.completeness": ("Completeness by device", "各设备数据完整率"),
    "p.completeness_trend": ("Completeness per 15 minutes", "15分钟数据完整率"),
    "p.status_table": ("Last status per device", "各设备最新状态"),
    "p.online": ("Online", "在线状态"),
    "p.seq_gaps": ("Sequence gaps and duplicates", "序号缺失与重复"),
    "p.dead_letters": ("Dead letters by reason", "死信（按原因）"),
    # Alert panels.
    "p.alerts_active": ("Alert rules: last state", "告警规则：最新状态"),
    "p.alerts_by_severity": ("Alerts fired by severity", "按严重程度的告警次数"),
    "p.alert_value": ("Value against threshold", "数值与阈值"),
    "p.alert_history": ("Alert history", "告警历史"),
    # Series and values.
    "s.demand": ("demand (15-min block)", "需量（15分钟固定窗）"),
    "s.sliding": ("demand (15-min sliding)", "需量（15分钟滑动窗）"),
    "s.forecast": ("forecast", "预测"),
    "s.limit": ("limit", "限值"),
    "s.baseline": ("baseline", "基线"),
    "s.actual": ("actual", "实际"),
    "s.online": ("online", "在线"),
    "s.since": ("since", "变化时间"),
    "s.offline": ("offline", "离线"),
    "s.running": ("running", "运行"),
    "s.stopped": ("stopped", "停机"),
    "s.firing": ("firing", "告警中"),
    "s.acknowledged": ("acknowledged", "已确认"),
    "s.resolved": ("resolved", "已恢复"),
}


def text(key: str, lang: Lang) -> str:
    en, zh = TEXTS[key]
    return zh if lang == "zh" else en
