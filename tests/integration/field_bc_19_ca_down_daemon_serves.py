#!/usr/bin/python3
"""BC-19: the daemon never depends on the CA.  With acme.directory pointing at a closed port it is
READY within 2 s and serves the certificate it has; on first boot (no certificate files) it is READY
within 2 s all the same and serves a self-signed ECDSA P-256 placeholder that /health and
CertificateSerial describe, until a real pair is reloaded."""

import re

import harness
from harness import expect, expect_eq


def acme_config(sandbox, name, state, closed_port, domain=True):
    text = ''
    if domain:
        text += f'domain = {harness.DOMAIN}\n'
    text += (f'[acme]\ndirectory = https://127.0.0.1:{closed_port}/dir\n'
             f'email = admin@{harness.DOMAIN}\nstate-directory = {state}\n')
    return sandbox.write_config(text, name)


def served_certificate_text(daemon):
    """certtool -i of the leaf a handshake without verification sees."""
    with harness.tls_connect(daemon.https_port, verify=False) as tls:
        der = tls.getpeercert(binary_form=True)
    result = harness.run(['certtool', '-i', '--inder'], input=der, check=True)
    return result.stdout.decode(errors='replace'), harness.der_serial_hex(der)


def expect_placeholder(sandbox, daemon, name):
    text, served = served_certificate_text(daemon)
    expect(f'DNSname: {name}' in text, f'placeholder does not name {name}: {text[:800]}')
    expect('EC/ECDSA' in text and 'SECP256R1' in text,
           f'placeholder is not ECDSA P-256: {re.findall(r"Algorithm.*|Curve.*", text)}')
    subject = re.search(r'Subject: (.*)', text)
    issuer = re.search(r'Issuer: (.*)', text)
    expect(subject and issuer and subject.group(1) == issuer.group(1),
           f'placeholder is not self-signed: issuer {issuer and issuer.group(1)!r}, '
           f'subject {subject and subject.group(1)!r}')
    with harness.tls_connect(daemon.https_port, verify=False) as tls:
        health = harness.HttpConnection(tls).request('GET', '/health')
    expect_eq((health.status, health.body), (200, b''), 'GET /health through the placeholder')
    expect_eq(health.header('x-certificate-status'), 'placeholder', 'X-Certificate-Status')
    reported = health.header('x-certificate-serial') or ''
    expect_eq(harness.normal_serial(reported), harness.normal_serial(served),
              'X-Certificate-Serial against the served serial')
    property_serial = sandbox.bus.get_property('CertificateSerial')
    expect_eq(property_serial, reported, 'CertificateSerial against X-Certificate-Serial')
    warnings = [line for line in daemon.daemon_stderr().splitlines() if line.startswith('<4>')]
    expect(warnings, 'no warning logged about serving a placeholder')
    return served


def main():
    report = harness.Report('field_bc_19_ca_down_daemon_serves')
    with harness.Sandbox('bc19') as sandbox:
        closed_port = harness.free_port()
        v1 = sandbox.pki.leaf('v1')
        state = sandbox.dir / 'state'
        cert_dir = state / 'certs' / harness.DOMAIN
        cert_dir.mkdir(parents=True)
        harness.install(v1, str(cert_dir / 'fullchain.pem'), str(cert_dir / 'privkey.pem'))
        with report.case('CA unreachable, certificate present: READY within 2 s, serves it'):
            config = acme_config(sandbox, 'ca-down.conf', state, closed_port)
            # tls.cert/tls.key come from their defaults under acme.state-directory.
            daemon = sandbox.start_activated([f'--config={config}'], ready=False)
            seconds = daemon.wait_ready(timeout=10)
            expect(seconds <= 2.0, f'READY=1 came {seconds:.2f} s after start (limit 2 s)')
            expect_eq(daemon.served_serial(), v1.serial, 'served serial')
            health = daemon.health()
            expect_eq(health.header('x-certificate-status'), 'loaded', 'X-Certificate-Status')
            expect_eq(health.header('x-certificate-serial'), v1.serial, 'X-Certificate-Serial')
            result = daemon.curl('/square/99')
            expect_eq(result.body, b'9801', 'GET /square/99')
            daemon.stop()

        empty_state = sandbox.dir / 'first-boot-state'
        empty_state.mkdir()
        with report.case('first boot (no certificate files): READY within 2 s, placeholder'):
            config = acme_config(sandbox, 'first-boot.conf', empty_state, closed_port)
            daemon = sandbox.start_activated([f'--config={config}'], ready=False)
            seconds = daemon.wait_ready(timeout=10)
            expect(seconds <= 2.0, f'READY=1 came {seconds:.2f} s after start (limit 2 s)')
            expect_placeholder(sandbox, daemon, harness.DOMAIN)
            result = daemon.curl('/square/5')
            expect(result.returncode != 0, 'curl trusted the placeholder through the test root')
            with harness.tls_connect(daemon.https_port, verify=False) as tls:
                conn = harness.HttpConnection(tls)
                response = conn.request('GET', '/square/5')
                expect_eq(response.body, b'25', 'GET /square/5 through the placeholder')
        with report.case('first boot, then the renewal installs a pair and reloads: loaded'):
            cert_dir = empty_state / 'certs' / harness.DOMAIN
            cert_dir.mkdir(parents=True)
            v2 = sandbox.pki.leaf('v2')
            harness.install(v2, str(cert_dir / 'fullchain.pem'), str(cert_dir / 'privkey.pem'))
            result = sandbox.bus.call('Reload')
            expect(result.ok, f'Reload failed: {result}')
            expect_eq(daemon.served_serial(), v2.serial, 'served serial after the reload')
            health = daemon.health()
            expect_eq(health.header('x-certificate-status'), 'loaded', 'X-Certificate-Status')
            daemon.stop()

        with report.case('no domain configured: the placeholder names localhost'):
            config = acme_config(sandbox, 'no-domain.conf', empty_state / 'none', closed_port,
                                 domain=False)
            daemon = sandbox.start_activated([f'--config={config}'])
            expect_placeholder(sandbox, daemon, 'localhost')
            daemon.stop()

        with report.case('garbage certificate file at start: placeholder, not a crash'):
            garbage = sandbox.dir / 'garbage.pem'
            garbage.write_text('not a certificate\n')
            config = acme_config(sandbox, 'garbage.conf', empty_state / 'none', closed_port)
            daemon = sandbox.start_activated([f'--config={config}', f'--tls.cert={garbage}',
                                              f'--tls.key={garbage}'], ready=False)
            seconds = daemon.wait_ready(timeout=10)
            expect(seconds <= 2.0, f'READY=1 came {seconds:.2f} s after start (limit 2 s)')
            expect_placeholder(sandbox, daemon, harness.DOMAIN)
            daemon.stop()
    report.finish()


if __name__ == '__main__':
    main()
