"""Several DistDGL "machines" on one Linux host, for tests and benchmarks (needs root).

Each machine is a network namespace of its own (``ip netns add``), joined to the others by a
veth pair through a bridge in a hub namespace, with its own address, loopback and a private
``/dev/shm`` (``unshare -m`` + a tmpfs). DGL's machine lookup (the first ``ip_config`` line
whose address is local) and its shared-memory names then work unchanged, as on real machines;
only addresses inside these namespaces are used.

:func:`launch_commands` writes the commands DGL's ``tools/launch.py`` (v1.1.3) would run on
each machine over ssh (the same ``DGL_*`` variables, trainers under
``python -m torch.distributed.launch``); :class:`Cluster` runs them in the namespaces instead of
over ssh, and samples each machine's memory (the summed PSS of its processes).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from pathlib import Path

SUBNET = "10.231.0"
# tools/launch.py (v1.1.3) python_bin_allowlist, in its order
PYTHON_BINS = (
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3",
    "python2.7",
    "python2",
)


def launch_commands(
    hosts: list[str],
    part_config,
    ip_config,
    udf_command: str,
    num_trainers: int = 1,
    num_servers: int = 1,
    master_port: int = 1234,
    graph_format: str = "csc",
    omp_threads: int | None = None,
) -> list[list[str]]:
    """For each machine, the shell commands DGL's launcher runs there: ``num_servers`` servers
    (one OMP thread each, launch.py's default), then the trainers, ``udf_command`` wrapped in
    ``torch.distributed.launch`` as launch.py wraps it (where it names python; else as it is);
    launch.py passes the caller's ``OMP_NUM_THREADS`` on to the trainers: ``omp_threads``."""
    num_clients = num_trainers * len(hosts)
    common = (
        f"DGL_NUM_SERVER={num_servers} DGL_NUM_CLIENT={num_clients} "
        f"DGL_CONF_PATH={shlex.quote(str(part_config))} "
        f"DGL_IP_CONFIG={shlex.quote(str(ip_config))} DGL_NUM_SAMPLER=0 "
        f"DGL_GRAPH_FORMAT={graph_format} "
        f"DGL_KEEP_ALIVE=0"
    )
    machines = []
    for node_rank in range(len(hosts)):
        cmds = []
        for s in range(num_servers):
            sid = node_rank * num_servers + s
            cmds.append(
                f"DGL_ROLE=server OMP_NUM_THREADS=1 DGL_SERVER_ID={sid} {common} {udf_command}"
            )
        torch_cmd = (
            f"-m torch.distributed.launch --nproc_per_node={num_trainers} --nnodes={len(hosts)} "
            f"--node_rank={node_rank} --master_addr={hosts[0]} --master_port={master_port}"
        )
        # launch.py's own substitution: the first name of its list found in the command, else
        # "python", replaced wherever it occurs; a command without it (`genurl embed-dist`) runs
        # as it is, one trainer per machine with no torch.distributed.launch process beside it
        py = next((b for b in PYTHON_BINS if b in udf_command), "python")
        trainer = udf_command.replace(py, f"{py} {torch_cmd}")
        omp = f"OMP_NUM_THREADS={omp_threads} " if omp_threads else ""
        cmds.append(
            f"DGL_DIST_MODE=distributed DGL_ROLE=client DGL_GROUP_ID=0 {omp}{common} {trainer}"
        )
        machines.append(cmds)
    return machines


def _ip(*args, ns: str | None = None) -> None:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip", *args]
    subprocess.run(cmd, check=True, capture_output=True)


class Cluster:
    """``machines`` emulated machines (network namespaces): ``hosts`` are their addresses.
    Use as a context manager; the namespaces are deleted on exit."""

    def __init__(self, machines: int = 2, tag: str | None = None):
        if os.geteuid() != 0:
            raise PermissionError("emulating machines needs root (ip netns, unshare -m)")
        self.tag = tag or f"gd{os.getpid() % 100000}"
        self.hub = f"{self.tag}h"
        self.names = [f"{self.tag}m{i}" for i in range(machines)]
        self.hosts = [f"{SUBNET}.{i + 1}" for i in range(machines)]
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        try:
            _ip("netns", "add", self.hub)
            _ip("link", "add", "br0", "type", "bridge", ns=self.hub)
            _ip("link", "set", "br0", "up", ns=self.hub)
            for i, (ns, host) in enumerate(zip(self.names, self.hosts)):
                _ip("netns", "add", ns)
                a, b = f"{self.tag}v{i}", f"{self.tag}b{i}"
                _ip("link", "add", a, "type", "veth", "peer", "name", b)
                _ip("link", "set", a, "netns", ns)
                _ip("link", "set", b, "netns", self.hub)
                _ip("link", "set", b, "master", "br0", ns=self.hub)
                _ip("link", "set", b, "up", ns=self.hub)
                _ip("addr", "add", f"{host}/24", "dev", a, ns=ns)
                _ip("link", "set", a, "up", ns=ns)
                _ip("link", "set", "lo", "up", ns=ns)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for ns in self.names:
            self.kill(ns)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for ns in self.names + [self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def pids(self, ns: str) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def kill(self, ns: str) -> None:
        """End the processes this cluster started in machine ``ns``, one by one by id."""
        for pid in self.pids(ns):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    def write_ip_config(self, path, port: int = 30050) -> Path:
        path = Path(path)
        path.write_text("".join(f"{h} {port}\n" for h in self.hosts))
        return path

    def start(
        self, machine: int, commands: list[str], cwd, log, env: dict | None = None
    ) -> subprocess.Popen:
        """Run ``commands`` (each in the background, as launch.py's ssh sessions) in machine
        ``machine``, under a private /dev/shm; returns the machine's shell."""
        # the machine's own environment: gloo binds to its interface (its hostname is not in DNS)
        script = (
            f"export GLOO_SOCKET_IFNAME={self.tag}v{machine}; mount -t tmpfs -o mode=1777 tmpfs "
            f"/dev/shm && "
            + " ".join(f"( {c} ) & p{i}=$!;" for i, c in enumerate(commands))
            + " rc=0; "
            + " ".join(f"wait $p{i} || rc=$?;" for i in range(len(commands)))
            + " exit $rc"
        )
        full = {**os.environ, **(env or {})}
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.names[machine],
                "unshare",
                "-m",
                "sh",
                "-c",
                f"cd {shlex.quote(str(cwd))} && {script}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full,
        )
        self.procs.append(proc)
        return proc

    def run(
        self,
        machines: list[list[str]],
        cwd,
        logs: list,
        timeout: float,
        env: dict | None = None,
        sample: float = 0.1,
    ) -> dict:
        """Start every machine's commands, wait for all (or ``timeout`` s: then kill them and
        raise TimeoutError); returns wall seconds, each machine's exit status and peak memory."""
        sampler = MemorySampler(
            [lambda ns=ns: self.pids(ns) for ns in self.names], sample, roles=True
        )
        start = time.time()
        sampler.start()
        procs = [self.start(i, cmds, cwd, logs[i], env) for i, cmds in enumerate(machines)]
        try:
            while any(p.poll() is None for p in procs):
                if time.time() - start > timeout:
                    raise TimeoutError(f"the emulated machines did not finish in {timeout:.0f} s")
                if any(p.poll() not in (None, 0) for p in procs):
                    break  # one machine failed: the others would wait for it for ever
                time.sleep(0.2)
        finally:
            sampler.stop()
            for ns in self.names:
                self.kill(ns)
            for p in procs:
                p.wait()
        return {
            "wall": time.time() - start,
            "t_start": start,
            "returncodes": [p.returncode for p in procs],
            "peak_bytes": sampler.peaks,
            "peak_bytes_by_role": sampler.role_peaks,
        }


def pss_bytes(pid: int) -> int:
    """A process's proportional set size (its shared pages split among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def shm_bytes(pid: int) -> int:
    """The bytes in the /dev/shm that process ``pid`` sees (a machine's private one: DGL's servers
    keep the partition, the table's rows and the optimiser's state there for the machine's
    trainers)."""
    total = 0
    try:
        for f in Path(f"/proc/{pid}/root/dev/shm").iterdir():
            try:
                total += f.stat().st_blocks * 512
            except OSError:
                pass
    except OSError:
        return 0
    return total


def role(pid: int) -> str:
    """What a DistDGL process is, from its environment and command line: ``server``,
    ``launcher`` (``torch.distributed.launch``, the trainers' parent), ``trainer`` or ``other``
    (shells)."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "other"
    if b"DGL_ROLE=server" in env:
        return "server"
    if b"DGL_ROLE=client" in env:
        return "launcher" if b"torch.distributed.launch" in cmd else "trainer"
    return "other"


class MemorySampler:
    """Samples the summed PSS of each group of processes (``groups``: callables returning pids)
    every ``every`` seconds in a thread; ``peaks`` holds each group's largest sum and, with
    ``roles``, ``role_peaks`` each group's largest sum per :func:`role` and its largest
    :func:`shm_bytes` (``shm``, part of those sums where mapped)."""

    def __init__(self, groups, every: float = 0.1, roles: bool = False):
        self.groups, self.every, self.roles = groups, every, roles
        self.peaks = [0] * len(groups)
        self.role_peaks = [{} for _ in groups]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for i, group in enumerate(self.groups):
                sizes = {pid: pss_bytes(pid) for pid in group()}
                self.peaks[i] = max(self.peaks[i], sum(sizes.values()))
                if self.roles:
                    by_role = {"shm": max((shm_bytes(pid) for pid in sizes), default=0)}
                    for pid, size in sizes.items():
                        r = role(pid)
                        by_role[r] = by_role.get(r, 0) + size
                    for r, size in by_role.items():
                        self.role_peaks[i][r] = max(self.role_peaks[i].get(r, 0), size)
            self._stop.wait(self.every)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
