"""The servers being compared, their throwaway PKI and the processes behind them.

Every stack listens on 127.0.0.1 at a port chosen at run time, serves the same ECDSA P-256 chain
(leaf + intermediate) and is stopped, with every process it started, by Processes.stop_all().
"""

import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import time

DOMAIN = 'bench.test'
HERE = pathlib.Path(__file__).resolve().parent


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(argv, timeout=60, check=True, **kwargs):
    return subprocess.run(argv, timeout=timeout, check=check, capture_output=True, text=True,
                          **kwargs)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Processes


def child_pids(pid):
    """Direct children of pid, found through /proc/*/stat (no CONFIG_PROC_CHILDREN needed)."""
    children = []
    for entry in pathlib.Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def descendants(pid):
    found = []
    for child in child_pids(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


class Processes:
    """Starts processes in their own process groups and ends every one of them."""

    def __init__(self, logdir):
        self.logdir = pathlib.Path(logdir)
        self.started = []

    def spawn(self, name, argv, env=None, cwd=None):
        logfile = open(self.logdir / f'{name}.log', 'ab')
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logfile,
                                   stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                   start_new_session=True)
        logfile.close()
        self.started.append(process)
        return process

    def stop(self, process, first_pid=None, timeout=10):
        """SIGTERM to first_pid (default: the whole group), then SIGKILL to the group."""
        if process.poll() is None:
            try:
                if first_pid is not None:
                    os.kill(first_pid, signal.SIGTERM)
                else:
                    os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop_all(self):
        while self.started:
            self.stop(self.started.pop(), timeout=5)


# ---------------------------------------------------------------------------------------------
# PKI made with certtool: root -> intermediate -> leaf, all ECDSA P-256.


class Pki:
    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root = self._issue('root', None, ['cn = "Bench Root"', 'ca', 'cert_signing_key'])
        self.inter = self._issue('intermediate', 'root',
                                 ['cn = "Bench Intermediate"', 'ca', 'cert_signing_key'])
        self._issue('leaf', 'intermediate',
                    [f'cn = "{DOMAIN}"', f'dns_name = "{DOMAIN}"', 'dns_name = "localhost"',
                     'ip_address = "127.0.0.1"', 'tls_www_server', 'signing_key'])
        self.fullchain = self.dir / 'fullchain.pem'
        self.fullchain.write_text((self.dir / 'leaf.pem').read_text() + self.inter.read_text())
        self.key = self.dir / 'leaf.key'
        self.ca = self.root

    def _issue(self, name, issuer, lines):
        key = self.dir / f'{name}.key'
        cert = self.dir / f'{name}.pem'
        template = self.dir / f'{name}.tmpl'
        template.write_text('\n'.join(lines + ['expiration_days = 30']) + '\n')
        run(['certtool', '-p', '--key-type=ecdsa', '--curve=secp256r1', '--outfile', str(key)])
        argv = ['certtool', '--load-privkey', str(key), '--template', str(template),
                '--outfile', str(cert)]
        if issuer is None:
            argv.insert(1, '-s')
        else:
            argv[1:1] = ['-c', '--load-ca-certificate', str(self.dir / f'{issuer}.pem'),
                         '--load-ca-privkey', str(self.dir / f'{issuer}.key')]
        run(argv)
        return cert


# ---------------------------------------------------------------------------------------------
# Talking to a stack


def client_context(ca):
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = True
    return context


def https_get(port, path, ca, timeout=10.0):
    """One GET on a fresh TLS connection: (status, headers dict lower-case, body, cipher)."""
    context = client_context(ca)
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            request = (f'GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n')
            cipher = f'{tls.version()} {tls.cipher()[0]}'
            tls.sendall(request.encode())
            data = b''
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    if headers.get('transfer-encoding', '').lower() == 'chunked':
        body = unchunk(body)
    return status, headers, body.decode(), cipher


def unchunk(data):
    body = b''
    while True:
        size_line, _, rest = data.partition(b'\r\n')
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            return body
        body += rest[:size]
        data = rest[size + 2:]


def wait_ready(port, ca, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'exited with status {process.returncode} before answering')
        try:
            status, _, _, _ = https_get(port, '/health', ca, timeout=2.0)
            if status == 200:
                return
            last = f'status {status}'
        except (OSError, ssl.SSLError) as error:
            last = error
        time.sleep(0.05)
    raise RuntimeError(f'no 200 from /health on port {port} within {timeout} s ({last})')


# ---------------------------------------------------------------------------------------------
# Stacks


class Stack:
    """A server under test: name, port, the pids whose memory counts, and how to stop it."""

    key = ''
    label = ''
    computes = True  # False for the fixed-answer upper bound

    def __init__(self, processes, workdir, pki):
        self.processes = processes
        self.workdir = pathlib.Path(workdir)
        self.pki = pki
        self.port = free_port()
        self.main = None

    def pids(self):
        raise NotImplementedError

    def stop(self):
        if self.main is not None:
            self.processes.stop(self.main)


class SecureApid(Stack):
    def __init__(self, processes, workdir, pki, binary, threads, variant=None):
        super().__init__(processes, workdir, pki)
        self.binary = binary
        self.threads = threads
        self.key = f'secure-apid-{variant}-t{threads}' if variant else f'secure-apid-t{threads}'
        self.label = (f'secure-apid {variant} (http.threads={threads})' if variant
                      else f'secure-apid (http.threads={threads})')
        self.time_report = self.workdir / f'{self.key}.time'
        self.argv = daemon_argv(binary, pki) + [f'--listen-https=127.0.0.1:{self.port}',
                                                f'--http.threads={threads}']
        # /usr/bin/time -v reports the daemon's peak RSS over the whole run.
        self.main = processes.spawn(self.key, ['/usr/bin/time', '-v', '-o',
                                               str(self.time_report)] + self.argv,
                                    env=daemon_env(self.workdir))
        wait_ready(self.port, pki.ca, self.main)

    def daemon_pid(self):
        children = child_pids(self.main.pid)
        if len(children) != 1:
            raise RuntimeError(f'/usr/bin/time {self.main.pid} has children {children}')
        return children[0]

    def pids(self):
        return [self.daemon_pid()]

    def stop(self):
        # SIGTERM to the daemon only: GNU time dies on SIGTERM without writing its report.
        self.processes.stop(self.main, first_pid=self.daemon_pid())

    def max_rss_kib(self):
        for line in self.time_report.read_text().splitlines():
            if 'Maximum resident set size' in line:
                return int(line.rsplit(':', 1)[1])
        return None


def daemon_argv(binary, pki):
    # per-ip-limit: every benchmark client comes from 127.0.0.1, and with Connection: close a
    # client may briefly hold more than 64 sockets (closed on its side, not yet on the server's).
    return [str(binary), '--config=/dev/null', f'--tls.cert={pki.fullchain}',
            f'--tls.key={pki.key}', f'--domain={DOMAIN}', '--http.per-ip-limit=0']


def daemon_env(workdir):
    env = {k: v for k, v in os.environ.items() if k not in ('NOTIFY_SOCKET', 'LISTEN_FDS',
                                                            'LISTEN_PID', 'LISTEN_FDNAMES')}
    # Keep off the machine's system bus: the daemon warns and serves without D-Bus.
    env['DBUS_SYSTEM_BUS_ADDRESS'] = f'unix:path={workdir}/no-such-bus'
    return env


# Where nginx keeps request and proxy bodies: in the stack's own directory, never /var/lib.
NGINX_TEMP_PATHS = """\
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;"""


def nginx_temp_paths(directory):
    return NGINX_TEMP_PATHS.format(dir=directory)


NGINX_MAIN = """\
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{
    worker_connections 1024;
}}
http {{
    default_type text/plain;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
{temp_paths}
    # /square/<10000 digits> needs a request line longer than the default 8k buffers.
    large_client_header_buffers 4 32k;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets on;
{upstream}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {domain};
        ssl_certificate {cert};
        ssl_certificate_key {key};
{locations}
    }}
}}
"""

FIXED_LOCATIONS = """\
        location = /health {
            return 200 "";
        }
        location /square/ {
            add_header Access-Control-Allow-Origin * always;
            return 200 "225";
        }"""

PROXY_UPSTREAM = """\
    upstream reference_app {{
        server 127.0.0.1:{app_port};
        keepalive 16;
    }}"""

PROXY_LOCATIONS = """\
        location / {
            proxy_pass http://reference_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }"""


class Nginx(Stack):
    """nginx as the TLS terminator: alone with a fixed answer, or in front of the app."""

    def __init__(self, processes, workdir, pki, key, label, upstream='',
                 locations=FIXED_LOCATIONS):
        super().__init__(processes, workdir, pki)
        self.key = key
        self.label = label
        self.dir = self.workdir / key
        self.dir.mkdir()
        config = self.dir / 'nginx.conf'
        config.write_text(NGINX_MAIN.format(dir=self.dir, temp_paths=nginx_temp_paths(self.dir),
                                            upstream=upstream, port=self.port,
                                            domain=DOMAIN, cert=pki.fullchain, key=pki.key,
                                            locations=locations))
        run(['nginx', '-t', '-q', '-e', str(self.dir / 'error.log'), '-c', str(config)])
        self.main = processes.spawn(key, ['nginx', '-e', str(self.dir / 'error.log'),
                                          '-c', str(config)])
        wait_ready(self.port, pki.ca, self.main)

    def pids(self):
        return [self.main.pid] + descendants(self.main.pid)

class NginxAlone(Nginx):
    computes = False

    def __init__(self, processes, workdir, pki):
        super().__init__(processes, workdir, pki, 'nginx-fixed',
                         'nginx alone, fixed "225" (upper bound)')


class ReferenceStack(Nginx):
    def __init__(self, processes, workdir, pki):
        app_port = free_port()
        self.app = processes.spawn('reference-app', ['/usr/bin/python3', '-u',
                                                     str(HERE / 'reference_app.py'),
                                                     '--port', str(app_port)])
        super().__init__(processes, workdir, pki, 'reference',
                         'reference: nginx -> waitress + Flask',
                         upstream=PROXY_UPSTREAM.format(app_port=app_port),
                         locations=PROXY_LOCATIONS)
        self.app_port = app_port

    def pids(self):
        return super().pids() + [self.app.pid]

    def stop(self):
        super().stop()
        self.processes.stop(self.app)
