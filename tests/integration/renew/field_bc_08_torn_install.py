#!/usr/bin/python3
"""BC-08: faults during the installation never leave a torn pair under the live names.

(b) SIGKILL sweep: a forced renewal is first traced with strace to list the installation's
    syscalls (mkdir, fsync, fchmod, rename, symlink); then, for each of them in turn, a forced
    renewal runs under `strace -e inject=<syscall>:signal=KILL:when=<n>`, which kills it on
    entering exactly that call.  After every kill the live fullchain.pem/privkey.pem are either
    the previous pair, byte for byte, or a complete new pair whose key matches the certificate
    (public keys compared with certtool), never empty or mismatched.  The next run removes what
    the kills left behind (temporary files and links, unreferenced generations).  A kill after the
    live link switched but before the daemon was told must not leave the daemon on the old
    certificate for good: the next run hands the installed one over.
(a) ENOSPC: the state directory is a small tmpfs (mounted in a private mount namespace: the script
    re-executes itself under `unshare -m`) filled so that writing the new key fails, and then so
    that the key fits but the certificate does not.  The renewal fails (1), the live pair is
    byte-identical, nothing under the live names is empty, and no temporary file stays.
Also: a renewal that fails before the installation never modifies installed material.
"""

import contextlib
import errno
import os
import re
import shutil
import subprocess
import sys

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
NAMESPACE_MARK = 'SECURE_API_TEST_PRIVATE_MOUNTS'
SWEPT = ('mkdir', 'fsync', 'fchmod', 'rename', 'symlink')
PAGE = 4096


def reexec_in_private_mount_namespace():
    if os.environ.get(NAMESPACE_MARK) == '1':
        return
    os.environ[NAMESPACE_MARK] = '1'
    unshare = shutil.which('unshare')
    if os.geteuid() != 0 or not unshare:
        harness.fatal('needs root and unshare(1) for a private mount namespace (tmpfs)')
    sys.stdout.flush()
    os.execv(unshare, [unshare, '--mount', '--propagation', 'private', sys.executable,
                       os.path.abspath(__file__)] + sys.argv[1:])


# ---------------------------------------------------------------------------------------------


def install_syscalls(sandbox):
    """The swept syscalls of one complete forced renewal, in order, as (name, n-th of its name):
    the points where the kill sweep stops the renewer."""
    trace = sandbox.dir / 'install.trace'
    sandbox.renew('--force', wrapper=['strace', '-f', '-qq', '-o', str(trace), '-e',
                                      'trace=' + ','.join(SWEPT)]).expect_status(rh.RENEWED)
    lines = trace.read_text().splitlines()
    main_pid = lines[0].split()[0]
    points, seen = [], {}
    for line in lines:
        pid, _, call = line.partition(' ')
        match = re.match(r'\s*(\w+)\(', call)
        if pid != main_pid or not match or match.group(1) not in SWEPT:
            continue
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        points.append((name, seen[name], call.strip()[:160]))
    return points


def check_live_pair(sandbox, before, where):
    """The live names hold the previous pair or a complete matching new one: 'old' or 'new'."""
    pair = sandbox.live_pair()
    expect(pair is not None, f'{where}: the live fullchain.pem or privkey.pem is missing')
    cert, key = pair
    expect(cert and key, f'{where}: a live file is empty (cert {len(cert)} bytes, key '
           f'{len(key)} bytes)')
    if pair == before:
        return 'old'
    expect(cert != before[0] and key != before[1],
           f'{where}: only one of the live files changed (torn pair)')
    expect(rh.pair_matches(sandbox.live_cert_path, sandbox.live_key_path),
           f'{where}: the live key does not match the live certificate')
    return 'new'


def kill_sweep(report, sandbox, root):
    points = []
    with report.case('trace of a complete installation lists its syscalls'):
        points = install_syscalls(sandbox)
        expect(any(name == 'rename' for name, _, _ in points), f'no rename traced: {points}')
        for name, number, call in points:
            rh.log(f'  {name} #{number}: {call}')

    outcomes = []
    left_behind = []
    with report.case('SIGKILL at each installation syscall: live pair old or new, never torn'):
        expect(points, 'no installation syscalls to sweep')
        for name, number, call in points:
            before = sandbox.live_pair()
            where = f'killed on entering {name} #{number} ({call[:70]})'
            result = sandbox.renew('--force', wrapper=[
                'strace', '-f', '-qq', '-o', '/dev/null', '-e', f'trace={name}',
                '-e', f'inject={name}:signal=KILL:when={number}'])
            expect(result.returncode in (-9, 128 + 9),
                   f'{where}: the renewer was not killed (exit {result.returncode}):\n'
                   f'{result.stderr[-800:]}')
            outcome = check_live_pair(sandbox, before, where)
            outcomes.append((name, number, outcome))
            leftovers = sandbox.leftovers()
            if leftovers:
                left_behind.append((where, leftovers))
        rh.log('  outcomes: ' + ', '.join(f'{n}#{k}:{o}' for n, k, o in outcomes))
        expect(any(o == 'old' for _, _, o in outcomes) and any(o == 'new' for _, _, o in outcomes),
               'the sweep never stopped the renewer both before and after the switch')

    with report.case('the next run removes every leftover of the killed runs'):
        expect(outcomes, 'the sweep did not run')
        expect(left_behind, 'no kill left anything behind: the clean-up was not exercised')
        result = sandbox.renew()
        expect(result.returncode in (rh.NOT_DUE, rh.RENEWED), f'clean-up run: {result}')
        expect_eq(sandbox.leftovers(), [], 'leftovers after the clean-up run')
        check_live_pair(sandbox, sandbox.live_pair(), 'after the clean-up run')

    with report.case('killed after the switch, before the reload: the next run makes the '
                     'daemon serve the installed certificate'):
        switch = [(n, k) for n, k, call in points if n == 'rename' and
                  re.search(rf'"[^"]*/certs/{re.escape(rh.DOMAIN)}"\)', call)]
        expect(switch, 'no rename onto the live link was traced')
        index = [(n, k) for n, k, _ in points].index(switch[0])
        expect(index + 1 < len(points), 'nothing traced after the switch')
        name, number, _ = points[index + 1]
        served = sandbox.served_serial(root)
        sandbox.renew('--force', wrapper=[
            'strace', '-f', '-qq', '-o', '/dev/null', '-e', f'trace={name}',
            '-e', f'inject={name}:signal=KILL:when={number}'])
        installed = rh.cert_serial(str(sandbox.live_cert_path))
        expect(installed != served, f'the kill at {name} #{number} came before the switch')
        result = sandbox.renew()
        rh.log(f'  next run: exit {result.returncode}')
        expect_eq(sandbox.served_serial(root), installed,
                  f'serial the daemon serves after the next run (exit {result.returncode}; '
                  f'it served {served} before)')


# ---------------------------------------------------------------------------------------------


def fill(path, free_pages):
    """Fill the file system of path up, then give back free_pages pages: the free pages left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b'\0' * (64 * 1024)
        while True:
            try:
                os.write(fd, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
        size = os.fstat(fd).st_size
        os.ftruncate(fd, max(0, size - free_pages * PAGE))
    finally:
        os.close(fd)
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize // PAGE


def zero_length_under_live_names(sandbox):
    found = []
    for path in (sandbox.live_cert_path, sandbox.live_key_path):
        if path.exists() and path.stat().st_size == 0:
            found.append(str(path))
    return found


def enospc(report):
    with rh.RenewSandbox('bc08-enospc') as sandbox:
        state = sandbox.state_dir
        mounted = False
        try:
            with report.case('ENOSPC: state directory on a 1 MiB tmpfs, first issuance'):
                harness.run(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs',
                             str(state)], check=True)
                mounted = True
                sandbox.setup()
                sandbox.first_issuance()
            filler = state / 'filler'
            for free_pages, failing in ((0, 'privkey.pem'), (1, 'fullchain.pem')):
                with report.case(f'ENOSPC with {free_pages} free page(s): writing {failing} '
                                 f'fails, exit 1, live pair byte-identical, no empty file'):
                    expect(mounted and sandbox.live_pair(), 'no tmpfs with an installed pair')
                    before_pair = sandbox.live_pair()
                    before = snapshot_without(sandbox, filler)
                    left = fill(filler, free_pages)
                    expect_eq(left, free_pages, 'free pages on the tmpfs')
                    result = sandbox.renew('--force').expect_status(rh.FAILED)
                    expect('No space left on device' in result.stderr,
                           f'stderr does not say ENOSPC:\n{result.stderr}')
                    expect(failing in result.stderr,
                           f'stderr does not name {failing}:\n{result.stderr}')
                    expect_eq(sandbox.live_pair(), before_pair, 'live pair')
                    expect_eq(snapshot_without(sandbox, filler), before, 'installed material')
                    expect_eq(zero_length_under_live_names(sandbox), [], 'empty live files')
                    expect_eq(sandbox.leftovers(), [], 'leftovers of the failed installation')
                    filler.unlink()
            with report.case('space again: the next forced renewal installs a new pair'):
                expect(mounted, 'no tmpfs')
                with contextlib.suppress(FileNotFoundError):
                    filler.unlink()
                sandbox.renew('--force').expect_status(rh.RENEWED)
                expect(rh.pair_matches(sandbox.live_cert_path, sandbox.live_key_path),
                       'the new live pair does not match')
                expect_eq(sandbox.leftovers(), [], 'leftovers')
        finally:
            if mounted:
                sandbox.processes.kill_all()
                subprocess.run(['umount', '-l', str(state)], check=False)


def snapshot_without(sandbox, excluded):
    files, links = sandbox.snapshot()
    files.pop(str(excluded.relative_to(sandbox.state_dir)), None)
    return files, links


# ---------------------------------------------------------------------------------------------


def failure_before_install(report, sandbox):
    with report.case('a renewal failing before the installation leaves everything as it was'):
        before = sandbox.snapshot()
        links = {path: os.readlink(path) for path in (sandbox.live_dir,)}
        result = sandbox.renew('--force', '--acme.directory=https://127.0.0.1:'
                               f'{harness.free_port()}/dir').expect_status(rh.FAILED)
        expect_eq(sandbox.snapshot(), before, 'installed material')
        expect_eq({path: os.readlink(path) for path in links}, links, 'live link')
        expect('<3>' in result.stderr, 'no error line')


def main():
    reexec_in_private_mount_namespace()
    report = harness.Report('field_bc_08_torn_install')
    if not shutil.which('strace'):
        harness.fatal('strace is missing (apt-get install strace)')
    with rh.RenewSandbox('bc08-kill') as sandbox:
        sandbox.setup()
        _, _, root = sandbox.first_issuance()
        failure_before_install(report, sandbox)
        kill_sweep(report, sandbox, root)
    enospc(report)
    report.finish()


if __name__ == '__main__':
    main()
