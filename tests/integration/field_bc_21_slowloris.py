#!/usr/bin/python3
"""BC-21: stuck handshakes cannot take the daemon down.  Connections that send nothing, half a
ClientHello, or finish the handshake and then say nothing are closed within http.timeout; a
well-behaved client from another address is served meanwhile; one connection more than
http.per-ip-limit from the attacking address is closed at once; filling http.connection-limit only
lasts until the timeout."""

import ssl
import threading
import time

import harness
from harness import expect, expect_eq

TIMEOUT = 3
SLACK = 2.5
CONNECTION_LIMIT = 16
PER_IP_LIMIT = 6
ATTACKER = '127.0.0.2'


def client_hello():
    """The first flight of a real TLS client, as bytes."""
    context = harness.client_context(verify=False)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=harness.DOMAIN)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = outgoing.read()
    expect(len(data) > 100, f'ClientHello of {len(data)} bytes')
    return data


class Watched:
    """Connections whose closing time by the daemon is recorded in the background."""

    def __init__(self):
        self.closed = {}
        self.opened = {}
        self.threads = []
        self.lock = threading.Lock()

    def add(self, name, sock):
        self.opened[name] = time.monotonic()
        thread = threading.Thread(target=self._watch, args=(name, sock), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _watch(self, name, sock):
        after = harness.wait_closed(sock, 2 * TIMEOUT + SLACK + 1)
        with self.lock:
            self.closed[name] = after
        sock.close()

    def join(self):
        for thread in self.threads:
            thread.join()


def good_client(daemon, rounds, pause):
    failures = []
    for number in range(rounds):
        result = daemon.curl(f'/square/{number + 2}', timeout=5)
        if result.status != 200 or result.body != str((number + 2) ** 2).encode():
            failures.append(result)
        time.sleep(pause)
    return failures


def per_ip_phase(report, daemon):
    hello = client_hello()
    watched = Watched()
    with report.case(f'{PER_IP_LIMIT} stuck connections from {ATTACKER} do not stop a client '
                     'from 127.0.0.1, and all are closed within the timeout'):
        for number in range(PER_IP_LIMIT):
            sock = harness.connect('127.0.0.1', daemon.https_port, source=ATTACKER)
            if number % 2:
                sock.sendall(hello[:len(hello) // 2])
            watched.add(f'{ATTACKER}#{number} ({"half ClientHello" if number % 2 else "silent"})',
                        sock)
        for number in range(2):
            tls = harness.tls_connect(daemon.https_port, source='127.0.0.3',
                                      cafile=daemon.sandbox.pki.root)
            watched.add(f'127.0.0.3#{number} (handshake done, no request)', tls)
        for number, data in enumerate((b'', b'GET / HTTP/1.1\r\nHost: api.test\r\n')):
            sock = harness.connect('127.0.0.1', daemon.http_port, source='127.0.0.7')
            if data:
                sock.sendall(data)
            watched.add(f'plain port 127.0.0.7#{number} ({"half a request" if data else "silent"})',
                        sock)
        time.sleep(0.3)
        with report.case(f'connection {PER_IP_LIMIT + 1} from {ATTACKER} is closed at once'):
            extra = harness.connect('127.0.0.1', daemon.https_port, source=ATTACKER)
            after = harness.wait_closed(extra, 1.5)
            extra.close()
            expect(after is not None, f'connection {PER_IP_LIMIT + 1} from {ATTACKER} stayed '
                                      f'open past 1.5 s with http.per-ip-limit={PER_IP_LIMIT}')
        failures = good_client(daemon, 4, 0.4)
        expect_eq(failures, [], 'requests of the well-behaved client that failed')
        watched.join()
        problems = []
        for name in watched.opened:
            after = watched.closed.get(name)
            if after is None:
                problems.append(f'{name} still open {2 * TIMEOUT + SLACK + 1} s later')
            elif after > TIMEOUT + SLACK:
                problems.append(f'{name} closed after {after:.1f} s')
            elif after < TIMEOUT - 1.5:
                problems.append(f'{name} closed after only {after:.1f} s')
        expect(not problems, f'with http.timeout={TIMEOUT} (+{SLACK} s slack): '
                             + '; '.join(problems))


def connection_limit_phase(report, daemon):
    watched = Watched()
    with report.case(f'{CONNECTION_LIMIT + 2} silent connections from three addresses fill '
                     'http.connection-limit only until the timeout, then clients are served'):
        sources = ['127.0.0.4', '127.0.0.5', '127.0.0.6']
        for number in range(CONNECTION_LIMIT + 2):
            source = sources[number % 3]
            sock = harness.connect('127.0.0.1', daemon.https_port, source=source)
            watched.add(f'{source}#{number}', sock)
        # Past the limit the daemon closes a connection at once or leaves it in the listen
        # backlog until a slot frees; either way everything is gone after two timeouts.
        watched.join()
        problems = []
        for name in watched.opened:
            after = watched.closed.get(name)
            if after is None:
                problems.append(f'{name} still open {2 * TIMEOUT + SLACK + 1} s later')
            elif after > 2 * TIMEOUT + SLACK:
                problems.append(f'{name} closed after {after:.1f} s')
        expect(not problems, f'with http.timeout={TIMEOUT} (+{SLACK} s slack): '
                             + '; '.join(problems))
        failures = good_client(daemon, 2, 0)
        expect_eq(failures, [], 'requests after the connections timed out that failed')


def main():
    report = harness.Report('field_bc_21_slowloris')
    with harness.Sandbox('bc21') as sandbox:
        sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args() + [
            f'--http.timeout={TIMEOUT}', f'--http.connection-limit={CONNECTION_LIMIT}',
            f'--http.per-ip-limit={PER_IP_LIMIT}'])
        per_ip_phase(report, daemon)
        connection_limit_phase(report, daemon)
        with report.case('daemon still running and serving'):
            expect(daemon.alive(), f'daemon died: {daemon.daemon_stderr()[-500:]}')
            expect_eq(daemon.curl('/health', timeout=5).status, 200, '/health status')
    report.finish()


if __name__ == '__main__':
    main()
