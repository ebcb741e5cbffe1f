"""Shared machinery of the black-box tests of secure-apid.

Every test script builds a Sandbox: a temporary directory, a throwaway PKI made with certtool, a
private dbus-daemon, one NOTIFY_SOCKET listener per daemon, and the daemon itself, started under
systemd-socket-activate or bound by itself.  Leaving the `with` block kills every process group the
sandbox started, whatever happened inside it.

Only the Python standard library and the command-line tools of Debian 12 are used: certtool,
gnutls-cli (gnutls-bin), dbus-daemon, busctl, systemd-socket-activate, curl.
"""

import contextlib
import datetime
import json
import os
import pathlib
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EX_CONFIG = 78
BUS_NAME = 'org.secureapi.Daemon1'
BUS_PATH = '/org/secureapi/Daemon1'
BUS_INTERFACE = 'org.secureapi.Daemon1'
DOMAIN = 'api.test'
# Source address of the connection that makes systemd-socket-activate exec the daemon; kept apart
# from 127.0.0.1 and 127.0.0.2 so it never counts against a per-IP limit a test measures.
POKE_SOURCE = '127.0.0.99'


def daemon_binary():
    path = os.environ.get('SECURE_APID')
    if not path:
        path = str(pathlib.Path(__file__).resolve().parents[2] / 'build/src/server/secure-apid')
    if not os.access(path, os.X_OK):
        fatal(f'daemon binary {path!r} is missing or not executable (set SECURE_APID)')
    return path


def fatal(message):
    print(f'FATAL: {message}', file=sys.stderr, flush=True)
    sys.exit(2)


def log(message):
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------
# Reporting: a script runs named cases; a failed case is recorded and the next one still runs,
# so one run shows every broken row.


class Report:
    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = []
        self.skipped = []

    @contextlib.contextmanager
    def case(self, title):
        log(f'--- {title}')
        started = time.monotonic()
        daemons_before = {sandbox: len(sandbox.daemons) for sandbox in Sandbox.active}
        try:
            yield
        except Skip as skip:
            self.skipped.append((title, str(skip)))
            log(f'SKIP {title}: {skip}')
            return
        except Exception as error:  # every failure of a case is reported, the script goes on
            detail = error_text(error)
            self.failures.append((title, detail))
            log(f'FAIL {title}: {detail}')
            if not isinstance(error, AssertionError):
                traceback.print_exc(file=sys.stdout)
            for sandbox in Sandbox.active:
                sandbox.after_failed_case(daemons_before.get(sandbox, 0))
            return
        self.passed.append(title)
        log(f'ok   {title} ({time.monotonic() - started:.2f} s)')

    def finish(self):
        log('')
        for title, reason in self.skipped:
            log(f'skipped: {title}: {reason}')
        for title, detail in self.failures:
            log(f'FAILED: {title}: {detail}')
        log(f'{self.name}: {len(self.passed)} passed, {len(self.failures)} failed, '
            f'{len(self.skipped)} skipped')
        if self.failures:
            sys.exit(1)
        if not self.passed:
            log('nothing passed: refusing to report success for a test that checked nothing')
            sys.exit(1)
        sys.exit(0)


class Skip(Exception):
    pass


def error_text(error):
    text = str(error) or type(error).__name__
    if not isinstance(error, AssertionError):
        text = f'{type(error).__name__}: {text}'
    return text


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f'{what}: expected {shorten(expected)}, got {shorten(actual)}')


def shorten(value, limit=300):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + f'... ({len(text)} chars)'
    return text


def wait_until(predicate, timeout, interval=0.02, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Ports and addresses


_handed_out = set()


def free_port(family=socket.AF_INET):
    """A TCP port free on loopback for the family (for AF_INET6 free on both stacks), and never
    one this process handed out before: the kernel may offer a just-closed port again, and two
    servers of one test would then race for it."""
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(('::', 0))
            else:
                sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
        return True
    except OSError:
        return False


def connect(host, port, source=None, timeout=5.0):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
    except Exception:
        sock.close()
        raise
    return sock


def wait_closed(sock, timeout):
    """Seconds until the peer closes or resets sock, None if it stays open for timeout.

    Whatever the peer sends meanwhile (a TLS alert, an HTTP 408) is read and dropped."""
    started = time.monotonic()
    deadline = started + timeout
    sock.setblocking(False)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                continue
            try:
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, ssl.SSLEOFError):
                return time.monotonic() - started
            if not data:
                return time.monotonic() - started
    finally:
        sock.setblocking(True)


# ---------------------------------------------------------------------------------------------
# Processes


class Processes:
    """Every process started in its own process group, all killed at the end."""

    def __init__(self):
        self.started = []

    def spawn(self, argv, **kwargs):
        kwargs.setdefault('stdin', subprocess.DEVNULL)
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.started.append(proc)
        return proc

    def kill_all(self):
        for proc in reversed(self.started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.started.clear()


def run(argv, timeout=30, check=False, env=None, input=None):
    result = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, input=input,
                            start_new_session=True)
    if check and result.returncode != 0:
        raise AssertionError(f'{argv[0]} failed ({result.returncode}): '
                             f'{result.stderr.decode(errors="replace").strip()}')
    return result


# ---------------------------------------------------------------------------------------------
# PKI made with certtool: root -> intermediate -> leaves.  fullchain.pem = leaf + intermediate.


def utc(dt):
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')


class Leaf:
    def __init__(self, directory, serial, names, not_before, not_after):
        self.directory = directory
        self.cert = str(directory / 'fullchain.pem')
        self.key = str(directory / 'privkey.pem')
        self.serial = serial
        self.names = names
        self.not_before = not_before
        self.not_after = not_after

    @property
    def not_after_usec(self):
        return int(self.not_after.timestamp()) * 1000000

    def __repr__(self):
        return f'Leaf({self.directory.name}, serial {self.serial})'


class Pki:
    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, TZ='UTC')
        self.used_serials = set()
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.root_key = self._key('root.key')
        self.root = str(self.dir / 'root.pem')
        self._certtool(['-s', '--load-privkey', self.root_key], 'root',
                       self._template('secure-api test root', now - datetime.timedelta(days=2),
                                      now + datetime.timedelta(days=400), ca=True),
                       self.root)
        self.inter_key = self._key('intermediate.key')
        self.inter = str(self.dir / 'intermediate.pem')
        self._certtool(['-c', '--load-privkey', self.inter_key, '--load-ca-certificate', self.root,
                        '--load-ca-privkey', self.root_key], 'intermediate',
                       self._template('secure-api test intermediate',
                                      now - datetime.timedelta(days=2),
                                      now + datetime.timedelta(days=400), ca=True),
                       self.inter)

    def _key(self, name):
        path = str(self.dir / name)
        run(['certtool', '-p', '--key-type=ecdsa', '--curve=secp256r1', '--outfile', path],
            check=True, env=self.env)
        return path

    def _serial(self):
        while True:
            # 8 bytes, first byte 0x10..0x7f: one unambiguous lowercase hex form (no sign byte,
            # no leading zero digit).
            serial = '%02x' % random.randint(0x10, 0x7f) + os.urandom(7).hex()
            if serial not in self.used_serials:
                self.used_serials.add(serial)
                return serial

    def _template(self, cn, not_before, not_after, ca=False, dns=(), ips=(), serial=None):
        lines = [f'cn = "{cn}"', f'serial = 0x{serial or self._serial()}',
                 f'activation_date = "{utc(not_before)}"',
                 f'expiration_date = "{utc(not_after)}"']
        if ca:
            lines += ['ca', 'cert_signing_key', 'crl_signing_key']
        else:
            lines += [f'dns_name = "{name}"' for name in dns]
            lines += [f'ip_address = "{ip}"' for ip in ips]
            lines += ['signing_key', 'tls_www_server']
        return '\n'.join(lines) + '\n'

    def _certtool(self, args, name, template, outfile):
        path = self.dir / f'{name}.tmpl'
        path.write_text(template)
        run(['certtool'] + args + ['--template', str(path), '--outfile', outfile], check=True,
            env=self.env)

    def leaf(self, name, dns=(DOMAIN, 'localhost'), ips=('127.0.0.1', '::1'), valid_from=-1,
             valid_until=30, mismatched_key=False):
        """A leaf valid from now + valid_from days to now + valid_until days."""
        directory = self.dir / name
        directory.mkdir()
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        not_before = now + datetime.timedelta(days=valid_from)
        not_after = now + datetime.timedelta(days=valid_until)
        serial = self._serial()
        key = self._key(f'{name}/privkey.pem')
        leaf_pem = directory / 'leaf.pem'
        self._certtool(['-c', '--load-privkey', key, '--load-ca-certificate', self.inter,
                        '--load-ca-privkey', self.inter_key], f'{name}/leaf',
                       self._template(dns[0] if dns else name, not_before, not_after, dns=dns,
                                      ips=ips, serial=serial), str(leaf_pem))
        chain = leaf_pem.read_text() + pathlib.Path(self.inter).read_text()
        (directory / 'fullchain.pem').write_text(chain)
        if mismatched_key:
            os.unlink(key)
            self._key(f'{name}/privkey.pem')
        return Leaf(directory, serial, list(dns) + list(ips), not_before, not_after)


def install(leaf, cert_path, key_path):
    """Put a leaf under the live names the way a renewal does: temp file, fsync, rename."""
    for source, target in ((leaf.key, key_path), (leaf.cert, cert_path)):
        data = pathlib.Path(source).read_bytes()
        temp = f'{target}.tmp-{os.getpid()}'
        with open(temp, 'wb') as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temp, target)


# ---------------------------------------------------------------------------------------------
# Certificates as seen by clients


def der_element(data, pos):
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7f
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    return tag, pos, pos + length


def der_serial_hex(der):
    """Serial of a DER certificate as lowercase hex of its INTEGER content bytes (RFC 5280 4.1)."""
    _, start, _ = der_element(der, 0)             # Certificate
    _, start, _ = der_element(der, start)         # TBSCertificate
    tag, start, end = der_element(der, start)
    if tag == 0xa0:                               # [0] version
        tag, start, end = der_element(der, end)
    expect(tag == 0x02, f'certificate serial is not an INTEGER (tag {tag:#x})')
    return der[start:end].hex()


def normal_serial(serial):
    """Hex serial without a sign byte or leading zero digits, for comparing two spellings."""
    return serial.lower().lstrip('0') or '0'


def client_context(cafile=None, verify=True):
    if verify:
        context = ssl.create_default_context(cafile=cafile)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def tls_connect(port, host='127.0.0.1', cafile=None, server_name=DOMAIN, verify=True,
                source=None, timeout=5.0):
    sock = connect(host, port, source=source, timeout=timeout)
    try:
        return client_context(cafile, verify).wrap_socket(sock, server_hostname=server_name)
    except Exception:
        sock.close()
        raise


def served_serial_python(port, host='127.0.0.1'):
    with tls_connect(port, host=host, verify=False) as tls:
        return der_serial_hex(tls.getpeercert(binary_form=True))


def served_serial_gnutls(port, cafile, host='127.0.0.1', server_name=DOMAIN):
    """Serial of the leaf a fresh gnutls-cli handshake sees, read back with certtool -i."""
    result = run(['gnutls-cli', '--print-cert', f'--x509cafile={cafile}',
                  f'--sni-hostname={server_name}', f'--verify-hostname={server_name}',
                  '-p', str(port), host], timeout=15)
    output = result.stdout.decode(errors='replace')
    expect(result.returncode == 0 and 'Handshake was completed' in output,
           f'gnutls-cli to {host}:{port} failed ({result.returncode}): '
           f'{result.stderr.decode(errors="replace").strip()[-400:]} {output[-400:]}')
    match = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', output, re.S)
    expect(match, f'gnutls-cli printed no certificate: {output[-400:]}')
    info = run(['certtool', '-i'], input=match.group(0).encode(), check=True)
    serial = re.search(r'Serial Number \(hex\): ([0-9a-fA-F]+)', info.stdout.decode())
    expect(serial, 'certtool -i printed no serial')
    return serial.group(1).lower()


# ---------------------------------------------------------------------------------------------
# HTTP over a raw (TLS or plain) socket, for keep-alive, pipelining and hostile input.


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (lowercase name, value)
        self.body = body
        self.version = version

    def header(self, name):
        values = [value for key, value in self.headers if key == name.lower()]
        return values[-1] if values else None

    def __repr__(self):
        return f'<{self.status} {self.headers} {shorten(self.body, 120)}>'


class HttpConnection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('connection closed by the daemon')
        self.buffer += data

    def _line(self):
        while b'\r\n' not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b'\r\n', 1)
        return line.decode('latin-1')

    def _take(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_response(self, head=False):
        status_line = self._line()
        match = re.match(r'(HTTP/\d\.\d) (\d{3}) ?(.*)', status_line)
        expect(match, f'bad status line {status_line!r}')
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(':')
            headers.append((name.strip().lower(), value.strip()))
        response = Response(int(match.group(2)), match.group(3), headers, b'', match.group(1))
        if head or response.status in (204, 304) or 100 <= response.status < 200:
            return response
        if (response.header('transfer-encoding') or '').lower() == 'chunked':
            response.body = self._chunked()
        elif response.header('content-length') is not None:
            response.body = self._take(int(response.header('content-length')))
        else:
            response.body = self._until_close()
        return response

    def _chunked(self):
        body = b''
        while True:
            size = int(self._line().split(';')[0], 16)
            if size == 0:
                while self._line():
                    pass
                return body
            body += self._take(size)
            self._line()

    def _until_close(self):
        while True:
            try:
                self._fill()
            except EOFError:
                break
        data, self.buffer = self.buffer, b''
        return data

    def request(self, method, path, host=DOMAIN, headers=(), head=None):
        lines = [f'{method} {path} HTTP/1.1', f'Host: {host}'] + list(headers)
        self.send('\r\n'.join(lines) + '\r\n\r\n')
        return self.read_response(head=(method == 'HEAD') if head is None else head)

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def request_bytes(method, path, host=DOMAIN, headers=()):
    lines = [f'{method} {path} HTTP/1.1', f'Host: {host}'] + list(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


# ---------------------------------------------------------------------------------------------
# curl


class CurlResult:
    def __init__(self, returncode, status, headers, body, stderr):
        self.returncode = returncode
        self.status = status
        self.headers = headers      # list of (lowercase name, value) of the last response
        self.body = body
        self.stderr = stderr

    def header(self, name):
        values = [value for key, value in self.headers if key == name.lower()]
        return values[-1] if values else None

    def __repr__(self):
        return (f'<curl rc={self.returncode} status={self.status} headers={self.headers} '
                f'body={shorten(self.body, 200)} stderr={self.stderr.strip()[-200:]!r}>')


def parse_header_dump(text):
    blocks = [block for block in text.replace('\r\n', '\n').split('\n\n') if block.strip()]
    if not blocks:
        return 0, []
    lines = blocks[-1].split('\n')
    match = re.match(r'HTTP/[\d.]+ (\d{3})', lines[0])
    status = int(match.group(1)) if match else 0
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers.append((name.strip().lower(), value.strip()))
    return status, headers


# ---------------------------------------------------------------------------------------------
# NOTIFY_SOCKET listener


class NotifyListener:
    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []          # (monotonic time, {key: value}, raw text)
        self.lock = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            readable, _, _ = select.select([self.sock], [], [], 0.1)
            if not readable:
                continue
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            now = time.monotonic()
            text = data.decode(errors='replace')
            fields = {}
            for line in text.split('\n'):
                if '=' in line:
                    key, _, value = line.partition('=')
                    fields[key] = value
            with self.lock:
                self.messages.append((now, fields, text))
                self.lock.notify_all()

    def wait_for(self, key, value=None, timeout=5.0, after=0):
        """First message at index >= after with key (and value if given): (index, time, fields)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for index in range(after, len(self.messages)):
                    when, fields, _ = self.messages[index]
                    if key in fields and (value is None or fields[key] == value):
                        return index, when, fields
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.stopped = True
        self.thread.join(timeout=1)
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Private D-Bus


BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
'''


class BusCallResult:
    def __init__(self, returncode, data, error_name, message):
        self.ok = returncode == 0
        self.data = data
        self.error_name = error_name
        self.message = message

    def __repr__(self):
        return f'<busctl ok={self.ok} data={self.data} error={self.error_name} {self.message!r}>'


class Bus:
    def __init__(self, processes, directory):
        path = pathlib.Path(directory) / 'bus'
        config = pathlib.Path(directory) / 'bus.conf'
        config.write_text(BUS_CONFIG.format(path=path))
        self.proc = processes.spawn(['dbus-daemon', f'--config-file={config}', '--print-address',
                                     '--nofork', '--nopidfile'], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        readable, _, _ = select.select([self.proc.stdout], [], [], 10)
        expect(readable, 'dbus-daemon printed no address within 10 s')
        self.address = self.proc.stdout.readline().decode().strip()
        expect(self.address.startswith('unix:'), f'dbus-daemon address {self.address!r}')

    def busctl(self, *args, timeout=15):
        # Debug logging makes busctl print the reply's error-name, which it otherwise hides.
        env = dict(os.environ, SYSTEMD_LOG_LEVEL='debug')
        return run(['busctl', f'--address={self.address}', '--json=short', '--timeout=10']
                   + list(args), env=env, timeout=timeout)

    def call(self, method, signature=None, *args):
        argv = ['call', BUS_NAME, BUS_PATH, BUS_INTERFACE, method]
        if signature:
            argv += [signature] + [str(arg) for arg in args]
        result = self.busctl(*argv)
        return self._result(result)

    def _result(self, result):
        stdout = result.stdout.decode(errors='replace').strip()
        stderr = result.stderr.decode(errors='replace')
        data = None
        if result.returncode == 0 and stdout:
            data = json.loads(stdout).get('data')
        error_name = None
        match = re.search(r'type=error .*?error-name=(\S+)', stderr)
        if match:
            error_name = match.group(1)
        failed = re.search(r'Call failed: (.*)', stderr)
        message = failed.group(1) if failed else ''
        return BusCallResult(result.returncode, data, error_name, message)

    def get_property(self, name):
        result = self.busctl('get-property', BUS_NAME, BUS_PATH, BUS_INTERFACE, name)
        expect(result.returncode == 0,
               f'busctl get-property {name} failed: '
               f'{re.findall(r"Failed.*|Call failed.*", result.stderr.decode(errors="replace"))}')
        return json.loads(result.stdout.decode()).get('data')

    def monitor(self, processes, path):
        """busctl monitor of the daemon's name, one JSON message a line, written to path."""
        out = open(path, 'wb')
        proc = processes.spawn(['busctl', f'--address={self.address}', '--json=short',
                                'monitor', BUS_NAME], stdout=out, stderr=subprocess.DEVNULL)
        out.close()
        return proc

    def owner_pid(self):
        result = self.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus', 'GetConnectionUnixProcessID', 's', BUS_NAME)
        expect(result.returncode == 0, f'no owner of {BUS_NAME} on the bus')
        return json.loads(result.stdout.decode())['data'][0]

    def has_name(self):
        result = self.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus', 'NameHasOwner', 's', BUS_NAME)
        return result.returncode == 0 and json.loads(result.stdout.decode())['data'] == [True]


# ---------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    def __init__(self, sandbox, proc, index, notify, https_port, http_port, stderr_path):
        self.sandbox = sandbox
        self.proc = proc
        self.pid = proc.pid
        self.index = index
        self.notify = notify
        self.https_port = https_port
        self.http_port = http_port
        self.stderr_path = stderr_path
        self.started_at = time.monotonic()

    def stderr(self):
        return pathlib.Path(self.stderr_path).read_text(errors='replace')

    def daemon_stderr(self):
        """stderr without systemd-socket-activate's own lines."""
        lines = [line for line in self.stderr().splitlines()
                 if not re.match(r'(Listening on|Communication attempt|Execing|Executing|'
                                 r'Received \d+ descriptors|The number of fd names)', line)]
        return '\n'.join(lines)

    def wait_ready(self, timeout=5.0):
        found = self.notify.wait_for('READY', '1', timeout=timeout)
        if found is None:
            code = self.proc.poll()
            state = f'exited with {code}' if code is not None else 'still running'
            raise AssertionError(f'daemon sent no READY=1 within {timeout} s ({state}); '
                                 f'stderr: {self.daemon_stderr()[-1500:]}')
        return found[1] - self.started_at

    def alive(self):
        return self.proc.poll() is None

    def signal(self, signum):
        os.kill(self.pid, signum)

    def kill(self):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.wait_exit(5)

    def stop(self, timeout=15):
        """SIGTERM and wait: the exit status (None if it did not exit in time)."""
        if self.alive():
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def url(self, path, port=None):
        return f'https://{DOMAIN}:{port or self.https_port}{path}'

    def curl(self, path, method=None, headers=(), extra=(), port=None, scheme='https',
             host=DOMAIN, timeout=20):
        """One request with curl; for https the test root is the only trust anchor."""
        port = port or (self.https_port if scheme == 'https' else self.http_port)
        return self.sandbox.curl(f'{scheme}://{host}:{port}{path}', port=port, method=method,
                                 headers=headers, extra=extra, host=host, timeout=timeout)

    def tls(self, host='127.0.0.1', source=None, timeout=5.0, port=None):
        sock = tls_connect(port or self.https_port, host=host, cafile=self.sandbox.pki.root,
                           source=source, timeout=timeout)
        return HttpConnection(sock)

    def plain(self, host='127.0.0.1', source=None, timeout=5.0):
        return HttpConnection(connect(host, self.http_port, source=source, timeout=timeout))

    def health(self):
        result = self.curl('/health')
        expect(result.returncode == 0 and result.status == 200, f'GET /health: {result}')
        return result

    def served_serial(self):
        return served_serial_gnutls(self.https_port, self.sandbox.pki.root)


class Sandbox:
    active = []

    def __init__(self, name='secure-apid'):
        self.name = name

    def __enter__(self):
        Sandbox.active.append(self)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f'{self.name}-'))
        self.processes = Processes()
        self.listeners = []
        self.daemons = []
        self._pki = None
        self._bus = None
        self.failed = False
        self.binary = daemon_binary()
        self.live_cert = str(self.dir / 'live' / 'fullchain.pem')
        self.live_key = str(self.dir / 'live' / 'privkey.pem')
        (self.dir / 'live').mkdir()
        (self.dir / 'state').mkdir()
        return self

    def __exit__(self, kind, value, tb):
        Sandbox.active.remove(self)
        if kind is not None:
            self.dump_logs(self.daemons)
        self.processes.kill_all()
        for listener in self.listeners:
            listener.close()
        if os.environ.get('KEEP_TMP'):
            log(f'kept {self.dir}')
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def after_failed_case(self, first):
        """Show the logs of the daemons a failed case started (or of the one it used) and kill
        those still running, so the next case starts clean (and can own the bus name)."""
        started = self.daemons[first:]
        self.dump_logs(started or self.daemons[-1:])
        for daemon in started:
            daemon.kill()

    def dump_logs(self, daemons):
        for daemon in daemons:
            text = daemon.stderr()[-3000:]
            log(f'  daemon #{daemon.index} (pid {daemon.pid}) stderr:')
            for line in text.splitlines():
                log(f'    | {line}')

    @property
    def pki(self):
        if self._pki is None:
            self._pki = Pki(self.dir / 'pki')
        return self._pki

    @property
    def bus(self):
        if self._bus is None:
            self._bus = Bus(self.processes, self.dir)
        return self._bus

    def install(self, leaf):
        install(leaf, self.live_cert, self.live_key)

    def install_new(self, name, **kwargs):
        leaf = self.pki.leaf(name, **kwargs)
        self.install(leaf)
        return leaf

    def write_config(self, text, name='secure-api.conf'):
        path = self.dir / name
        path.write_text(text)
        return str(path)

    def default_config(self):
        return self.write_config(f'domain = {DOMAIN}\n\n[acme]\nstate-directory = '
                                 f'{self.dir / "state"}\n')

    def base_args(self, config=None, cert=True):
        args = [f'--config={config or self.default_config()}']
        if cert:
            args += [f'--tls.cert={self.live_cert}', f'--tls.key={self.live_key}']
        return args

    def daemon_env(self, notify_path, bus=True):
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'NOTIFY_SOCKET': str(notify_path)}
        env['DBUS_SYSTEM_BUS_ADDRESS'] = (self.bus.address if bus
                                          else f'unix:path={self.dir / "no-bus-here"}')
        return env

    def _prepare(self, bus):
        index = len(self.daemons) + 1
        notify_path = self.dir / f'notify-{index}'
        notify = NotifyListener(notify_path)
        self.listeners.append(notify)
        stderr_path = self.dir / f'daemon-{index}.stderr'
        return index, notify, self.daemon_env(notify_path, bus), stderr_path

    def start_self_bound(self, args, https_port=None, http_port=None, bus=True, ready=True,
                         env_extra=None):
        """Run the daemon directly; it binds what --listen-* say (ports recorded for clients)."""
        index, notify, env, stderr_path = self._prepare(bus)
        env.update(env_extra or {})
        with open(stderr_path, 'wb') as err:
            proc = self.processes.spawn([self.binary] + list(args), env=env, stdout=err,
                                        stderr=err)
        daemon = Daemon(self, proc, index, notify, https_port, http_port, stderr_path)
        self.daemons.append(daemon)
        if ready:
            daemon.wait_ready()
        return daemon

    def start_activated(self, args, listeners=None, passed=(), bus=True, ready=True,
                        env_extra=None):
        """Run the daemon under systemd-socket-activate.

        listeners: [(name, address, port)] given to systemd-socket-activate as -l, in this order.
        passed: [(name, socket)] made by the test and handed to systemd-socket-activate as
        LISTEN_FDS (it passes them through first, before its own -l sockets), e.g. an IPv6-only
        socket.  systemd-socket-activate execs the daemon only once a connection arrives on one of
        the sockets, so a throwaway connection is made and closed at once."""
        if listeners is None:
            listeners = [('https', '127.0.0.1', free_port()), ('http', '127.0.0.1', free_port())]
        index, notify, env, stderr_path = self._prepare(bus)
        names = [name for name, _ in passed] + [name for name, _, _ in listeners]
        argv = ['systemd-socket-activate']
        for _, address, port in listeners:
            argv += ['-l', f'[{address}]:{port}' if ':' in address else f'{address}:{port}']
        argv += [f'--fdname={":".join(names)}', '-E', 'DBUS_SYSTEM_BUS_ADDRESS',
                 '-E', 'NOTIFY_SOCKET']
        for key, value in (env_extra or {}).items():
            argv += ['-E', f'{key}={value}']
        argv += [self.binary] + list(args)
        pass_fds = ()
        if passed:
            fds = [sock.fileno() for _, sock in passed]
            argv = [sys.executable, '-c', FD_PLACER, str(len(fds))] + [str(fd) for fd in fds] + argv
            pass_fds = tuple(fds)
        with open(stderr_path, 'wb') as err:
            proc = self.processes.spawn(argv, env=env, stdout=err, stderr=err, pass_fds=pass_fds)
        ports = {name: port for name, _, port in listeners}
        for name, sock in passed:
            ports.setdefault(name, sock.getsockname()[1])
        daemon = Daemon(self, proc, index, notify, ports.get('https'), ports.get('http'),
                        stderr_path)
        self.daemons.append(daemon)
        targets = [(sock.getsockname()[0], sock.getsockname()[1]) for _, sock in passed]
        targets += [(address, port) for _, address, port in listeners]
        self._poke(targets, proc)
        daemon.started_at = time.monotonic()
        if ready:
            daemon.wait_ready()
        return daemon

    def _poke(self, targets, proc):
        address, port = targets[0]
        if address in ('0.0.0.0', '::'):
            address = '127.0.0.1' if address == '0.0.0.0' else '::1'
        source = POKE_SOURCE if address.startswith('127.') else None
        deadline = time.monotonic() + 10
        while True:
            try:
                connect(address, port, source=source, timeout=2).close()
                return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f'systemd-socket-activate never listened on '
                                         f'{address}:{port} (exit {proc.poll()})')
                time.sleep(0.01)

    def curl(self, url, port=None, method=None, headers=(), extra=(), host=DOMAIN, timeout=20):
        header_file = self.dir / f'curl-headers-{random.randint(0, 1 << 30)}'
        argv = ['curl', '-q', '-sS', '--noproxy', '*', '--max-time', str(timeout),
                '-D', str(header_file), '-o', '-']
        if host == DOMAIN and port:
            argv += ['--resolve', f'{DOMAIN}:{port}:127.0.0.1']
        if url.startswith('https:'):
            argv += ['--cacert', self.pki.root]
        if method == 'HEAD':
            argv += ['--head']
        elif method:
            argv += ['-X', method]
        for header in headers:
            argv += ['-H', header]
        argv += list(extra) + [url]
        env = {key: value for key, value in os.environ.items()
               if 'proxy' not in key.lower()}
        result = run(argv, timeout=timeout + 10, env=env)
        dump = header_file.read_text(errors='replace') if header_file.exists() else ''
        with contextlib.suppress(FileNotFoundError):
            header_file.unlink()
        status, response_headers = parse_header_dump(dump)
        body = result.stdout
        if method == 'HEAD':
            # curl --head copies the header block to stdout as well; what follows it is body.
            body = body.split(b'\r\n\r\n', 1)[1] if b'\r\n\r\n' in body else body
        return CurlResult(result.returncode, status, response_headers, body,
                          result.stderr.decode(errors='replace'))


# Placed at fd 3.. the sockets a test made itself, sets LISTEN_FDS/LISTEN_PID for the program it
# then execs (systemd-socket-activate, which passes them on ahead of its own -l sockets).
FD_PLACER = '''
import fcntl, os, sys
count = int(sys.argv[1])
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, 200) for fd in sys.argv[2:2 + count]]
for number, fd in enumerate(high):
    os.dup2(fd, 3 + number)
    os.set_inheritable(3 + number, True)
os.closerange(3 + count, 4096)
os.environ["LISTEN_FDS"] = str(count)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execvp(sys.argv[2 + count], sys.argv[2 + count:])
'''
