#!/usr/bin/python3
"""BC-11: key files are never more readable than they should be, whatever the caller's umask.

Under `umask 000` and again under `umask 077` (each from an empty state directory: account key,
first issuance, then a forced renewal into an existing layout) the renewer leaves privkey.pem 0640
in the group of the certs/ directory (the package gives it secure-api; here nogroup, so the
group cannot come from the renewer's own), fullchain.pem 0644, acme/account.key and
acme/state.json 0600, owned by the user it runs as.  While it runs:
  - a thread polls every file in acme/, certs/ and the generation directories in a tight loop and
    records the mode of every file holding key material (privkey.pem, account.key and their
    temporary files);
  - strace records every file it creates (open with O_CREAT and its mode, the umask it set) and
    every fchmod/chmod and rename, so each key file's whole history of modes is known, not only
    the moments the poller happened to see.
No key file may ever hold a mode beyond its final one.
"""

import grp
import os
import re
import shutil
import threading

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
FINAL_MODES = {'privkey.pem': 0o640, 'account.key': 0o600}


def key_file_final_name(name):
    """'privkey.pem' / 'account.key' for the file or one of its temporaries, else None."""
    for final in FINAL_MODES:
        if name == final or name.startswith(f'.{final}.tmp-') or name.startswith(f'{final}.tmp'):
            return final
    return None


class Poller:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.stop_flag = threading.Event()
        self.seen = {}            # path -> set of modes seen
        self.violations = []
        self.scans = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=5)

    def directories(self):
        dirs = [self.state_dir / 'acme', self.state_dir / 'certs',
                self.state_dir / 'certs' / f'.{rh.DOMAIN}']
        generations = dirs[-1]
        try:
            dirs += [generations / entry.name for entry in os.scandir(generations)
                     if entry.is_dir(follow_symlinks=False)]
        except OSError:
            pass
        return dirs

    def loop(self):
        while not self.stop_flag.is_set():
            self.scans += 1
            for directory in self.directories():
                try:
                    entries = list(os.scandir(directory))
                except OSError:
                    continue
                for entry in entries:
                    final = key_file_final_name(entry.name)
                    if not final:
                        continue
                    try:
                        mode = entry.stat(follow_symlinks=False).st_mode & 0o7777
                    except OSError:
                        continue
                    self.seen.setdefault(entry.path, set()).add(mode)
                    if mode & ~FINAL_MODES[final]:
                        self.violations.append((entry.path, oct(mode)))


OPEN_RE = re.compile(r'^(\d+)\s+(?:openat\(AT_FDCWD, |open\()"([^"]+)", ([A-Z_|]+)(?:, (0\d+))?\)'
                     r'\s+= (\d+)')
FCHMOD_RE = re.compile(r'^(\d+)\s+fchmod\((\d+), (0\d+)\)\s+= 0')
CHMOD_RE = re.compile(r'^(\d+)\s+(?:chmod\(|fchmodat\(AT_FDCWD, )"([^"]+)", (0\d+)\)\s+= 0')
RENAME_RE = re.compile(r'^(\d+)\s+rename\("([^"]+)", "([^"]+)"\)\s+= 0')
UMASK_RE = re.compile(r'^(\d+)\s+umask\((0\d*)\)\s+= ')
CLOSE_RE = re.compile(r'^(\d+)\s+close\((\d+)\)\s+= 0')


def mode_histories(trace_text, state_dir):
    """{final path: [modes held]} for every file created under state_dir, following renames."""
    umask = {}
    fds = {}                      # (pid, fd) -> history list
    by_path = {}                  # current path -> history list
    for line in trace_text.splitlines():
        if m := UMASK_RE.match(line):
            umask[m.group(1)] = int(m.group(2), 8)
        elif m := OPEN_RE.match(line):
            pid, path, flags, mode, fd = m.groups()
            if not path.startswith(str(state_dir)):
                continue
            if 'O_CREAT' in flags and mode is not None:
                history = by_path.get(path)
                if history is None or 'O_EXCL' in flags:
                    history = [int(mode, 8) & ~umask.get(pid, 0o022)]
                    by_path[path] = history
                fds[(pid, fd)] = history
            elif path in by_path:
                fds[(pid, fd)] = by_path[path]
        elif m := FCHMOD_RE.match(line):
            history = fds.get((m.group(1), m.group(2)))
            if history is not None:
                history.append(int(m.group(3), 8))
        elif m := CHMOD_RE.match(line):
            history = by_path.get(m.group(2))
            if history is not None:
                history.append(int(m.group(3), 8))
        elif m := RENAME_RE.match(line):
            if m.group(2) in by_path:
                by_path[m.group(3)] = by_path.pop(m.group(2))
        elif m := CLOSE_RE.match(line):
            fds.pop((m.group(1), m.group(2)), None)
    return by_path


def run_traced(sandbox, umask, *args):
    trace = sandbox.dir / f'trace-{sandbox.renew_runs + 1}'
    wrapper = ['/bin/sh', '-c', f'umask {umask} && exec "$@"', 'sh',
               'strace', '-f', '-qq', '-o', str(trace), '-e',
               'trace=umask,open,openat,creat,fchmod,chmod,fchmodat,rename,close']
    with Poller(sandbox.state_dir) as poller:
        result = sandbox.renew(*args, wrapper=wrapper)
    return result, trace.read_text(), poller


def check_run(sandbox, umask, result, trace, poller):
    histories = mode_histories(trace, sandbox.state_dir)
    key_histories = {path: modes for path, modes in histories.items()
                     if key_file_final_name(os.path.basename(path))}
    expect(key_histories, f'strace saw no key file created under umask {umask}')
    for path, modes in key_histories.items():
        final = FINAL_MODES[key_file_final_name(os.path.basename(path))]
        too_open = [oct(mode) for mode in modes if mode & ~final]
        expect(not too_open, f'umask {umask}: {path} held mode(s) {too_open} (history '
               f'{[oct(m) for m in modes]}), beyond its final {oct(final)}')
    expect_eq(poller.violations, [], f'umask {umask}: key files the poller saw too open')
    rh.log(f'  umask {umask}: strace followed {len(key_histories)} key file(s): ' +
           ', '.join(f'{os.path.basename(p)} {[oct(m) for m in h]}'
                     for p, h in key_histories.items()) +
           f'; the poller scanned {poller.scans} times and saw {len(poller.seen)} key path(s)')


def mode_of(path):
    return os.stat(path).st_mode & 0o7777


def certs_group():
    """The group given to certs/ before the first issuance: one the renewer does not run in."""
    return grp.getgrnam('nogroup').gr_gid


def check_final_modes(sandbox, umask):
    key = sandbox.live_key_path
    expect_eq(oct(mode_of(key)), oct(0o640), f'umask {umask}: mode of privkey.pem')
    expect_eq(os.stat(key).st_gid, certs_group(), f'umask {umask}: group of privkey.pem')
    expect_eq(oct(mode_of(sandbox.live_cert_path)), oct(0o644),
              f'umask {umask}: mode of fullchain.pem')
    for name in ('account.key', 'state.json'):
        path = sandbox.acme_dir / name
        expect_eq(oct(mode_of(path)), oct(0o600), f'umask {umask}: mode of acme/{name}')
        expect_eq(os.stat(path).st_uid, os.geteuid(), f'umask {umask}: owner of acme/{name}')
    expect_eq(mode_of(sandbox.acme_dir) & 0o077, 0, f'umask {umask}: acme/ open to others')
    generation = os.path.realpath(sandbox.live_dir)
    expect_eq(mode_of(generation) & 0o002, 0, f'umask {umask}: world-writable generation')


def self_check(report):
    """The trace reading catches what it must: a key written 0644 and then tightened."""
    with report.case('the strace reading flags a key file that was briefly 0644'):
        trace = ('7 umask(022) = 0\n'
                 '7 openat(AT_FDCWD, "/s/certs/g/.privkey.pem.tmp-x", O_RDWR|O_CREAT|O_EXCL, '
                 '0666) = 5\n'
                 '7 fchmod(5, 0640)                   = 0\n'
                 '7 rename("/s/certs/g/.privkey.pem.tmp-x", "/s/certs/g/privkey.pem") = 0\n')
        histories = mode_histories(trace, '/s')
        expect_eq({path: [oct(m) for m in modes] for path, modes in histories.items()},
                  {'/s/certs/g/privkey.pem': ['0o644', '0o640']}, 'modes read from the trace')


def main():
    report = harness.Report('field_bc_11_key_permissions')
    self_check(report)
    if not shutil.which('strace'):
        harness.fatal('strace is missing (apt-get install strace)')
    with rh.RenewSandbox('bc11') as sandbox:
        pebble = sandbox.setup()
        for umask in ('000', '077'):
            with report.case(f'umask {umask}: first issuance from an empty state directory'):
                shutil.rmtree(sandbox.state_dir, ignore_errors=True)
                sandbox.state_dir.mkdir()
                sandbox.certs_dir.mkdir()
                os.chown(sandbox.certs_dir, -1, certs_group())
                result, trace, poller = run_traced(sandbox, umask)
                result.expect_status(rh.RENEWED)
                check_run(sandbox, umask, result, trace, poller)
                check_final_modes(sandbox, umask)
                root = pebble.root_file(0)
                expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')
            with report.case(f'umask {umask}: forced renewal into the existing layout'):
                result, trace, poller = run_traced(sandbox, umask, '--force')
                result.expect_status(rh.RENEWED)
                check_run(sandbox, umask, result, trace, poller)
                check_final_modes(sandbox, umask)
    report.finish()


if __name__ == '__main__':
    main()
