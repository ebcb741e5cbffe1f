#!/usr/bin/python3
"""BC-05: acme.preferred-chain against pebble offering an alternate chain
(PEBBLE_ALTERNATE_ROOTS=1; root names from the management API /roots/N, /intermediates/N).

- naming the alternate root: the installed fullchain.pem's topmost certificate is issued by that
  root, the chain verifies to it, and the daemon serves it;
- naming no offered root: the default chain, and a notice line saying so;
- naming the alternate chain's intermediate (the subject of its topmost certificate, not the
  issuer): no match, since matching is on the topmost certificate's issuer;
- naming the default root: the default chain, no notice."""

import re

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def verify_chain(chain, root):
    result = harness.run(['certtool', '--verify', '--load-ca-certificate', root,
                          '--infile', str(chain)])
    expect(result.returncode == 0, f'{chain} does not verify to {root}:\n'
           f'{result.stdout.decode(errors="replace")[-600:]}')


def main():
    report = harness.Report('field_bc_05_preferred_chain')
    with rh.RenewSandbox('bc05') as sandbox:
        pebble = sandbox.setup(alternate_roots=1)
        roots = [pebble.root_file(0), pebble.root_file(1)]
        names = [rh.subject_cn(rh.pathlib.Path(path).read_text()) for path in roots]
        alt_intermediate = rh.subject_cn(pebble.management_pem('/intermediates/1'))
        rh.log(f'  default root {names[0]!r}, alternate root {names[1]!r}, alternate '
               f'intermediate {alt_intermediate!r}')
        expect(names[0] != names[1], 'pebble offers one root only')
        chain = sandbox.live_cert_path

        with report.case('preferred chain = the alternate root: its chain is installed, '
                         'verifies and is served'):
            result = sandbox.renew(f'--acme.preferred-chain={names[1]}')
            result.expect_status(rh.RENEWED)
            expect_eq(rh.topmost_issuer_cn(chain), names[1], 'issuer of the topmost certificate')
            topmost = rh.CERT_RE.findall(chain.read_text())[-1]
            expect_eq(rh.subject_cn(topmost), alt_intermediate,
                      'subject of the topmost certificate of the alternate chain')
            verify_chain(chain, roots[1])
            expect(not re.search(r'<5>.*chain', result.stderr),
                   f'a notice about the chain although it matched:\n{result.stderr}')
            expect_eq(sandbox.served_serial(roots[1]), result.issued_serial(),
                      'serial served (verified against the alternate root)')

        for title, preferred, notice in (
                ('a name no chain ends at', 'No Such Root X', True),
                ("the alternate chain's intermediate (a subject, not the topmost issuer)",
                 alt_intermediate, True),
                ('the default root', names[0], False)):
            with report.case(f'preferred chain = {title}: default chain' +
                             (', notice logged' if notice else ', no notice')):
                result = sandbox.renew('--force', f'--acme.preferred-chain={preferred}')
                result.expect_status(rh.RENEWED)
                expect_eq(rh.topmost_issuer_cn(chain), names[0],
                          'issuer of the topmost certificate')
                verify_chain(chain, roots[0])
                line = re.search(r'^<5>.*' + re.escape(preferred) + '.*$', result.stderr, re.M)
                if notice:
                    expect(line, f'no notice naming {preferred!r}:\n{result.stderr}')
                    rh.log(f'  notice: {line.group(0)}')
                else:
                    expect(not line, f'a notice although the default chain matched: {line}')
                expect_eq(sandbox.served_serial(roots[0]), result.issued_serial(),
                          'serial served (verified against the default root)')
    report.finish()


if __name__ == '__main__':
    main()
