"""Medians, ranges, ratios and the Markdown fragment written at the end of a run."""

import statistics


def summary(values):
    """'median (min–max)' of a list, or '—' when there is nothing to summarise."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values),
            'n': len(values)}


def number(value):
    if value is None:
        return '—'
    magnitude = abs(value)
    if magnitude >= 1000:
        return f'{value:,.0f}'.replace(',', '\u202f')
    if magnitude >= 100:
        return f'{value:.0f}'
    if magnitude >= 10:
        return f'{value:.1f}'
    return f'{value:.2f}'


def cell(stats):
    if stats is None:
        return '—'
    if stats['n'] == 1:
        return number(stats['median'])
    return f"{number(stats['median'])} ({number(stats['min'])}–{number(stats['max'])})"


def paired_ratios(mine, theirs):
    """Per-repetition ratios mine[i] / theirs[i] (same repetition, same machine state)."""
    return [a / b for a, b in zip(mine, theirs) if a is not None and b]


def ratio_cell(stats):
    if stats is None:
        return '—'
    if stats['n'] == 1:
        return f"{stats['median']:.2f}×"
    return f"{stats['median']:.2f}× ({stats['min']:.2f}–{stats['max']:.2f})"


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(' --- ' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def verdict(value, target, higher_is_better, strict=False):
    """'met' when value reaches target (passes it, with strict), '**missed**' otherwise."""
    if value is None:
        return 'not measured'
    if strict:
        met = value > target if higher_is_better else value < target
    else:
        met = value >= target if higher_is_better else value <= target
    return 'met' if met else '**missed**'
