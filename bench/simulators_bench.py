"""Bench: simulated Modbus meter requests per second, per core of the simulator process.

Starts a scenario's SimulatedPlant in this process (servers + register updater, faults off),
then hammers it from client processes (pymodbus sync clients, each reading one register block
of a random meter per request) for a fixed time. Prints requests/s and requests per CPU-second
of the simulator process (its CPU time, measured with time.process_time, excludes the clients).

    .venv/bin/python bench/simulators_bench.py --scenario cement --seconds 20 --clients 4
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType

from plantcarbon_core.profile import load_profile
from simulators.plant import SimulatedPlant
from simulators.scenario import load_scenario


def _client(targets: list[tuple[str, int, int, str, str, int, int]], seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    rnd = random.Random()
    clients: dict[int, ModbusTcpClient] = {}
    ok = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        host, port, unit, framer, table, address, count = rnd.choice(targets)
        c = clients.get(port)
        if c is None:
            c = ModbusTcpClient(host, port=port, framer=FramerType.SOCKET if framer == "socket" else FramerType.RTU)
            c.connect()
            clients[port] = c
        try:
            if table == "input":
                rr = c.read_input_registers(address, count=count, device_id=unit)
            else:
                rr = c.read_holding_registers(address, count=count, device_id=unit)
            if rr.isError():
                errors += 1
            else:
                ok += 1
        except Exception:
            errors += 1
    for c in clients.values():
        c.close()
    out.put((ok, errors))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="cement")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    sc = load_scenario(args.scenario).model_copy(update={"faults": [], "random_faults": None})
    sim = SimulatedPlant(sc, seed=1).start()
    targets = []
    for d in sc.metered:
        ep = sim.endpoints[d.id]
        if ep.protocol != "modbus" or d.meter is None or d.meter.profile is None:
            continue
        prof = load_profile(d.meter.profile)
        for r in prof.registers:
            if r.quantity:
                targets.append((ep.host, ep.port, ep.unit, ep.framer, prof.table_of(r), r.address, r.words))
    n_meters = len({(t[1], t[2]) for t in targets})
    time.sleep(1.0)
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_client, args=(targets, args.seconds, q)) for _ in range(args.clients)]
    req0, upd0 = sum(s.requests for s in sim.servers.values()), sim.updates
    cpu0, wall0 = time.process_time(), time.monotonic()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    served = sum(s.requests for s in sim.servers.values()) - req0
    updates = sim.updates - upd0
    sim.stop()
    ok, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    print(
        f"scenario {args.scenario}: {n_meters} Modbus meters on {len(sim.servers)} ports, "
        f"{args.clients} client processes"
    )
    print(
        f"requests served: {served} in {wall:.1f} s wall = {served / wall:,.0f} req/s (client ok {ok}, errors {errors})"
    )
    print(f"simulator process CPU: {cpu:.1f} s ({cpu / wall:.2f} cores busy), incl. {updates} image updates")
    print(f"requests per simulator CPU-second (per core): {served / cpu:,.0f} req/s/core")


if __name__ == "__main__":
    main()
