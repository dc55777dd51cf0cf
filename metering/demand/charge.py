"""The demand (basic) charge of China's two-part tariff when billed by maximum demand.

Rules, from 国家发展改革委办公厅《关于完善两部制电价用户基本电价执行方式的通知》
(发改办价格〔2016〕1583号), kept by 《关于第三监管周期省级电网输配电价及有关事项的通知》
(发改价格〔2023〕526号):
- billed by contract maximum demand (按合同最大需量): when the month's actual maximum demand
  does not exceed 105 % of the contract value, the contract value is billed; above 105 %, the
  part above 105 % is billed at double the demand price (超过105%部分的基本电费加一倍收取);
- the contract value may not be declared below 40 % of the total capacity of the user's
  transformers and high-voltage motors: below that, 40 % of that capacity is the contract
  value (低于变压器容量和高压电动机容量总和的40%时，按容量总和的40%核定);
- billed by actual maximum demand (按实际最大需量): the month's maximum demand is billed.
The 40 % floor applies to the declared contract value; kVA of capacity counts as kW, as the
rule does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

ChargeMode = Literal["contract", "actual"]


@dataclass(frozen=True, slots=True)
class DemandCharge:
    mode: ChargeMode
    max_demand_kw: float
    contract_kw: float | None  # declared contract value
    effective_contract_kw: float | None  # after the 40 % floor
    threshold_kw: float | None  # 105 % of the effective contract value
    normal_kw: float  # kW billed at the demand price
    over_kw: float  # kW billed at double the demand price
    price_kw_month: float
    charge: float
    floor_applied: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def demand_charge(
    max_demand_kw: float,
    price_kw_month: float,
    *,
    mode: ChargeMode = "contract",
    contract_kw: float | None = None,
    capacity_kva: float | None = None,
    threshold: float = 1.05,
    over_multiplier: float = 2.0,
    floor_ratio: float = 0.40,
) -> DemandCharge:
    """The month's demand charge; see the module docstring for the rule and its source."""
    if max_demand_kw < 0 or price_kw_month < 0:
        raise ValueError("max demand and price must be >= 0")
    if mode == "actual":
        return DemandCharge(
            mode,
            max_demand_kw,
            None,
            None,
            None,
            max_demand_kw,
            0.0,
            price_kw_month,
            max_demand_kw * price_kw_month,
            False,
        )
    if contract_kw is None or contract_kw <= 0:
        raise ValueError("billing by contract maximum demand needs a contract value > 0")
    effective = contract_kw
    floor_applied = False
    if capacity_kva is not None and contract_kw < floor_ratio * capacity_kva:
        effective = floor_ratio * capacity_kva
        floor_applied = True
    limit = threshold * effective
    if max_demand_kw <= limit:
        normal, over = effective, 0.0
    else:
        normal, over = limit, max_demand_kw - limit
    charge = normal * price_kw_month + over * price_kw_month * over_multiplier
    return DemandCharge(
        mode, max_demand_kw, contract_kw, effective, limit, normal, over, price_kw_month, charge, floor_applied
    )
