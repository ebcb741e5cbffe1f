"""The measurements: wrk and openssl s_time runs, memory of a stack's processes, cold start.

Every function returns plain numbers (and the exact command) and asserts nothing about timing.
"""

import os
import pathlib
import re
import shlex
import socket
import subprocess
import threading
import time

import stacks

# ---------------------------------------------------------------------------------------------
# wrk

UNITS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3, 'h': 3600e3}


def wrk_command(port, path, threads, connections, duration, close=False):
    argv = ['wrk', f'-t{threads}', f'-c{connections}', f'-d{duration}s', '--latency',
            '--timeout', '10s']
    if close:
        argv += ['-H', 'Connection: close']
    return argv + [f'https://127.0.0.1:{port}{path}']


def run_wrk(argv, duration):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise RuntimeError(f'{shlex.join(argv)} failed: {result.stderr.strip()}')
    return parse_wrk(result.stdout)


def parse_wrk(text):
    def number(pattern):
        match = re.search(pattern, text)
        return match.group(1) if match else None

    def latency(percent):
        match = re.search(rf'^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$', text, re.M)
        return float(match.group(1)) * UNITS[match.group(2)] if match else None

    errors = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)',
                       text)
    return {
        'rps': float(number(r'Requests/sec:\s+([\d.]+)')),
        'requests': int(number(r'(\d+) requests in')),
        'p50_ms': latency(50),
        'p99_ms': latency(99),
        'non_2xx': int(number(r'Non-2xx or 3xx responses: (\d+)') or 0),
        'socket_errors': sum(int(n) for n in errors.groups()) if errors else 0,
    }


# ---------------------------------------------------------------------------------------------
# openssl s_time: handshakes per second, full (-new) or resumed (-reuse)


def stime_command(port, mode, duration):
    return ['openssl', 's_time', '-connect', f'127.0.0.1:{port}', f'-{mode}', '-www',
            '/square/15', '-time', str(duration)]


def run_stime(argv, clients, duration):
    """Runs `clients` copies of argv at once; returns the summed connections per wall second."""
    start = time.monotonic()
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(clients)]
    outputs = []
    for process in runs:
        out, err = process.communicate(timeout=duration + 60)
        if process.returncode != 0:
            raise RuntimeError(f'{shlex.join(argv)} failed: {err.strip()}')
        outputs.append(out)
    wall = time.monotonic() - start
    connections = 0
    resumed = 0
    for out in outputs:
        match = re.search(r'(\d+) connections in [\d.]+s;', out)
        if match is None:
            raise RuntimeError(f'no summary in the output of {shlex.join(argv)}')
        connections += int(match.group(1))
        # s_time prints one character per connection: 'r' when the session was resumed.
        resumed += sum(line.count('r') for line in out[:match.start()].splitlines()
                       if re.fullmatch(r'[*r]+', line))
    return {'rate': connections / wall, 'connections': connections,
            'resumed_share': resumed / connections if connections else 0.0}


# ---------------------------------------------------------------------------------------------
# CPU time and memory

TICK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pids):
    """User + system CPU seconds used so far by pids (all their threads)."""
    total = 0
    for pid in pids:
        stat = pathlib.Path(f'/proc/{pid}/stat').read_text()
        fields = stat[stat.rindex(')') + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


class CpuMeter:
    """CPU seconds a stack's processes use while the block runs."""

    def __init__(self, stack):
        self.stack = stack
        self.seconds = None

    def __enter__(self):
        self.start = cpu_seconds(self.stack.pids())
        return self

    def __exit__(self, *exc):
        self.seconds = cpu_seconds(self.stack.pids()) - self.start


def memory_kib(pids):
    """Summed VmRSS, VmHWM and Pss (KiB) of pids; shared pages count once per process in RSS."""
    total = {'rss': 0, 'hwm': 0, 'pss': 0}
    for pid in pids:
        status = pathlib.Path(f'/proc/{pid}/status').read_text()
        total['rss'] += int(re.search(r'^VmRSS:\s+(\d+)', status, re.M).group(1))
        total['hwm'] += int(re.search(r'^VmHWM:\s+(\d+)', status, re.M).group(1))
        rollup = pathlib.Path(f'/proc/{pid}/smaps_rollup').read_text()
        total['pss'] += int(re.search(r'^Pss:\s+(\d+)', rollup, re.M).group(1))
    return total


class MemorySampler:
    """Samples a stack's summed RSS and Pss in the background; keeps the maxima."""

    def __init__(self, stack, interval=0.2):
        self.stack = stack
        self.interval = interval
        self.peak = {'rss': 0, 'pss': 0}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()

    def _loop(self):
        while not self.stopping.wait(self.interval):
            try:
                sample = memory_kib(self.stack.pids())
            except (OSError, AttributeError):
                continue  # a worker came or went between listing and reading
            for key in self.peak:
                self.peak[key] = max(self.peak[key], sample[key])


# ---------------------------------------------------------------------------------------------
# Clients that stall inside the handshake

# The first 32 bytes of a ClientHello that announces 512 bytes: the server has to wait for more.
HALF_CLIENT_HELLO = b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + bytes(21)


def stalled_handshake_cpu(stack, connections=4, seconds=3.0):
    """Share of one CPU (%) the stack uses while `connections` clients stall mid-handshake."""
    sockets = []
    try:
        for _ in range(connections):
            client = socket.create_connection(('127.0.0.1', stack.port), timeout=10)
            sockets.append(client)
            client.sendall(HALF_CLIENT_HELLO)
        time.sleep(0.5)
        before = sum(task_cpu_ns(pid) for pid in stack.pids())
        time.sleep(seconds)
        used = sum(task_cpu_ns(pid) for pid in stack.pids()) - before
    finally:
        for client in sockets:
            client.close()
    time.sleep(0.2)
    return used / (seconds * 1e9) * 100


# ---------------------------------------------------------------------------------------------
# Cold start under socket activation


def listening(port):
    """True once a socket listens on 127.0.0.1:port; reads /proc, never connects."""
    wanted = f'0100007F:{port:04X}'
    for line in pathlib.Path('/proc/net/tcp').read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == '0A':
            return True
    return False


# /proc/<pid>/comm of systemd-socket-activate (15 characters at most) until it execs the daemon.
ACTIVATOR = 'systemd-socket-'


def command_name(pid):
    return pathlib.Path(f'/proc/{pid}/comm').read_text().strip()


def timed_request(port, context, nodelay=True):
    """Seconds from connect() to the last byte of GET /square/15 on a new TLS connection.

    Browsers, curl and wrk set TCP_NODELAY; a client that does not waits for the server's ACK
    of its Finished before its request leaves (Nagle), which shows how promptly servers ACK.
    """
    start = time.perf_counter()
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
        with context.wrap_socket(raw, server_hostname=stacks.DOMAIN) as tls:
            tls.sendall(f'GET /square/15 HTTP/1.1\r\nHost: {stacks.DOMAIN}\r\n'
                        'Connection: close\r\n\r\n'.encode())
            data = b''
            while chunk := tls.recv(65536):
                data += chunk
    elapsed = time.perf_counter() - start
    if not data.startswith(b'HTTP/1.1 200') or not data.endswith(b'\r\n\r\n225'):
        raise RuntimeError(f'unexpected answer {data[:200]!r}')
    return elapsed


def cold_start_command(port, binary, pki, threads, workdir):
    # systemd-socket-activate hands its child only LISTEN_* and what -E names.
    bus = stacks.daemon_env(workdir)['DBUS_SYSTEM_BUS_ADDRESS']
    return (['systemd-socket-activate', '-l', f'127.0.0.1:{port}', '--fdname=https',
             f'--setenv=DBUS_SYSTEM_BUS_ADDRESS={bus}'] +
            stacks.daemon_argv(binary, pki) + [f'--http.threads={threads}'])


def task_cpu_ns(pid):
    """CPU time (ns) of all live threads of pid, from /proc/<pid>/task/*/schedstat."""
    total = 0
    for task in pathlib.Path(f'/proc/{pid}/task').iterdir():
        total += int((task / 'schedstat').read_text().split()[0])
    return total


def cold_start_once(processes, workdir, binary, pki, threads):
    """One socket-activated start: cold and warm seconds, and the CPU the first one took."""
    port = stacks.free_port()
    argv = cold_start_command(port, binary, pki, threads, workdir)
    process = processes.spawn('cold-start', argv, env=stacks.daemon_env(workdir))
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('systemd-socket-activate did not listen')
            time.sleep(0.001)
        if command_name(process.pid) != ACTIVATOR:
            raise RuntimeError('the daemon ran before the first connection; not a cold start')
        context = stacks.client_context(pki.ca)
        # The pid ran systemd-socket-activate (and its dynamic linking) before exec(): count
        # only the CPU time used from the connection on.
        before = task_cpu_ns(process.pid)
        cold = timed_request(port, context)
        if command_name(process.pid) == ACTIVATOR:
            raise RuntimeError('the first connection did not start the daemon')
        cpu = (task_cpu_ns(process.pid) - before) / 1e9
        warm = timed_request(port, context)
        return cold, warm, cpu
    finally:
        processes.stop(process)
        processes.started.remove(process)


def cold_start(processes, workdir, binary, pki, threads, repetitions):
    """Milliseconds: cold first responses, warm ones, and the daemon's CPU up to the first."""
    result = {'cold': [], 'warm': [], 'cpu': []}
    for _ in range(repetitions):
        cold, warm, cpu = cold_start_once(processes, workdir, binary, pki, threads)
        result['cold'].append(cold * 1e3)
        result['warm'].append(warm * 1e3)
        result['cpu'].append(cpu * 1e3)
    return result


def tls_session_resumes(port, ca):
    """Whether a second connection resumes the first one's session (TLS 1.3 ticket)."""
    context = stacks.client_context(ca)
    session = None
    reused = False
    for _ in range(2):
        with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=stacks.DOMAIN,
                                     session=session) as tls:
                reused = tls.session_reused
                tls.sendall(f'GET /health HTTP/1.1\r\nHost: {stacks.DOMAIN}\r\n'
                            'Connection: close\r\n\r\n'.encode())
                while tls.recv(65536):
                    pass
                session = tls.session
    return reused
