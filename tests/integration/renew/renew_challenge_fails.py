#!/usr/bin/python3
"""A renewal whose http-01 validation fails.  A second pebble validates against a closed port
(where no daemon listens): the renewer exits 1 naming the problem type and detail, leaves the
installed files byte-identical, withdraws the challenge it published, and records failures=1 and
backoff_until about an hour ahead.  The next run without --force is deferred (11) without a CA
request; --force tries again (failures=2, backoff doubled).  A run while the daemon is down also
fails before touching the installed files (against a fresh pebble, so no authorization of
the first issuance can be reused)."""

import re
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def expect_backoff(state, failures, hours, started, finished):
    expect_eq(state.get('failures'), failures, 'failures in state.json')
    until = state.get('backoff_until')
    expect(isinstance(until, int), f'no backoff_until in state.json: {state}')
    low, high = int(started) + hours * 3600 - 2, int(finished) + hours * 3600 + 2
    expect(low <= until <= high, f'backoff_until {until} is not {hours} h after the run '
           f'({low}..{high})')


def main():
    report = harness.Report('renew_challenge_fails')
    with rh.RenewSandbox('renew-challenge') as sandbox:
        sandbox.setup()
        _, v1, root = sandbox.first_issuance()
        before = sandbox.snapshot()
        closed_port = rh.pebble_acme.free_port()
        broken = sandbox.start_pebble(http_port=closed_port)
        use_broken = [f'--acme.directory={broken.directory_url}',
                      f'--acme.ca-bundle={broken.ca_bundle}']

        with report.case('validation fails: exit 1, problem type and detail, files untouched, '
                         'challenge withdrawn, failures=1, backoff ~1 h'):
            started = time.time()
            result = sandbox.renew('--force', *use_broken).expect_status(rh.FAILED)
            finished = time.time()
            match = re.search(r'(urn:ietf:params:acme:error:\w+)(.*)', result.stderr)
            expect(match, f'stderr names no ACME problem type:\n{result.stderr}')
            rh.log(f'  reported: {match.group(0).strip()}')
            expect(len(match.group(2).strip(' :')) > 10,
                   f'no problem detail after the type: {match.group(0)!r}')
            expect(f'127.0.0.1:{closed_port}' in result.stderr or
                   'onnection refused' in result.stderr or 'connect' in result.stderr,
                   'the detail does not say the validation could not connect')
            expect_eq(sandbox.snapshot(), before, 'installed material after a failed renewal')
            expect_backoff(sandbox.state(), 1, 1, started, finished)
            tokens = re.findall(r'/\.well-known/acme-challenge/([A-Za-z0-9_-]+)', broken.log())
            expect(tokens, 'pebble logged no validation attempt')
            for token in set(tokens):
                response = sandbox.curl(f'http://127.0.0.1:{sandbox.http_port}'
                                        f'/.well-known/acme-challenge/{token}',
                                        port=sandbox.http_port, host='127.0.0.1')
                expect_eq(response.status, 404, f'challenge {token} after the run')
            expect_eq(sandbox.served_serial(root), v1, 'serial the daemon serves')

        with report.case('next run without --force: deferred (11), no CA request'):
            requests = broken.request_count()
            result = sandbox.renew(*use_broken).expect_status(rh.DEFERRED)
            expect('--force' in result.stderr or 'attempt' in result.stderr,
                   f'the deferral does not say why: {result.stderr}')
            expect_eq(broken.request_count(), requests, 'requests pebble saw')
            expect_eq(sandbox.state().get('failures'), 1, 'failures in state.json')

        with report.case('--force tries again: a new order, failures=2, backoff ~2 h'):
            orders = broken.new_order_count()
            started = time.time()
            sandbox.renew('--force', *use_broken).expect_status(rh.FAILED)
            finished = time.time()
            expect_eq(broken.new_order_count(), orders + 1, 'orders pebble received')
            expect_backoff(sandbox.state(), 2, 2, started, finished)
            expect_eq(sandbox.snapshot(), before, 'installed material after a failed renewal')

        with report.case('daemon down: --force fails (1), files untouched, says why'):
            # A pebble of its own, where this account holds no valid authorization that
            # could be reused: the order needs a challenge, and only the daemon could serve it.
            fresh = sandbox.start_pebble()
            sandbox.daemon.kill()
            result = sandbox.renew('--force', f'--acme.directory={fresh.directory_url}',
                                   f'--acme.ca-bundle={fresh.ca_bundle}').expect_status(rh.FAILED)
            expect(re.search(r'org\.secureapi\.Daemon1|PublishChallenge|daemon', result.stderr),
                   f'stderr does not say the daemon is missing:\n{result.stderr}')
            expect_eq(sandbox.snapshot(), before, 'installed material after a failed renewal')
            expect_eq(sandbox.state().get('failures'), 3, 'failures in state.json')
    report.finish()


if __name__ == '__main__':
    main()
