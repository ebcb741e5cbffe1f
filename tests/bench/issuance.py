"""One http-01 issuance from Debian's pebble, by secure-api-renew and by certbot, lego and uacme.

Everything runs on loopback: pebble and pebble-challtestsrv (DNS only: every name is 127.0.0.1)
as the tests start them (tests/integration/renew/renew_harness.py), PEBBLE_VA_NOSLEEP=1 and
PEBBLE_AUTHZREUSE=0, so each run validates afresh and the clients are timed, not pebble's sleep.

Each measured run is a first issuance from nothing: a new account, an order for one name, the
http-01 challenge, finalize with a fresh ECDSA P-256 key, download, install.  The clients:

- secure-api-renew as deployed: the challenge published to a running secure-apid over a private
  D-Bus, which answers it on its http socket, and the daemon told to reload at the end;
- secure-api-renew with acme.challenge = webroot, the way the other clients work here;
- certbot certonly --webroot, lego run --http.webroot, uacme new + issue with Debian's
  /usr/share/uacme/uacme.sh hook: all three write into a webroot that nginx serves on the port
  pebble validates (the reference stack's shape).

/usr/bin/time -v wraps every client process for CPU time and peak RSS; wall time is taken
around it.  The runs are interleaved (the client order rotates per repetition) after one
unmeasured warm-up run per client.  A second pebble pair with PEBBLE_WFE_NONCEREJECT=50 then
counts how many of N first issuances each client completes when half of its nonces are refused.
"""

import collections
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'integration' / 'renew'))

import renew_harness as rh  # noqa: E402
import report  # noqa: E402
from stacks import log, nginx_temp_paths  # noqa: E402

DOMAIN = rh.DOMAIN
EMAIL = f'admin@{DOMAIN}'
RUN_TIMEOUT = 180  # seconds one client run may take before it counts as failed
UACME_HOOK = '/usr/share/uacme/uacme.sh'
PHASES = {'timing': 'timed runs', 'nonce': '50 % of nonces refused'}

NGINX_WEBROOT = """\
# The work directory is private to root (mkdtemp): the workers run as root to read the webroot.
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
        root {webroot};
        location /.well-known/acme-challenge/ {{
            default_type text/plain;
        }}
    }}
}}
"""


# ---------------------------------------------------------------------------------------------
# Timing one process


def parse_time_report(path):
    """CPU seconds (user + system), peak RSS in KiB and exit status from GNU time's -v file."""
    values = {}
    for line in pathlib.Path(path).read_text().splitlines():
        name, _, value = line.strip().rpartition(': ')
        values[name] = value
    return {'cpu': float(values['User time (seconds)']) + float(values['System time (seconds)']),
            'rss': int(values['Maximum resident set size (kbytes)']),
            'status': int(values['Exit status'])}


def timed(argv, env, report_path, prefix=(), log_path=None):
    """Runs argv under /usr/bin/time -v (inside prefix, e.g. a mount namespace) and returns
    wall, cpu, rss, status and the tail of its output."""
    full = list(prefix) + ['/usr/bin/time', '-v', '-o', str(report_path)] + list(argv)
    started = time.monotonic()
    try:
        result = subprocess.run(full, env=env, capture_output=True, timeout=RUN_TIMEOUT,
                                start_new_session=True)
    except subprocess.TimeoutExpired as expired:
        output = (expired.stderr or b'') + (expired.stdout or b'')
        return {'wall': None, 'cpu': None, 'rss': None, 'status': 'timeout',
                'output': output.decode(errors='replace')}
    wall = time.monotonic() - started
    output = (result.stdout + result.stderr).decode(errors='replace')
    if log_path:
        with open(log_path, 'a') as stream:
            stream.write(f'$ {" ".join(full)}\n{output}\n')
    try:
        measured = parse_time_report(report_path)
    except (OSError, KeyError, ValueError):
        measured = {'cpu': None, 'rss': None, 'status': result.returncode}
    return {'wall': wall, **measured, 'output': output}


def combine(steps):
    """One issuance made of several processes (uacme new + issue): times add, peaks do not."""
    if any(s['wall'] is None for s in steps):
        return {'wall': None, 'cpu': None, 'rss': None, 'status': 'timeout',
                'output': steps[-1]['output']}
    failed = next((s for s in steps if s['status'] != 0), None)
    return {'wall': sum(s['wall'] for s in steps), 'cpu': sum(s['cpu'] for s in steps),
            'rss': max(s['rss'] for s in steps),
            'status': failed['status'] if failed else 0,
            'output': (failed or steps[-1])['output']}


def issued_names(cert_path):
    """The DNS names of the first certificate in a PEM file, or None if there is none."""
    try:
        text = subprocess.run(['certtool', '-i', '--infile', str(cert_path)], check=True,
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(set(re.findall(r'DNSname: (\S+)', text)))


def environment(extra=None):
    """No proxies, no journal, no terminal prompts: the clients talk to loopback only."""
    env = rh.clean_environment(extra)
    env.pop('DBUS_SESSION_BUS_ADDRESS', None)
    return env


# ---------------------------------------------------------------------------------------------
# The clients.  Each run() starts from an empty state of its own and returns the timing plus
# 'ok' (exit 0 and a certificate for DOMAIN where the client keeps it).


class Client:
    name = ''
    version_command = None

    def __init__(self, bench):
        self.bench = bench
        self.home = bench.dir / self.key
        self.home.mkdir()
        self.runs = 0

    @property
    def key(self):
        return re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')

    def fresh(self):
        """An empty directory for this run's state (the previous run's is removed)."""
        self.runs += 1
        state = self.home / 'state'
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir()
        return state

    def report_path(self, step=''):
        return self.home / f'time-{self.runs}{step}.txt'

    def version(self):
        if not self.version_command:
            return ''
        result = subprocess.run(self.version_command, capture_output=True, text=True,
                                timeout=30)
        text = (result.stdout + result.stderr).strip().splitlines()
        return text[0] if text else ''

    def check(self, measured, cert_path):
        names = issued_names(cert_path) if measured['status'] == 0 else None
        measured['ok'] = names == [DOMAIN]
        if measured['status'] == 0 and not measured['ok']:
            measured['output'] += f'\n(exit 0, but {cert_path} names {names})'
        return measured


class SecureApiRenew(Client):
    def __init__(self, bench, webroot_mode):
        self.webroot_mode = webroot_mode
        self.name = 'secure-api-renew (webroot)' if webroot_mode else 'secure-api-renew'
        super().__init__(bench)
        self.version_command = [bench.renew_binary, '--version']

    def run(self, pebble):
        sandbox = self.bench.sandbox
        # One state directory for both modes, the daemon's: the renewer installs where the
        # daemon reads, and the daemon's Reload must see the new pair.  A run from nothing
        # means no account (acme/ gone) and no decision to wait (--force).
        self.runs += 1
        shutil.rmtree(sandbox.acme_dir, ignore_errors=True)
        extra = ''
        if self.webroot_mode:
            extra = f'challenge = webroot\nwebroot = {self.bench.webroot}\n'
        config = self.home / f'config-{self.runs}.conf'
        config.write_text(
            f'domain = {DOMAIN}\n\n[acme]\ndirectory = {pebble.directory_url}\n'
            f'ca-bundle = {pebble.ca_bundle}\nemail = {EMAIL}\nagree-tos = true\n'
            f'state-directory = {sandbox.state_dir}\n' + extra)
        env = environment({'DBUS_SYSTEM_BUS_ADDRESS': sandbox.bus.address})
        argv = [self.bench.renew_binary, f'--config={config}', '--force']
        measured = timed(argv, env, self.report_path(), log_path=self.home / 'output.log')
        measured = self.check(measured, sandbox.live_cert_path)
        if measured['ok'] and rh.ISSUED_MESSAGE not in measured['output']:
            measured['ok'] = False
        return measured


class Certbot(Client):
    name = 'certbot'
    version_command = ['certbot', '--version']

    def run(self, pebble):
        state = self.fresh()
        argv = ['certbot', 'certonly', '--non-interactive', '--agree-tos', '--email', EMAIL,
                '--no-eff-email', '--server', pebble.directory_url, '--webroot',
                '--webroot-path', str(self.bench.webroot), '--domain', DOMAIN,
                '--key-type', 'ecdsa', '--elliptic-curve', 'secp256r1',
                '--config-dir', str(state / 'config'), '--work-dir', str(state / 'work'),
                '--logs-dir', str(state / 'logs')]
        env = environment({'REQUESTS_CA_BUNDLE': pebble.ca_bundle})
        measured = timed(argv, env, self.report_path(), log_path=self.home / 'output.log')
        if measured['status'] != 0:
            # certbot prints the reason to its log file only.
            log_file = state / 'logs' / 'letsencrypt.log'
            if log_file.exists():
                measured['output'] += '\n' + log_file.read_text(errors='replace')
        return self.check(measured, state / 'config' / 'live' / DOMAIN / 'fullchain.pem')


class Lego(Client):
    name = 'lego'
    version_command = ['dpkg-query', '-W', '-f', 'lego ${Version}', 'lego']

    def run(self, pebble):
        state = self.fresh()
        argv = ['lego', '--accept-tos', '--email', EMAIL, '--server', pebble.directory_url,
                '--domains', DOMAIN, '--key-type', 'ec256', '--http', '--http.webroot',
                str(self.bench.webroot), '--path', str(state), 'run']
        env = environment({'LEGO_CA_CERTIFICATES': pebble.ca_bundle})
        measured = timed(argv, env, self.report_path(), log_path=self.home / 'output.log')
        return self.check(measured, state / 'certificates' / f'{DOMAIN}.crt')


class Uacme(Client):
    """uacme has no trust-root option: its libcurl-gnutls reads /etc/ssl/certs.  Each uacme
    process runs in a mount namespace of its own where a directory holding only pebble's CA is
    mounted over /etc/ssl/certs; the machine's trust store is never touched."""

    name = 'uacme'
    version_command = ['uacme', '--version']

    def run(self, pebble):
        state = self.fresh()
        trust = self.home / 'trust'
        trust.mkdir(exist_ok=True)
        shutil.copyfile(pebble.ca_bundle, trust / 'ca-certificates.crt')
        prefix = ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c',
                  'mount --bind "$0" /etc/ssl/certs && exec "$@"', str(trust)]
        common = ['uacme', '--verbose', '--yes', '--confdir', str(state), '--acme-url',
                  pebble.directory_url, '--type', 'EC', '--bits', '256']
        env = environment({'UACME_CHALLENGE_PATH':
                           str(self.bench.webroot / '.well-known' / 'acme-challenge')})
        logs = self.home / 'output.log'
        steps = [timed(common + ['new', EMAIL], env, self.report_path('a'), prefix, logs)]
        if steps[0]['status'] == 0:
            steps.append(timed(common + ['--hook', UACME_HOOK, 'issue', DOMAIN], env,
                               self.report_path('b'), prefix, logs))
        return self.check(combine(steps), state / DOMAIN / 'cert.pem')


# ---------------------------------------------------------------------------------------------
# The bench: daemon, bus, webroot server, two pebbles per rejection rate


class Bench:
    def __init__(self, processes, workdir, renew_binary, daemon_binary):
        self.processes = processes
        self.dir = pathlib.Path(workdir) / 'issuance'
        self.dir.mkdir()
        self.renew_binary = str(renew_binary)
        os.environ['SECURE_APID'] = str(daemon_binary)
        os.environ['SECURE_API_RENEW'] = str(renew_binary)
        self.webroot = self.dir / 'webroot'
        (self.webroot / '.well-known' / 'acme-challenge').mkdir(parents=True)
        self.web_port = rh.harness.free_port()
        self.sandbox = None
        self.nginx = None

    def __enter__(self):
        self.sandbox = rh.RenewSandbox('bench-issuance').__enter__()
        try:
            # The daemon reads the state directory the renewer installs into; its first
            # certificate is the self-signed placeholder.
            config = self.dir / 'daemon.conf'
            config.write_text(f'domain = {DOMAIN}\n\n[acme]\n'
                              f'state-directory = {self.sandbox.state_dir}\n')
            self.sandbox.config = str(config)
            self.sandbox.start_daemon()
            self.nginx = self._start_nginx()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        if self.nginx is not None:
            self.processes.stop(self.nginx)
        self.sandbox.__exit__(*exc)

    def _start_nginx(self):
        directory = self.dir / 'nginx'
        directory.mkdir()
        config = directory / 'nginx.conf'
        config.write_text(NGINX_WEBROOT.format(dir=directory,
                                               temp_paths=nginx_temp_paths(directory),
                                               port=self.web_port, webroot=self.webroot))
        subprocess.run(['nginx', '-t', '-q', '-e', str(directory / 'error.log'), '-c',
                        str(config)], check=True, capture_output=True, timeout=30)
        process = self.processes.spawn('nginx-webroot', ['nginx', '-e',
                                                         str(directory / 'error.log'), '-c',
                                                         str(config)])
        probe = self.webroot / '.well-known' / 'acme-challenge' / 'probe'
        probe.write_text('ok')
        url = f'http://127.0.0.1:{self.web_port}/.well-known/acme-challenge/probe'

        def answers():
            result = subprocess.run(['curl', '-q', '-sS', '--noproxy', '*', '--max-time', '2',
                                     url], capture_output=True, text=True)
            return result.returncode == 0 and result.stdout == 'ok'
        rh.harness.wait_until(answers, 20, interval=0.05, what='nginx serving the webroot')
        probe.unlink()
        return process

    def pebbles(self, nonce_reject):
        """(pebble validating on the daemon's http socket, pebble validating on nginx)."""
        to_daemon = self.sandbox.start_pebble(nonce_reject=nonce_reject)
        to_webroot = self.sandbox.start_pebble(http_port=self.web_port,
                                               nonce_reject=nonce_reject)
        return to_daemon, to_webroot

    def stop_pebbles(self):
        for pebble in self.sandbox.pebbles:
            pebble.stop()
        self.sandbox.pebbles.clear()


def clients_of(bench):
    return [SecureApiRenew(bench, webroot_mode=False), SecureApiRenew(bench, webroot_mode=True),
            Certbot(bench), Lego(bench), Uacme(bench)]


def pebble_for(client, pebbles):
    uses_daemon = isinstance(client, SecureApiRenew) and not client.webroot_mode
    return pebbles[0] if uses_daemon else pebbles[1]


def last_line(output):
    """Why a run failed, in one line: the ACME error type if the output names one, else the
    last line of the output."""
    kinds = re.findall(r'urn:ietf:params:acme:error:(\w+)', output)
    if kinds:
        return f'last ACME error in the output: {kinds[-1]}'
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    nonce = [line for line in lines if 'nonce' in line.lower()]
    if nonce:
        return nonce[-1][:200]
    return lines[-1][:200] if lines else '(no output)'


def measure(processes, workdir, renew_binary, daemon_binary, reps, attempts):
    """Returns {'clients': [...], 'timing': {name: [runs]}, 'nonce': {name: [runs]}, ...}."""
    with Bench(processes, workdir, renew_binary, daemon_binary) as bench:
        clients = clients_of(bench)
        result = {'clients': [{'name': c.name, 'version': c.version()} for c in clients],
                  'timing': {c.name: [] for c in clients},
                  'nonce': {c.name: [] for c in clients},
                  'failures': [], 'reps': reps, 'attempts': attempts}
        pebbles = bench.pebbles(nonce_reject=0)
        for client in clients:
            log(f'issuance warm-up: {client.name}')
            warm = client.run(pebble_for(client, pebbles))
            if not warm['ok']:
                raise RuntimeError(f'{client.name} could not issue from pebble '
                                   f'(status {warm["status"]}): {last_line(warm["output"])}')
        for rep in range(reps):
            order = clients[rep % len(clients):] + clients[:rep % len(clients)]
            for client in order:
                measured = client.run(pebble_for(client, pebbles))
                log(f'[{rep + 1}/{reps}] issuance: {client.name}: {describe(measured)}')
                keep(result, 'timing', client, measured)
        bench.stop_pebbles()
        pebbles = bench.pebbles(nonce_reject=50)
        for attempt in range(attempts):
            order = clients[attempt % len(clients):] + clients[:attempt % len(clients)]
            for client in order:
                measured = client.run(pebble_for(client, pebbles))
                log(f'[{attempt + 1}/{attempts}] issuance, 50% nonces refused: '
                    f'{client.name}: {describe(measured)}')
                keep(result, 'nonce', client, measured)
        bench.stop_pebbles()
    return result


def describe(measured):
    if not measured['ok']:
        return f'failed (status {measured["status"]}): {last_line(measured["output"])}'
    return (f'{measured["wall"]:.2f} s, CPU {measured["cpu"]:.2f} s, '
            f'peak RSS {measured["rss"] / 1024:.1f} MiB')


def keep(result, phase, client, measured):
    result[phase][client.name].append({k: measured[k] for k in ('wall', 'cpu', 'rss', 'status',
                                                                 'ok')})
    if not measured['ok']:
        result['failures'].append({'phase': phase, 'client': client.name,
                                   'status': measured['status'],
                                   'why': last_line(measured['output'])})


# ---------------------------------------------------------------------------------------------
# Output


def stats(runs, field, scale=1.0):
    values = [r[field] * scale for r in runs if r['ok'] and r[field] is not None]
    return report.summary(values)


def table(result):
    header = ['client', 'version', 'wall time (s)', 'CPU time, user + system (s)',
              'peak RSS (MiB)', 'issued with 50 % of nonces refused',
              'wall time then (s)']
    rows = []
    for client in result['clients']:
        name = client['name']
        timing, nonce = result['timing'][name], result['nonce'][name]
        issued = sum(1 for r in nonce if r['ok'])
        rows.append([name, client['version'], report.cell(stats(timing, 'wall')),
                     report.cell(stats(timing, 'cpu')),
                     report.cell(stats(timing, 'rss', 1 / 1024)),
                     f'{issued} of {len(nonce)}', report.cell(stats(nonce, 'wall'))])
    return report.table(header, rows)


def paired(result, mine, theirs, field):
    """Per-repetition ratios theirs / mine (both runs of one repetition succeeded)."""
    def values(client):
        return [r[field] if r['ok'] else None for r in result['timing'][client]]
    return report.paired_ratios(values(theirs), values(mine))


def targets(result):
    """Rows (target, wanted, value: verdict) for run-benchmarks' target table."""
    mine = 'secure-api-renew'
    rows = []
    for other in ('certbot', 'lego', 'uacme'):
        s = report.summary(paired(result, mine, other, 'wall'))
        value = s['median'] if s else None
        rows.append((f'issuance wall time, {other} ÷ secure-api-renew', '> 1×',
                     f'{report.ratio_cell(s)}: {report.verdict(value, 1.0, True, strict=True)}'))
    s = report.summary(paired(result, mine, 'uacme', 'rss'))
    value = s['median'] if s else None
    rows.append(('issuance peak RSS, uacme ÷ secure-api-renew', '> 1×',
                 f'{report.ratio_cell(s)}: {report.verdict(value, 1.0, True, strict=True)}'))
    nonce = result['nonce'][mine]
    issued = sum(1 for r in nonce if r['ok'])
    share = issued / len(nonce) if nonce else None
    rows.append(('issuance with 50 % of nonces refused', '100 %',
                 f'{issued} of {len(nonce)}: {report.verdict(share, 1.0, True)}'))
    return rows


def commands_text(renew_binary):
    return [
        f'secure-api-renew: `{renew_binary} --config=<file: domain, acme.directory, '
        'acme.ca-bundle, acme.email, acme.agree-tos = true, acme.state-directory[, '
        'acme.challenge = webroot, acme.webroot]> --force` with acme/ removed before each run',
        '`certbot certonly --non-interactive --agree-tos --email admin@api.test --no-eff-email '
        '--server <pebble>/dir --webroot --webroot-path <webroot> --domain api.test '
        '--key-type ecdsa --elliptic-curve secp256r1 --config-dir <new> --work-dir <new> '
        '--logs-dir <new>` with REQUESTS_CA_BUNDLE=<pebble CA>',
        '`lego --accept-tos --email admin@api.test --server <pebble>/dir --domains api.test '
        '--key-type ec256 --http --http.webroot <webroot> --path <new> run` with '
        'LEGO_CA_CERTIFICATES=<pebble CA>',
        '`uacme --verbose --yes --confdir <new> --acme-url <pebble>/dir --type EC --bits 256 '
        'new admin@api.test`, then the same with `--hook /usr/share/uacme/uacme.sh issue '
        'api.test` (UACME_CHALLENGE_PATH=<webroot>/.well-known/acme-challenge), each in '
        '`unshare --mount` with a directory holding only pebble\'s CA bound over /etc/ssl/certs; '
        'the two processes\' times are added, their peak RSS is the larger',
        'each wrapped in `/usr/bin/time -v -o <file>`; wall time measured around it',
    ]


def markdown(result, renew_binary):
    lines = [
        f"Issuance from pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0): one first issuance "
        f"(new account, order, http-01, finalize with a P-256 key, download) per client and "
        f"repetition, {result['reps']} repetitions interleaved after one warm-up run each; "
        f"then {result['attempts']} attempts per client against a pebble with "
        f"PEBBLE_WFE_NONCEREJECT=50. Values are median (min–max) of the successful runs.",
        '',
        table(result),
        '',
        'Issuance commands:',
        '',
    ]
    lines += [f'- {text}' for text in commands_text(renew_binary)]
    if result['failures']:
        lines += ['', 'Failed issuance runs, counted by client and reason:', '']
        counted = collections.Counter(
            (PHASES[f['phase']], f['client'], f['status'], f['why']) for f in result['failures'])
        lines += [f'- {phase}, {client}: {count} × exit status {status}, {why}'
                  for (phase, client, status, why), count in counted.items()]
    return '\n'.join(lines)
