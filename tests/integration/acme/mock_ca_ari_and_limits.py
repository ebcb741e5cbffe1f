#!/usr/bin/python3
"""Renewal information (RFC 9773) and the transport's limits, against a small HTTPS responder.

Pebble 2.4 offers no renewalInfo, so this script serves a directory of its own on 127.0.0.1 over
HTTPS (a certtool-made CA) and checks, through acme_driver:
  - the certID the library computes for a certtool-issued certificate, the GET it sends, the
    suggested window and explanation URL it reads, and the Retry-After it reports;
  - a CA without renewalInfo, and one whose renewalInfo answers 500 with a problem document;
  - a body over the size cap, with and without Content-Length, and a response slower than the
    total timeout; each must fail quickly and say why.

Usage: mock_ca_ari_and_limits.py   (ACME_DRIVER names the built acme_driver)
"""

import base64
import http.server
import json
import os
import pathlib
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from pebble_acme import Failure, certtool, check, clean_environment, field, log  # noqa: E402

HUGE = 2 * 1024 * 1024
WINDOW = {'start': '2031-01-02T04:00:00Z', 'end': '2031-01-03T04:00:00Z'}
EXPLANATION = 'https://ca.example/docs/ari'


class Responder(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    seen = []
    user_agents = set()

    def log_message(self, *args):
        pass

    def base(self):
        return f'https://127.0.0.1:{self.server.server_address[1]}'

    def directory(self, prefix, with_ari=True):
        body = {'newNonce': f'{self.base()}{prefix}/nonce',
                'newAccount': f'{self.base()}{prefix}/acct',
                'newOrder': f'{self.base()}{prefix}/order',
                'revokeCert': f'{self.base()}{prefix}/revoke',
                'meta': {'termsOfService': f'{self.base()}/tos'}}
        if with_ari:
            body['renewalInfo'] = f'{self.base()}{prefix}/ari'
        return body

    def send(self, status, body, content_type='application/json', headers=(), length=True):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header('Content-Length', str(len(data)))
        else:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(data)
        except (ConnectionError, ssl.SSLError):
            pass  # the client gave up on purpose (size cap, timeout)

    def do_GET(self):
        Responder.seen.append(self.path)
        Responder.user_agents.add(self.headers.get('User-Agent', ''))
        path = self.path
        if path in ('/ok/dir', '/failing/dir'):
            self.send(200, self.directory(path[:-4]))
        elif path == '/noari/dir':
            self.send(200, self.directory('/noari', with_ari=False))
        elif path.startswith('/ok/ari/'):
            self.send(200, {'suggestedWindow': WINDOW, 'explanationURL': EXPLANATION},
                      headers=[('Retry-After', '21600')])
        elif path.startswith('/failing/ari/'):
            self.send(500, {'type': 'urn:ietf:params:acme:error:serverInternal',
                            'detail': 'renewal information is resting'},
                      content_type='application/problem+json')
        elif path == '/huge-length/dir':
            self.send(200, b' ' * HUGE)
        elif path == '/huge-stream/dir':
            self.send(200, b' ' * HUGE, length=False)
        elif path == '/slow/dir':
            time.sleep(3)
            self.send(200, self.directory('/slow'))
        else:
            self.send(404, {'type': 'about:blank', 'detail': 'no such path'},
                      content_type='application/problem+json')


def make_pki(directory):
    """A CA that serves as both the responder's TLS trust root and the ARI test issuer."""
    (directory / 'ca.tmpl').write_text(
        'cn = "secure-api mock CA"\nca\ncert_signing_key\nexpiration_days = 2\n')
    (directory / 'server.tmpl').write_text(
        'cn = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\n'
        'expiration_days = 2\n')
    (directory / 'leaf.tmpl').write_text(
        'cn = "renew.acme.test"\ndns_name = "renew.acme.test"\nserial = 0x0a1b2c3d4e\n'
        'signing_key\nexpiration_days = 2\n')
    certtool('--generate-privkey', '--key-type=ecdsa', '--outfile', str(directory / 'ca.key'))
    certtool('--generate-self-signed', '--load-privkey', str(directory / 'ca.key'),
             '--template', str(directory / 'ca.tmpl'), '--outfile', str(directory / 'ca.pem'))
    for name in ('server', 'leaf'):
        certtool('--generate-privkey', '--key-type=ecdsa', '--outfile',
                 str(directory / f'{name}.key'))
        certtool('--generate-certificate', '--load-privkey', str(directory / f'{name}.key'),
                 '--load-ca-certificate', str(directory / 'ca.pem'),
                 '--load-ca-privkey', str(directory / 'ca.key'),
                 '--template', str(directory / f'{name}.tmpl'),
                 '--outfile', str(directory / f'{name}.pem'))


def expected_cert_id(pem_path):
    """base64url(AKI) "." base64url(serial), computed from certtool's own description."""
    info = subprocess.run(['certtool', '-i', '--infile', str(pem_path)], capture_output=True,
                          text=True, check=True, env=clean_environment()).stdout
    aki = re.search(r'Authority Key Identifier.*?\n\s+([0-9a-f]+)', info)
    serial = re.search(r'Serial Number \(hex\): ([0-9a-f]+)', info)
    check(aki and serial, 'certtool shows no AKI or serial for the test certificate')

    def b64url(hex_text):
        return base64.urlsafe_b64encode(bytes.fromhex(hex_text)).decode().rstrip('=')
    return f'{b64url(aki.group(1))}.{b64url(serial.group(1))}'


def run_driver(*args):
    binary = os.environ.get('ACME_DRIVER', '')
    started = time.monotonic()
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60,
                            env=clean_environment())
    elapsed = time.monotonic() - started
    log(f'$ {" ".join(args)}  ({elapsed:.1f} s)\n{result.stdout}{result.stderr}'.rstrip())
    return result.returncode, result.stdout, elapsed


def check_renewal_info(base, workdir):
    leaf = workdir / 'leaf.pem'
    cert_id = expected_cert_id(leaf)
    code, out, _ = run_driver('renewal-info', '--directory', f'{base}/ok/dir', '--ca-bundle',
                              str(workdir / 'ca.pem'), '--cert', str(leaf))
    check(code == 0, 'fetching renewal information failed')
    check(field(out, 'cert-id') == cert_id,
          f'certID {field(out, "cert-id")!r}, expected {cert_id!r}')
    check(f'/ok/ari/{cert_id}' in Responder.seen, 'the renewalInfo GET did not use the certID')
    check(field(out, 'window-start') == WINDOW['start'], 'wrong window start')
    check(field(out, 'window-end') == WINDOW['end'], 'wrong window end')
    check(field(out, 'explanation-url') == EXPLANATION, 'wrong explanation URL')
    check(field(out, 'retry-after') == '21600', 'the Retry-After was not reported')
    agents = sorted(Responder.user_agents)
    check(len(agents) == 1 and re.fullmatch(r'secure-api/\d+\.\d+\.\d+', agents[0]),
          f'the requests did not identify as secure-api/<version>: {agents}')

    code, out, _ = run_driver('renewal-info', '--directory', f'{base}/noari/dir', '--ca-bundle',
                              str(workdir / 'ca.pem'), '--cert', str(leaf))
    check(code != 0 and field(out, 'error-name') == 'AriUnsupported',
          'a CA without renewalInfo was not reported as such')

    code, out, _ = run_driver('renewal-info', '--directory', f'{base}/failing/dir',
                              '--ca-bundle', str(workdir / 'ca.pem'), '--cert', str(leaf))
    check(code != 0, 'a failing renewalInfo endpoint was not an error')
    check(field(out, 'error-name') == 'urn:ietf:params:acme:error:serverInternal',
          'the 500 problem document did not name the error')
    check('renewal information is resting' in (field(out, 'error') or ''),
          'the problem detail is missing from the error')


def check_limits(base, workdir):
    ca = str(workdir / 'ca.pem')
    for path in ('/huge-length/dir', '/huge-stream/dir'):
        code, out, _ = run_driver('directory', '--directory', base + path, '--ca-bundle', ca)
        check(code != 0, f'a {HUGE}-byte body at {path} was accepted')
        check('larger than 1048576 bytes' in (field(out, 'error') or ''),
              f'the size-cap error for {path} does not say so')

    code, out, elapsed = run_driver('directory', '--directory', f'{base}/slow/dir',
                                    '--ca-bundle', ca, '--total-timeout-ms', '500')
    check(code != 0, 'a response slower than the total timeout was accepted')
    check(elapsed < 2.5, f'the 500 ms timeout took {elapsed:.1f} s')
    check('timed out' in (field(out, 'error') or '').lower(), 'the error does not say timed out')

    code, out, _ = run_driver('directory', '--directory', f'{base}/ok/dir', '--ca-bundle', ca)
    check(code == 0, 'the plain directory fetch failed')
    check(field(out, 'renewal-info') == f'{base}/ok/ari', 'renewalInfo was not read')
    check(field(out, 'server-date') not in (None, '-'), 'the Date header was not kept')

    code, out, _ = run_driver('directory', '--directory', f'{base}/ok/dir')
    check(code != 0, 'a server certificate outside the system trust store was accepted')


def main():
    with tempfile.TemporaryDirectory(prefix='acme-mock-ca-') as tmp:
        workdir = pathlib.Path(tmp)
        server = None
        try:
            make_pki(workdir)
            server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Responder)
            server.daemon_threads = True
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(workdir / 'server.pem', workdir / 'server.key')
            server.socket = context.wrap_socket(server.socket, server_side=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base = f'https://127.0.0.1:{server.server_address[1]}'
            check_renewal_info(base, workdir)
            check_limits(base, workdir)
        except (Failure, subprocess.SubprocessError, OSError) as error:
            print(f'FAIL: mock_ca_ari_and_limits: {error}', flush=True)
            return 1
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    print('PASS: mock_ca_ari_and_limits', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
