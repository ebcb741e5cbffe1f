#!/usr/bin/env python3
"""Write CTestTestfile.cmake from Meson's own test list, so that
`ctest --test-dir <builddir>` runs exactly the tests registered in
tests/meson.build, each through `meson test`, with its suite as label."""
import json
import os
import sys


def cmake_quote(text):
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"').replace('$', '\\$') + '"'


def main():
    build = os.environ['MESON_BUILD_ROOT']
    with open(os.path.join(build, 'meson-info', 'intro-tests.json')) as f:
        tests = json.load(f)
    meson = os.environ.get('MESONINTROSPECT', 'meson').split()[0]
    if not meson.endswith('meson'):
        meson = 'meson'
    lines = ['# Written at configure time by tests/write_ctest_file.py; do not edit.']
    for test in tests:
        name = test['name']
        command = [meson, 'test', '-C', build, '--no-rebuild', '--print-errorlogs', name]
        lines.append('add_test(' + ' '.join(cmake_quote(p) for p in [name] + command) + ')')
        labels = ';'.join(s.split(':')[-1] for s in test['suite'])
        timeout = test.get('timeout') or 0
        lines.append(f'set_tests_properties({cmake_quote(name)} PROPERTIES '
                     f'LABELS {cmake_quote(labels)} TIMEOUT {int(timeout) + 30})')
    with open(os.path.join(build, 'CTestTestfile.cmake'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
