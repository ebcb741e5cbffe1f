"""Shared machinery of the black-box tests of secure-api-renew.

A RenewSandbox is a harness.Sandbox (temporary directory, private dbus-daemon, the daemon under
systemd-socket-activate) plus Debian's pebble on loopback whose http-01 validations go to the
daemon's http socket, and helpers to run the renewer and read what it left behind: exit status,
stderr, acme/state.json, the live certificate pair.  AcmeProxy is a small HTTPS responder of the
tests' own in front of pebble, for what pebble lacks (renewalInfo) and for answers pebble never
gives (500, 429, alreadyReplaced), counting every request it sees.

Only the Python standard library and Debian 12's command-line tools are used.
"""

import base64
import contextlib
import datetime
import hashlib
import http.client
import http.server
import json
import os
import pathlib
import re
import ssl
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / 'acme'))

import harness  # noqa: E402
import pebble_acme  # noqa: E402

# One registry of handed-out ports for both harnesses (see harness.free_port).
pebble_acme.port_source = harness.free_port
from harness import expect, expect_eq, log  # noqa: E402,F401

DOMAIN = harness.DOMAIN
ACME_ERROR = 'urn:ietf:params:acme:error:'
# Exit statuses of secure-api-renew.
RENEWED, FAILED, NOT_DUE, DEFERRED, RELOAD_PENDING, CONFIG_ERROR = 0, 1, 10, 11, 12, 78
ISSUED_MESSAGE = 'Issued certificate'


def renew_binary():
    path = os.environ.get('SECURE_API_RENEW')
    if not path:
        path = str(HERE.parents[2] / 'build/src/renew/secure-api-renew')
    if not os.access(path, os.X_OK):
        harness.fatal(f'renewal binary {path!r} is missing or not executable '
                      f'(set SECURE_API_RENEW)')
    return path


def clean_environment(extra=None):
    """This process's environment without proxies or a journal stream: the renewer then writes
    "<N>message" lines to stderr and talks to loopback only."""
    env = {key: value for key, value in os.environ.items()
           if 'proxy' not in key.lower() and key not in ('JOURNAL_STREAM', 'NOTIFY_SOCKET')}
    env.update(extra or {})
    return env


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# TLS for pebble's own listener and for the proxies (see pebble_acme.make_server_tls).
make_server_tls = pebble_acme.make_server_tls


# ---------------------------------------------------------------------------------------------
# Pebble validating against the daemon


class LoopbackPebble(pebble_acme.Pebble):
    """pebble_acme.Pebble with challtestsrv's own http-01 server switched off: pebble's httpPort
    is the daemon's http socket, so validations reach the challenges the renewer published over
    D-Bus.  Its TLS certificate (and the proxies') is valid from a day ago by default."""

    def __init__(self, directory, http_port, validity=None, nonce_reject=0, alternate_roots=0,
                 env=None, tls_valid_days_ago=1, tls_valid_days_ahead=2):
        super().__init__(directory, nonce_reject=nonce_reject, alternate_roots=alternate_roots,
                         http_port=http_port, validity=validity, env=env,
                         tls_valid_days_ago=tls_valid_days_ago,
                         tls_valid_days_ahead=tls_valid_days_ahead)

    @property
    def origin(self):
        return f'127.0.0.1:{self.ports["acme"]}'

    def log(self):
        return self.log_of('pebble')

    def new_order_count(self):
        """newOrder requests pebble has logged (each POST to /order-plz)."""
        return len(re.findall(r'POST /order-plz\b', self.log()))

    def request_count(self):
        """Requests of any kind pebble has logged."""
        return len(re.findall(r'^Pebble \S+ \S+ (GET|POST|HEAD) /', self.log(), re.M))

    def root_file(self, index=0):
        path = self.directory / f'root-{index}.pem'
        if not path.exists():
            path.write_text(self.management_pem(f'/roots/{index}'))
        return str(path)

    def alive(self):
        return bool(self.processes) and all(p.poll() is None for _, p in self.processes)


# ---------------------------------------------------------------------------------------------
# The ACME proxy: forwards everything to pebble, keeping the Host header, so pebble builds every
# URL it hands out (directory, Location, Link, order and authorization URLs) from the proxy's
# origin and checks each JWS "url" against the proxy URL the renewer signed: the proxy never has
# to rewrite a body or touch a signature.


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def jws_payload(body):
    """The decoded payload of a flattened JWS request body (None for POST-as-GET or garbage)."""
    try:
        document = json.loads(body)
        payload = document.get('payload', '')
        return json.loads(b64url_decode(payload)) if payload else None
    except (ValueError, AttributeError):
        return None


class ProxyAnswer:
    """An answer the proxy gives itself instead of forwarding (status None: the connection is
    closed without an answer)."""

    def __init__(self, status, body=b'', content_type='application/problem+json', headers=(),
                 fresh_nonce=True):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.content_type = content_type
        self.headers = list(headers)
        self.fresh_nonce = fresh_nonce


def problem(status, kind, detail, headers=()):
    return ProxyAnswer(status, {'type': ACME_ERROR + kind, 'detail': detail, 'status': status},
                       headers=headers)


class AcmeProxy:
    """HTTPS on 127.0.0.1 in front of a LoopbackPebble.

    Attributes a test sets (all optional):
      renewal_info(cert_id) -> ProxyAnswer   adds "renewalInfo" to the directory and answers
                                             GET <proxy>/renewal-info/<certID>
      on_new_order(payload) -> ProxyAnswer or None   (None: forward to pebble)
      on_request(method, path) -> ProxyAnswer or None
    Every request is recorded in .requests as (method, path, payload)."""

    RENEWAL_INFO_PATH = '/renewal-info/'

    def __init__(self, directory, pebble):
        self.pebble = pebble
        self.tls_dir = make_server_tls(pathlib.Path(directory), 'the ACME proxy',
                                       pebble.tls_valid_days_ago, pebble.tls_valid_days_ahead)
        self.requests = []
        self.responses = []             # (method, path, status, problem type or '')
        self.lock = threading.Lock()
        self.renewal_info = None
        self.on_new_order = None
        self.on_request = None
        self.upstream_context = ssl.create_default_context(cafile=pebble.ca_bundle)
        proxy = self

        class Handler(ProxyHandler):
            owner = proxy

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.tls_dir / 'leaf.pem'), str(self.tls_dir / 'leaf.key'))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def origin(self):
        return f'127.0.0.1:{self.port}'

    @property
    def directory_url(self):
        return f'https://{self.origin}/dir'

    @property
    def ca_bundle(self):
        return str(self.tls_dir / 'ca.pem')

    def record(self, method, path, payload):
        with self.lock:
            self.requests.append((method, path, payload))

    def count(self, method=None, path_prefix=''):
        with self.lock:
            return sum(1 for m, p, _ in self.requests
                       if (method is None or m == method) and p.startswith(path_prefix))

    def record_response(self, method, path, status, content_type, body):
        kind = ''
        if 'problem+json' in (content_type or ''):
            with contextlib.suppress(ValueError, AttributeError):
                kind = json.loads(body).get('type', '')
        with self.lock:
            self.responses.append((method, path, status, kind))

    def problems(self, kind):
        with self.lock:
            return [r for r in self.responses if r[3] == ACME_ERROR + kind]

    def new_orders(self):
        with self.lock:
            return [payload for m, p, payload in self.requests
                    if m == 'POST' and p.startswith('/order-plz')]

    def forward(self, method, path, headers, body):
        connection = http.client.HTTPSConnection('127.0.0.1', self.pebble.ports['acme'],
                                                 context=self.upstream_context, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.getheaders(), data
        finally:
            connection.close()

    def fresh_nonce(self):
        status, headers, _ = self.forward('HEAD', '/nonce-plz', {'Host': self.origin}, None)
        for name, value in headers:
            if name.lower() == 'replay-nonce':
                return value
        return None


HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'te', 'trailer',
              'upgrade', 'proxy-connection'}


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    owner = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any('GET')

    def do_HEAD(self):
        self.handle_any('HEAD')

    def do_POST(self):
        self.handle_any('POST')

    def handle_any(self, method):
        proxy = self.owner
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        payload = jws_payload(body) if body else None
        proxy.record(method, self.path, payload)
        answer = None
        if proxy.on_request:
            answer = proxy.on_request(method, self.path)
        if answer is None and method == 'POST' and self.path.startswith('/order-plz') and \
                proxy.on_new_order:
            answer = proxy.on_new_order(payload)
        if answer is None and self.path.startswith(AcmeProxy.RENEWAL_INFO_PATH):
            if proxy.renewal_info is None:
                answer = ProxyAnswer(404, b'not found', 'text/plain')
            else:
                cert_id = self.path[len(AcmeProxy.RENEWAL_INFO_PATH):]
                answer = proxy.renewal_info(cert_id)
        if answer is not None:
            return self.answer(answer, method)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_BY_HOP}
        headers['Host'] = proxy.origin
        try:
            status, response_headers, data = proxy.forward(method, self.path, headers, body)
        except OSError as error:
            return self.answer(ProxyAnswer(502, f'pebble unreachable: {error}'.encode(),
                                           'text/plain', fresh_nonce=False), method)
        content_type = next((v for n, v in response_headers if n.lower() == 'content-type'), '')
        proxy.record_response(method, self.path, status, content_type, data)
        if method == 'GET' and self.path == '/dir' and status == 200 and proxy.renewal_info:
            directory = json.loads(data)
            directory['renewalInfo'] = f'https://{proxy.origin}{AcmeProxy.RENEWAL_INFO_PATH}'
            data = json.dumps(directory).encode()
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ('date', 'server'):
                self.send_header(name, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if method != 'HEAD':
            self.wfile.write(data)

    def answer(self, answer, method):
        self.owner.record_response(method, self.path, answer.status, answer.content_type,
                                   answer.body)
        if answer.status is None:   # unreachable: close without a word
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self.send_response(answer.status)
        self.send_header('Content-Type', answer.content_type)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.fresh_nonce:
            nonce = self.owner.fresh_nonce()
            if nonce:
                self.send_header('Replay-Nonce', nonce)
        self.send_header('Content-Length', str(len(answer.body)))
        self.end_headers()
        if method != 'HEAD':
            self.wfile.write(answer.body)


def renewal_window(start, end, retry_after=None, status=200):
    """A renewalInfo answer (RFC 9773 §4.2) for a window between two datetimes."""
    def stamp(moment):
        return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    headers = [('Retry-After', str(retry_after))] if retry_after is not None else []
    return ProxyAnswer(status, {'suggestedWindow': {'start': stamp(start), 'end': stamp(end)}},
                       'application/json', headers, fresh_nonce=False)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------
# Certificates


CERT_RE = re.compile(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', re.S)


def certtool_info(pem_text):
    result = harness.run(['certtool', '-i'], input=pem_text.encode(), check=True)
    return result.stdout.decode(errors='replace')


def cert_serial(path_or_pem):
    text = path_or_pem
    if not text.lstrip().startswith('-----'):
        text = pathlib.Path(path_or_pem).read_text()
    first = CERT_RE.search(text)
    expect(first, 'no certificate in the PEM')
    match = re.search(r'Serial Number \(hex\): ([0-9a-fA-F]+)', certtool_info(first.group(0)))
    expect(match, 'certtool -i printed no serial')
    return harness.normal_serial(match.group(1))


def cert_dates(path):
    """(notBefore, notAfter) of the first certificate in a PEM file, as aware datetimes."""
    info = certtool_info(CERT_RE.search(pathlib.Path(path).read_text()).group(0))

    def read(label):
        match = re.search(label + r': (.+ UTC \d{4})', info)
        expect(match, f'certtool -i printed no {label}')
        parsed = datetime.datetime.strptime(match.group(1), '%a %b %d %H:%M:%S UTC %Y')
        return parsed.replace(tzinfo=datetime.timezone.utc)
    return read('Not Before'), read('Not After')


def first_cert_der(path):
    match = CERT_RE.search(pathlib.Path(path).read_text())
    expect(match, f'no certificate in {path}')
    body = ''.join(match.group(0).splitlines()[1:-1])
    return base64.b64decode(body)


def ari_cert_id(path):
    """RFC 9773 §4.1 certID of the leaf in path: base64url(AKI keyIdentifier) "." base64url(serial
    content octets), computed here independently of the renewer."""
    info = certtool_info(CERT_RE.search(pathlib.Path(path).read_text()).group(0))
    match = re.search(r'Authority Key Identifier.*?:\s*\n\s*([0-9a-fA-F]+)', info)
    expect(match, 'certtool -i printed no Authority Key Identifier')
    serial = bytes.fromhex(harness.der_serial_hex(first_cert_der(path)))

    def b64(data):
        return base64.urlsafe_b64encode(data).decode().rstrip('=')
    return b64(bytes.fromhex(match.group(1))) + '.' + b64(serial)


def public_key_of_cert(pem_text):
    result = harness.run(['certtool', '--pubkey-info'], input=pem_text.encode())
    if result.returncode != 0:
        return None
    return result.stdout.decode(errors='replace').strip()


def public_key_of_key(path):
    result = harness.run(['certtool', '--pubkey-info', '--load-privkey', str(path)])
    if result.returncode != 0:
        return None
    return result.stdout.decode(errors='replace').strip()


def pem_public_key(text):
    match = re.search(r'-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----', text or '', re.S)
    return match.group(0) if match else None


def pair_matches(cert_path, key_path):
    """True when the leaf of cert_path carries the public key of key_path (certtool)."""
    first = CERT_RE.search(pathlib.Path(cert_path).read_text(errors='replace'))
    if not first:
        return False
    cert_key = pem_public_key(public_key_of_cert(first.group(0)))
    key_key = pem_public_key(public_key_of_key(key_path))
    return cert_key is not None and cert_key == key_key


def topmost_issuer_cn(chain_path):
    pems = CERT_RE.findall(pathlib.Path(chain_path).read_text())
    expect(len(pems) >= 2, f'{chain_path} holds {len(pems)} certificate(s), expected a chain')
    match = re.search(r'Issuer: .*?CN=([^,\n]+)', certtool_info(pems[-1]))
    expect(match, 'no issuer CN in the topmost certificate')
    return match.group(1).strip()


def subject_cn(pem_text):
    match = re.search(r'Subject: .*?CN=([^,\n]+)', certtool_info(CERT_RE.search(pem_text).group(0)))
    expect(match, 'no subject CN')
    return match.group(1).strip()


# ---------------------------------------------------------------------------------------------
# Runs of the renewer


class RenewResult:
    def __init__(self, argv, returncode, stdout, stderr, seconds):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def __repr__(self):
        return (f'<secure-api-renew exit {self.returncode} after {self.seconds:.2f} s; '
                f'stderr:\n{self.stderr.strip()[-2500:]}\n>')

    def expect_status(self, status, what='exit status'):
        if self.returncode != status:
            raise AssertionError(f'{what}: expected {status}, got {self.returncode}\n'
                                 f'  command: {" ".join(self.argv)}\n'
                                 f'  stderr:\n    ' +
                                 '\n    '.join(self.stderr.strip().splitlines()[-25:]))
        return self

    def issued_serial(self):
        match = re.search(ISSUED_MESSAGE + r' ([0-9a-fA-F]+)', self.stderr)
        expect(match, f'no "{ISSUED_MESSAGE} <serial>" line in stderr:\n{self.stderr[-1500:]}')
        return harness.normal_serial(match.group(1))


class RenewSandbox(harness.Sandbox):
    """harness.Sandbox + pebble + the renewer's configuration and state."""

    def __enter__(self):
        self.renew_binary = renew_binary()      # before any directory exists to leak
        super().__enter__()
        self.pebbles = []
        self.proxies = []
        self.https_port = harness.free_port()
        self.http_port = pebble_acme.free_port()
        self.state_dir = self.dir / 'state'
        self.renew_runs = 0
        self.daemon = None
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None or os.environ.get('RENEW_VERBOSE'):
            for pebble in self.pebbles:
                log('  pebble log (tail):')
                for line in pebble.log()[-2500:].splitlines():
                    log(f'    | {line}')
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                proxy.__exit__(None, None, None)
        for pebble in self.pebbles:
            pebble.stop()
        return super().__exit__(kind, value, tb)

    # -- pebble ------------------------------------------------------------------------------

    def setup(self, proxy=False, **pebble_options):
        """Pebble (and the proxy in front of it when asked), the configuration pointing at the
        one the renewer talks to, and the daemon started and on the bus."""
        pebble = self.start_pebble(**pebble_options)
        front = self.start_proxy(pebble) if proxy else None
        self.write_renew_config(front or pebble)
        self.start_daemon()
        return (pebble, front) if proxy else pebble

    def start_pebble(self, http_port=None, **options):
        directory = self.dir / f'pebble-{len(self.pebbles) + 1}'
        pebble = LoopbackPebble(directory, http_port or self.http_port, **options)
        self.pebbles.append(pebble)
        pebble.__enter__()
        return pebble

    def start_proxy(self, pebble):
        proxy = AcmeProxy(self.dir / f'proxy-{len(self.proxies) + 1}', pebble)
        self.proxies.append(proxy)
        return proxy.__enter__()

    # -- configuration -----------------------------------------------------------------------

    def write_renew_config(self, pebble_or_proxy, agree_tos=True, extra=''):
        """One file for the daemon and the renewer, as the units share it."""
        text = (f'domain = {DOMAIN}\n\n[acme]\n'
                f'directory = {pebble_or_proxy.directory_url}\n'
                f'ca-bundle = {pebble_or_proxy.ca_bundle}\n'
                f'email = admin@{DOMAIN}\n'
                f'agree-tos = {"true" if agree_tos else "false"}\n'
                f'state-directory = {self.state_dir}\n' + extra)
        self.config = self.write_config(text)
        return self.config

    # -- the daemon --------------------------------------------------------------------------

    def start_daemon(self, bus=True):
        daemon = self.start_activated([f'--config={self.config}'],
                                      listeners=[('https', '127.0.0.1', self.https_port),
                                                 ('http', '127.0.0.1', self.http_port)],
                                      bus=bus)
        if bus:
            self.wait_on_bus()
        self.daemon = daemon
        return daemon

    def wait_on_bus(self, timeout=10):
        def on_bus():
            result = self.bus.busctl('status', harness.BUS_NAME)
            return result.returncode == 0
        harness.wait_until(on_bus, timeout, interval=0.05, what='org.secureapi.Daemon1 on the bus')

    def served_serial(self, root):
        return harness.normal_serial(harness.served_serial_gnutls(self.https_port, root))

    def curl_square(self, root, number=15):
        argv = ['curl', '-q', '-sS', '--noproxy', '*', '--max-time', '10', '--cacert', root,
                '--resolve', f'{DOMAIN}:{self.https_port}:127.0.0.1',
                f'https://{DOMAIN}:{self.https_port}/square/{number}']
        return harness.run(argv, timeout=20, env=clean_environment())

    def expect_square(self, root, number=15):
        result = self.curl_square(root, number)
        expect_eq((result.returncode, result.stdout.decode(errors='replace')),
                  (0, str(number * number)),
                  f'curl --cacert <pebble root> https://{DOMAIN}/square/{number} '
                  f'(stderr {result.stderr.decode(errors="replace").strip()!r})')

    # -- the renewer -------------------------------------------------------------------------

    def renew_argv(self, *extra):
        return [self.renew_binary, f'--config={self.config}'] + list(extra)

    def renew(self, *extra, env_extra=None, wrapper=(), timeout=180, bus=True):
        self.renew_runs += 1
        argv = list(wrapper) + self.renew_argv(*extra)
        env = clean_environment({'DBUS_SYSTEM_BUS_ADDRESS': self.bus.address if bus else
                                 f'unix:path={self.dir / "no-bus-here"}'})
        env.update(env_extra or {})
        started = time.monotonic()
        result = subprocess.run(argv, capture_output=True, timeout=timeout, env=env,
                                start_new_session=True)
        seconds = time.monotonic() - started
        stderr = result.stderr.decode(errors='replace')
        (self.dir / f'renew-{self.renew_runs}.stderr').write_text(stderr)
        if os.environ.get('RENEW_VERBOSE'):
            log(f'  renew #{self.renew_runs} {" ".join(extra)} -> {result.returncode} '
                f'({seconds:.2f} s)\n' + ''.join(f'    | {line}\n'
                                                  for line in stderr.splitlines()))
        return RenewResult(argv, result.returncode, result.stdout.decode(errors='replace'),
                           stderr, seconds)

    # -- what the renewer leaves behind ------------------------------------------------------

    @property
    def acme_dir(self):
        return self.state_dir / 'acme'

    @property
    def certs_dir(self):
        return self.state_dir / 'certs'

    @property
    def live_dir(self):
        return self.certs_dir / DOMAIN

    @property
    def generations_dir(self):
        return self.certs_dir / f'.{DOMAIN}'

    @property
    def live_cert_path(self):
        return self.live_dir / 'fullchain.pem'

    @property
    def live_key_path(self):
        return self.live_dir / 'privkey.pem'

    def state(self):
        path = self.acme_dir / 'state.json'
        return json.loads(path.read_text()) if path.exists() else {}

    def live_pair(self):
        """(fullchain bytes, privkey bytes) read through the live link, None when missing."""
        try:
            return self.live_cert_path.read_bytes(), self.live_key_path.read_bytes()
        except FileNotFoundError:
            return None

    def snapshot(self):
        """Every regular file under the state directory except the lock and state.json, with
        its bytes: what "installed material" means for a failed run."""
        files = {}
        for path in sorted(self.state_dir.rglob('*')):
            if path.is_file() and not path.is_symlink() and path.name not in ('lock',
                                                                              'state.json'):
                files[str(path.relative_to(self.state_dir))] = path.read_bytes()
        links = {str(path.relative_to(self.state_dir)): os.readlink(path)
                 for path in sorted(self.state_dir.rglob('*')) if path.is_symlink()}
        return files, links

    def leftovers(self):
        """Temporary files and links and generations that neither the live link nor the
        previous link reference."""
        found = []
        for path in self.state_dir.rglob('*'):
            if '.tmp-' in path.name or path.name.startswith('.link-tmp-'):
                found.append(str(path))
        if self.generations_dir.is_dir():
            keep = set()
            for link in (self.live_dir, self.generations_dir / 'previous'):
                if link.is_symlink():
                    keep.add(os.path.realpath(link))
            for entry in self.generations_dir.iterdir():
                if entry.name == 'previous':
                    continue
                if os.path.realpath(entry) not in keep:
                    found.append(str(entry))
        return sorted(found)

    def first_issuance(self, root_index=0):
        """Run the renewer with nothing installed; it must issue and the daemon serve it."""
        result = self.renew()
        result.expect_status(RENEWED, 'first issuance')
        serial = result.issued_serial()
        pebble = self.pebbles[-1]
        root = pebble.root_file(root_index)
        expect_eq(self.served_serial(root), serial, 'serial the daemon serves after issuance')
        return result, serial, root
