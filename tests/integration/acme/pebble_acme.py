#!/usr/bin/python3
"""The ACME library against Debian's pebble, all on loopback.

Usage: pebble_acme.py SCENARIO   (ACME_DRIVER names the built acme_driver)

Each run starts its own pebble-challtestsrv (mock DNS answering 127.0.0.1 for every name, and
the http-01 server pebble validates against) and pebble, with a throwaway TLS certificate for
pebble made with certtool, on ports chosen at run time. Every process is killed on the way out.
"""

import datetime
import hashlib
import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

PEBBLE = '/usr/bin/pebble'
CHALLTESTSRV = '/usr/bin/pebble-challtestsrv'
ACME_ERROR = 'urn:ietf:params:acme:error:'


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def log(message):
    print(message, flush=True)


_handed_out = set()


def udp_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(('127.0.0.1', 0))
        return tcp.getsockname()[1]


# Where TCP ports come from; a harness that also picks ports elsewhere replaces it with its own,
# so that no port is handed out twice in one process.
port_source = tcp_port


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (the mock DNS uses both), never one handed
    out before in this process."""
    for _ in range(50):
        port = port_source()
        if port not in _handed_out and udp_free(port):
            _handed_out.add(port)
            return port
    raise Failure('no free port on 127.0.0.1')


def clean_environment(extra=None):
    """The environment without proxies, so nothing is sent anywhere but loopback."""
    env = {k: v for k, v in os.environ.items() if 'proxy' not in k.lower()}
    env.update(extra or {})
    return env


def certtool(*args):
    subprocess.run(['certtool', *args], check=True, capture_output=True, env=clean_environment())


def make_server_tls(directory, label, valid_days_ago=1, valid_days_ahead=2):
    """A throwaway CA and a leaf for localhost, 127.0.0.1 and ::1, for pebble's HTTPS or any
    other test server's.  The validity may start years ago, so that a client whose clock runs
    behind (BC-12) still completes the handshake."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = now - datetime.timedelta(days=valid_days_ago)
    end = now + datetime.timedelta(days=valid_days_ahead)
    dates = (f'activation_date = "{start:%Y-%m-%d %H:%M:%S}"\n'
             f'expiration_date = "{end:%Y-%m-%d %H:%M:%S}"\n')
    (directory / 'ca.tmpl').write_text(
        f'cn = "secure-api test CA for {label}"\nca\ncert_signing_key\n' + dates)
    (directory / 'leaf.tmpl').write_text(
        'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
        'ip_address = "::1"\ntls_www_server\nsigning_key\n' + dates)
    certtool('--generate-privkey', '--key-type=ecdsa', '--outfile', str(directory / 'ca.key'))
    certtool('--generate-self-signed', '--load-privkey', str(directory / 'ca.key'),
             '--template', str(directory / 'ca.tmpl'), '--outfile', str(directory / 'ca.pem'))
    certtool('--generate-privkey', '--key-type=ecdsa', '--outfile', str(directory / 'leaf.key'))
    certtool('--generate-certificate', '--load-privkey', str(directory / 'leaf.key'),
             '--load-ca-certificate', str(directory / 'ca.pem'),
             '--load-ca-privkey', str(directory / 'ca.key'),
             '--template', str(directory / 'leaf.tmpl'), '--outfile', str(directory / 'leaf.pem'))
    return directory


class Pebble:
    """pebble-challtestsrv and pebble, started in their own process groups.

    challtestsrv is always the mock DNS.  Without http_port it also serves the http-01
    challenges pebble validates; with http_port its own challenge servers stay off and pebble
    validates against that port (a server of the test's own).  validity: pebble's
    certificateValidityPeriod in seconds; env: more environment for pebble; the TLS window:
    how long before and after now pebble's own certificate is valid."""

    def __init__(self, directory, nonce_reject=0, alternate_roots=0, http_port=None,
                 validity=None, env=None, tls_valid_days_ago=0, tls_valid_days_ahead=2):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.processes = []
        self.ports = {name: free_port() for name in
                      ('acme', 'management', 'tls', 'dns', 'challtestsrv')}
        self.challtestsrv_http01 = http_port is None
        self.ports['http01'] = free_port() if http_port is None else http_port
        self.nonce_reject = nonce_reject
        self.alternate_roots = alternate_roots
        self.validity = validity
        self.extra_env = dict(env or {})
        self.tls_valid_days_ago = tls_valid_days_ago
        self.tls_valid_days_ahead = tls_valid_days_ahead

    @property
    def directory_url(self):
        return f'https://127.0.0.1:{self.ports["acme"]}/dir'

    @property
    def ca_bundle(self):
        return str(self.directory / 'ca.pem')

    @property
    def challtestsrv_url(self):
        return f'http://127.0.0.1:{self.ports["challtestsrv"]}'

    def __enter__(self):
        try:
            make_server_tls(self.directory, 'pebble', self.tls_valid_days_ago,
                            self.tls_valid_days_ahead)
            self._start_challtestsrv()
            self._start_pebble()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, name, argv, env):
        out = open(self.directory / f'{name}.log', 'wb')
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append((name, process))
        return process

    def _start_challtestsrv(self):
        p = self.ports
        http01 = f'127.0.0.1:{p["http01"]}' if self.challtestsrv_http01 else ''
        self._spawn('challtestsrv', [
            CHALLTESTSRV, '-dns01', f'127.0.0.1:{p["dns"]}', '-defaultIPv4', '127.0.0.1',
            '-defaultIPv6', '', '-http01', http01, '-https01', '',
            '-tlsalpn01', '', '-management', f'127.0.0.1:{p["challtestsrv"]}'],
            clean_environment())
        self._wait_for_port('challtestsrv', p['challtestsrv'])
        if self.challtestsrv_http01:
            self._wait_for_port('challtestsrv', p['http01'])

    def _start_pebble(self):
        p = self.ports
        config = {'pebble': {
            'listenAddress': f'127.0.0.1:{p["acme"]}',
            'managementListenAddress': f'127.0.0.1:{p["management"]}',
            'certificate': str(self.directory / 'leaf.pem'),
            'privateKey': str(self.directory / 'leaf.key'),
            'httpPort': p['http01'],
            'tlsPort': p['tls'],
            'ocspResponderURL': '',
            'externalAccountBindingRequired': False,
        }}
        if self.validity:
            config['pebble']['certificateValidityPeriod'] = int(self.validity)
        (self.directory / 'pebble.json').write_text(json.dumps(config))
        env = clean_environment({
            'PEBBLE_VA_NOSLEEP': '1',
            'PEBBLE_WFE_NONCEREJECT': str(self.nonce_reject),
            'PEBBLE_AUTHZREUSE': '0',
            'PEBBLE_ALTERNATE_ROOTS': str(self.alternate_roots),
        })
        env.update(self.extra_env)
        self._spawn('pebble', [PEBBLE, '-config', str(self.directory / 'pebble.json'),
                               '-dnsserver', f'127.0.0.1:{p["dns"]}'], env)
        self._wait_for_port('pebble', p['acme'])
        self._wait_for_port('pebble', p['management'])

    def _wait_for_port(self, name, port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc_name, process in self.processes:
                if process.poll() is not None:
                    raise Failure(f'{proc_name} exited with {process.returncode}:\n' +
                                  self.log_of(proc_name))
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise Failure(f'{name} did not listen on 127.0.0.1:{port} within {timeout} s')

    def log_of(self, name):
        path = self.directory / f'{name}.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def management_pem(self, path):
        """A PEM from pebble's management API, e.g. /roots/0."""
        context = ssl.create_default_context(cafile=self.ca_bundle)
        url = f'https://127.0.0.1:{self.ports["management"]}{path}'
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        with opener.open(url, timeout=10) as response:
            return response.read().decode()

    def stop(self):
        for _, process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait()
        self.processes = []


class Driver:
    """Runs acme_driver against one pebble and reads its "key: value" lines."""

    def __init__(self, pebble, workdir):
        self.binary = os.environ.get('ACME_DRIVER', '')
        check(os.access(self.binary, os.X_OK), f'ACME_DRIVER={self.binary!r} is not executable')
        self.pebble = pebble
        self.workdir = workdir

    def run(self, *args, timeout=240):
        argv = [self.binary, *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                env=clean_environment(), cwd=self.workdir)
        log(f'$ {" ".join(argv[1:])}\n{result.stdout}{result.stderr}'.rstrip())
        return result.returncode, result.stdout

    def genkey(self, name, kind='ec'):
        path = str(self.workdir / name)
        code, out = self.run('genkey', path, kind)
        check(code == 0, f'genkey failed: {out}')
        return path

    def connection(self, key):
        return ['--directory', self.pebble.directory_url, '--ca-bundle', self.pebble.ca_bundle,
                '--key', key]

    def account(self, key, *extra):
        return self.run('account', *self.connection(key), *extra)

    def issue(self, key, names, *extra):
        name_args = [arg for name in names for arg in ('--name', name)]
        return self.run('issue', *self.connection(key), '--challtestsrv',
                        self.pebble.challtestsrv_url, '--out-dir', str(self.workdir),
                        *name_args, *extra)


def field(output, key):
    match = re.search(rf'^{re.escape(key)}: (.*)$', output, re.M)
    return match.group(1) if match else None


def certificate_text(path):
    result = subprocess.run(['certtool', '-i', '--infile', str(path)], capture_output=True,
                            text=True, env=clean_environment())
    check(result.returncode == 0, f'certtool could not read {path}: {result.stderr}')
    return result.stdout


def subject_common_name(pem_text, workdir):
    path = workdir / 'subject.pem'
    path.write_text(pem_text)
    match = re.search(r'Subject: .*?CN=([^,\n]+)', certificate_text(path))
    check(match is not None, 'no subject CN in a pebble root')
    return match.group(1)


def topmost_issuer_common_name(chain_path, workdir):
    pems = re.findall(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----',
                      chain_path.read_text(), re.S)
    check(len(pems) >= 2, f'{chain_path} holds {len(pems)} certificates, expected a chain')
    top = workdir / 'top.pem'
    top.write_text(pems[-1] + '\n')
    match = re.search(r'Issuer: .*?CN=([^,\n]+)', certificate_text(top))
    check(match is not None, 'no issuer CN in the topmost certificate')
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Scenarios


def account_create_and_lookup(pebble, driver):
    for kind, algorithm in (('ec', 'ES256'), ('rsa', 'RS256')):
        key = driver.genkey(f'account-{kind}.key', kind)
        code, out = driver.account(key, '--agree-tos', '--email', 'admin@acme.test')
        check(code == 0, f'creating a {kind} account failed')
        check(field(out, 'created') == 'true', 'the account was not reported as created')
        check(field(out, 'algorithm') == algorithm, f'the {kind} key did not sign {algorithm}')
        url = field(out, 'account-url') or ''
        check(url.startswith(f'https://127.0.0.1:{pebble.ports["acme"]}/'),
              f'unexpected account URL {url!r}')
        code, out = driver.account(key)
        check(code == 0, 'looking the account up again failed')
        check(field(out, 'created') == 'false', 'the lookup created a second account')
        check(field(out, 'account-url') == url, 'the lookup found a different account URL')


def field_bc_13_existing_key_without_account(pebble, driver):
    key = driver.genkey('existing.key')
    digest = hashlib.sha256(pathlib.Path(key).read_bytes()).hexdigest()
    code, out = driver.account(key)
    check(code != 0, 'an account was used although none exists and agree-tos is off')
    check(field(out, 'error-name') == 'AgreeTosRequired', 'wrong error name')
    message = field(out, 'error') or ''
    check('acme.agree-tos = true' in message, f'the error does not name the setting: {message}')
    code, out = driver.account(key, '--agree-tos')
    check(code == 0 and field(out, 'created') == 'true', 'creating with agree-tos failed')
    code, out = driver.account(key)
    check(code == 0 and field(out, 'created') == 'false',
          'the account created with agree-tos was not found by a later lookup')
    check(hashlib.sha256(pathlib.Path(key).read_bytes()).hexdigest() == digest,
          'the account key file changed')


def full_issuance(pebble, driver):
    names = ['acme.test', 'www.acme.test']
    preferred = subject_common_name(pebble.management_pem('/roots/1'), driver.workdir)
    key = driver.genkey('account.key')
    code, out = driver.issue(key, names, '--agree-tos', '--preferred-chain', preferred)
    check(code == 0, 'issuance failed')
    issued = field(out, 'issued') or ''
    check(' chains: 2 ' in issued, f'pebble offered an alternate chain, not seen: {issued}')
    check(' chosen: 1 preferred: true ' in issued, f'the preferred chain was not chosen: {issued}')
    check(re.search(r'cert-id: [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$', issued),
          f'no ARI certID for the new certificate: {issued}')
    check(field(out, 'published') == '2 withdrawn: 2', 'challenges were not all withdrawn')
    chain = driver.workdir / 'cert-1.pem'
    text = certificate_text(chain)
    for name in names:
        check(f'DNSname: {name}' in text, f'the certificate does not name {name}')
    check(topmost_issuer_common_name(chain, driver.workdir) == preferred,
          'the written chain does not lead to the preferred root')
    root = driver.workdir / 'root-1.pem'
    root.write_text(pebble.management_pem('/roots/1'))
    verify = subprocess.run(['certtool', '--verify', '--load-ca-certificate', str(root),
                             '--infile', str(chain)], capture_output=True, text=True,
                            env=clean_environment())
    check(verify.returncode == 0, f'the chain does not verify to its root:\n{verify.stdout}')

    code, out = driver.issue(key, names[:1], '--preferred-chain', 'No Such Root')
    check(code == 0, 'issuance with an unknown preferred chain failed')
    issued = field(out, 'issued') or ''
    check(' chosen: 0 preferred: false ' in issued,
          f'an unmatched preference did not fall back to the default chain: {issued}')


def bad_nonce_retries(pebble, driver):
    key = driver.genkey('account.key')
    code, out = driver.issue(key, ['acme.test'], '--agree-tos', '--count', '10')
    check(code == 0, 'an issuance failed with half of the nonces rejected')
    check(field(out, 'issued-count') == '10', 'not all 10 issuances succeeded')
    # Without rejected nonces this scenario would prove nothing about the retry.
    retries = int(field(out, 'bad-nonce-retries') or '0')
    check(retries > 0, 'pebble rejected no nonce, so badNonce handling was not exercised')


def invalid_challenge_reports_problem(pebble, driver):
    key = driver.genkey('account.key')
    code, out = driver.issue(key, ['acme.test'], '--agree-tos', '--wrong-key-authorization')
    check(code != 0, 'issuance succeeded with a wrong key authorization')
    name = field(out, 'error-name') or ''
    check(name.startswith(ACME_ERROR), f'the error is not named after a problem type: {name!r}')
    message = field(out, 'error') or ''
    check(name in message, 'the message does not carry the problem type')
    detail = message.split(name, 1)[1].lstrip(': ')
    check(len(detail) > 10, f'the problem detail is missing: {message!r}')
    check("dns 'acme.test'" in message, 'the message does not name the identifier')
    check(field(out, 'published') == '1 withdrawn: 1', 'the failed challenge was not withdrawn')


SCENARIOS = {
    'account_create_and_lookup': (account_create_and_lookup, {}),
    'field_bc_13_existing_key_without_account': (field_bc_13_existing_key_without_account, {}),
    'full_issuance': (full_issuance, {'alternate_roots': 1}),
    'bad_nonce_retries': (bad_nonce_retries, {'nonce_reject': 50}),
    'invalid_challenge_reports_problem': (invalid_challenge_reports_problem, {}),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f'usage: {sys.argv[0]} {"|".join(SCENARIOS)}', file=sys.stderr)
        return 2
    for tool in (PEBBLE, CHALLTESTSRV):
        if not os.access(tool, os.X_OK):
            print(f'FAIL: {tool} is missing (apt-get install pebble)', flush=True)
            return 1
    scenario, pebble_options = SCENARIOS[sys.argv[1]]
    with tempfile.TemporaryDirectory(prefix='acme-pebble-') as tmp:
        workdir = pathlib.Path(tmp)
        try:
            with Pebble(workdir, **pebble_options) as pebble:
                scenario(pebble, Driver(pebble, workdir))
        except (Failure, subprocess.SubprocessError, OSError) as error:
            print(f'FAIL: {sys.argv[1]}: {error}', flush=True)
            return 1
    print(f'PASS: {sys.argv[1]}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
