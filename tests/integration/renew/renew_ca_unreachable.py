#!/usr/bin/python3
"""BC-19, renewal side: acme.directory names a closed port.  The renewer fails (1) within a few
seconds with a log line naming the directory, the installed files stay byte-identical, and the
daemon, same process, keeps serving the certificate it had."""

import json
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def main():
    report = harness.Report('renew_ca_unreachable')
    with rh.RenewSandbox('renew-unreachable') as sandbox:
        sandbox.setup()
        _, v1, root = sandbox.first_issuance()
        before = sandbox.snapshot()
        pid = sandbox.bus.owner_pid()
        closed = f'https://127.0.0.1:{harness.free_port()}/dir'

        for forced in (True, False):
            title = ('forced renewal' if forced else 'run without --force') + ', CA on a ' \
                'closed port: exit 1 quickly, files identical, daemon keeps serving'
            with report.case(title):
                args = [f'--acme.directory={closed}']
                if forced:
                    args.append('--force')
                else:
                    # The certificate is fresh but the renewer has not asked the CA about it
                    # yet; the backoff of the forced run's failure is lifted first.
                    state_file = sandbox.acme_dir / 'state.json'
                    state = sandbox.state()
                    state.pop('backoff_until', None)
                    state.pop('ari_next_check', None)
                    state['failures'] = 0
                    state_file.write_text(json.dumps(state))
                started = time.monotonic()
                result = sandbox.renew(*args).expect_status(rh.FAILED)
                elapsed = time.monotonic() - started
                expect(elapsed < 10, f'the renewer took {elapsed:.1f} s to give up')
                expect(closed in result.stderr or closed.rsplit('/', 1)[0] in result.stderr,
                       f'stderr does not name the directory {closed}:\n{result.stderr}')
                expect('<3>' in result.stderr, f'no error-level line:\n{result.stderr}')
                expect_eq(sandbox.snapshot(), before, 'installed material')
                expect_eq(sandbox.state().get('failures'), 1, 'failures in state.json')
                expect(sandbox.daemon.alive(), 'the daemon exited')
                expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name')
                expect_eq(sandbox.served_serial(root), v1, 'serial the daemon serves')
                sandbox.expect_square(root, 15)
    report.finish()


if __name__ == '__main__':
    main()
