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
    "row.direct": (
        "Direct emissions per emission unit (national carbon market)",
        "各排放单元直接排放（全国碳市场）",
    ),
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
    "p.co2_today": ("CO2 today, scope 1 + 2 location-based", "今日CO2排放（范围一+二，基于位置）"),
    "p.scope2_today": ("Scope 2 today, location-based", "今日范围二排放（基于位置）"),
    "p.ets_month": (
        "Direct CO2 this month, national carbon market (closed days)",
        "本月直接排放CO2（全国碳市场，已结束日）",
    ),
    "p.clinker_intensity_month": (
        "Clinker intensity this month, national carbon market (closed days)",
        "本月熟料碳排放强度（全国碳市场，已结束日）",
    ),
    "p.cost_today": ("Energy cost today", "今日能源费用"),
    "p.intensity_today": (
        "Carbon intensity today, scope 1 + 2 location-based (t CO2 / tce)",
        "今日碳排放强度（范围一+二，基于位置，吨CO2/吨标煤）",
    ),
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
    "p.by_carrier": ("CO2 by energy carrier, scope 1 + 2 location-based", "按能源品种的CO2（范围一+二，基于位置）"),
    "p.by_area": ("CO2 by area, scope 1 + 2 location-based", "按区域的CO2（范围一+二，基于位置）"),
    "p.monthly": ("Monthly trend, scope 1 + 2 location-based (t CO2)", "月度趋势（范围一+二，基于位置，吨CO2）"),
    "p.by_source": (
        "CO2 by carrier and direct source, scope 1 + 2 location-based",
        "按能源品种与直接排放源的CO2（范围一+二，基于位置）",
    ),
    "p.by_area_units": (
        "CO2 by area and emission unit, scope 1 + 2 location-based",
        "按区域与排放单元的CO2（范围一+二，基于位置）",
    ),
    "p.factors": ("Emission factors used", "所用排放因子"),
    # Carbon panels of plants with emission units (docs/direct-emissions.md §5: three boundaries, never added).
    "p.ets_direct": (
        "Direct CO2 per emission unit, national carbon market (fuel + process)",
        "各排放单元直接排放CO2（全国碳市场，燃料+过程）",
    ),
    "p.scope1_inventory": (
        "Scope 1, GB/T 32150 (units' direct + other fuels)",
        "范围一（GB/T 32150，排放单元直接排放+其他燃料）",
    ),
    "p.clinker_intensity": (
        "Clinker intensity, national carbon market (t CO2 / t clinker)",
        "熟料碳排放强度（全国碳市场，吨CO2/吨熟料）",
    ),
    "p.intensity_daily": (
        "Clinker intensity per day, national carbon market, against the benchmark",
        "每日熟料碳排放强度（全国碳市场）与基准值",
    ),
    "p.direct_daily": (
        "Direct CO2 per day and emission unit, national carbon market",
        "各排放单元每日直接排放CO2（全国碳市场）",
    ),
    "p.direct_by_source": (
        "Direct CO2 by source and material, national carbon market (biogenic: memo item, not counted)",
        "按排放源与物料的直接排放（全国碳市场；生物质CO2仅作备注，不计入）",
    ),
    "row.cbam": (
        "CBAM specific embedded emissions (direct and indirect; clinker is cement's precursor)",
        "CBAM单位产品隐含排放（直接与间接；熟料为水泥的前体）",
    ),
    "p.cbam_clinker": (
        "CBAM embedded emissions, clinker (t CO2 / t clinker)",
        "CBAM隐含排放：熟料（吨CO2/吨熟料）",
    ),
    "p.cbam_cement": (
        "CBAM embedded emissions, cement with clinker as precursor (t CO2 / t cement)",
        "CBAM隐含排放：水泥（含前体熟料，吨CO2/吨水泥）",
    ),
    "p.cbam_activity": (
        "CBAM activity: production, electricity per tonne, clinker share of cement",
        "CBAM活动数据：产量、吨产品电耗、水泥中熟料占比",
    ),
    "d.cbam_clinker": (
        "Direct: the units' direct CO2 (fuel + process) per tonne of clinker. Indirect: the kiln line's "
        "electricity × its location-based factor per tonne. Sums of the stored days (measurement cbam) "
        "over the range: a ratio of sums.",
        "直接：排放单元直接排放（燃料+过程）/熟料产量。间接：熟料线用电量×基于位置的电网因子/熟料产量。"
        "按所选时间范围对日数据（cbam测量）求和后相除。",
    ),
    "d.cbam_cement": (
        "Cement's own emissions (its mill's electricity; no direct emissions of its own) plus the clinker it "
        "contains at the clinker's figures over the same range (clinker share × clinker per tonne). With "
        "several clinker lines, the site's clinker is the precursor.",
        "水泥自身排放（粉磨用电；无自身直接排放）加所含熟料按同一时间范围熟料单位排放计（熟料占比×熟料单位排放）。"
        "多条熟料线时，以全厂熟料为前体。",
    ),
    "d.benchmark": ("Benchmark {value} t CO2 / t clinker: {source}", "基准值 {value} 吨CO2/吨熟料：{source}"),
    "d.unconfirmed": (" [unconfirmed]", "［未经核实］"),
    "d.ets_closed_days": (
        "The units' direct CO2 is computed for a local day once it has closed (the direct-emissions "
        "service): this month's closed days, not today.",
        "排放单元直接排放在本地日结束后计算（直接排放服务）：本月已结束日，不含今日。",
    ),
    "d.no_benchmark": (
        "No benchmark: the sector method publishes none (benchmark: null in its method file).",
        "无基准值：行业核算方法文件未给出（benchmark: null）。",
    ),
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
    # Sources of the `direct` measurement (metering/direct/influx.py).
    "s.src.fuel": ("fuel combustion", "燃料燃烧"),
    "s.src.biogenic": ("biogenic CO2 (memo, not counted)", "生物质CO2（备注，不计入）"),
    "s.src.process_clinker": ("process: clinker", "过程：熟料"),
    "s.src.process_dust": ("process: kiln-head and bypass dust", "过程：窑头粉尘与旁路放风粉尘"),
    "s.src.process_toc": ("process: raw meal non-fuel carbon", "过程：生料中非燃料碳"),
}


def text(key: str, lang: Lang) -> str:
    en, zh = TEXTS[key]
    return zh if lang == "zh" else en
