"""What a person sees, scored against labels: the metrics of scripts/bench_relevance.py.

A case is one query with the file names that are right answers to it (empty where nothing should be shown)
and, for a find-similar query, the query picture itself, which is neither right nor wrong: it is left out of
what was shown before scoring and reported on its own.

- visible recall = |shown ∩ right| / min(|right|, k); nothing shown scores 0;
- visible precision = |shown ∩ right| / |shown|; not counted where nothing was shown;
- ranking precision = |top min(|right|, k) of the uncut ranking ∩ right| / min(|right|, k): how good the order
  is, whatever the cut;
- empty rate (queries that should find nothing): the share of them where nothing was shown;
- replay: the same figures had the cut been a fixed threshold on the uncut ranking's ratings, to compare
  thresholds without searching again;
- closest rate: the share of queries with nothing above the cut that list the closest few below it instead
  (labelled as such: the CLI prints "No results above 50% relevance; the closest were:");
- for words in a language the model was not taught, which should show nothing, the precision is the share of
  what they showed that shows the pair the words mean: whether the model half understood them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

# Concept-frequency buckets: a case goes to the bucket nearest (on a log scale) to the share of the library
# that is a right answer to it.
BUCKETS: tuple[tuple[str, float], ...] = (("0.5%", 0.005), ("1%", 0.01), ("3%", 0.03), ("10%", 0.10), ("30%+", 0.30))


@dataclass(frozen=True)
class Case:
    """One query of a form, and what is right for it."""

    form: str
    label: str
    right: frozenset[str]
    query_image: str | None = None  # a library picture used as the query
    meant: frozenset[str] = frozenset()  # for words the model was not taught: pictures of what they mean


@dataclass(frozen=True)
class Score:
    """One case scored: `recall`/`precision`/`ranking` are None where they do not apply."""

    form: str
    bucket: str | None  # None for a case that should show nothing
    shown: int
    recall: float | None
    precision: float | None
    ranking: float | None
    self_shown: bool | None = None
    closest: int = 0  # results offered below the cut, as the closest, where none reached it
    right: int = 0  # right answers to find (in the library, the query picture left out)


def bucket(share: float) -> str:
    """The frequency bucket of a share of the library (0 < share ≤ 1)."""
    if share <= 0:
        raise ValueError("a bucket is for concepts that are in the library")
    edges = [(BUCKETS[i][1] * BUCKETS[i + 1][1]) ** 0.5 for i in range(len(BUCKETS) - 1)]
    return next((name for (name, _), edge in zip(BUCKETS, edges, strict=False) if share < edge), BUCKETS[-1][0])


def score(
    case: Case, shown: Sequence[str], ranked: Sequence[str], library_size: int, k: int, closest: Sequence[str] = ()
) -> Score:
    """Scores what a search showed (`shown`, above the cut) and its uncut ranking (`ranked`, best first);
    `closest` is what it offered below the cut where nothing reached it."""
    self_shown = None if case.query_image is None else case.query_image in shown
    shown = [name for name in shown if name != case.query_image]
    ranked = [name for name in ranked if name != case.query_image]
    offered = len([name for name in closest if name != case.query_image])
    if not case.right:
        meant = len(set(shown) & case.meant) / len(shown) if shown and case.meant else None
        return Score(case.form, None, len(shown), None, meant, None, self_shown, offered, 0)
    # The query picture is never shown, so it is no right answer to find: recall and the ranking's precision
    # count the others (the concept's bucket is still its share of the library).
    right = case.right - {case.query_image}
    best = min(len(right), k)
    found = len(set(shown) & right)
    return Score(
        case.form,
        bucket(len(case.right) / library_size),
        len(shown),
        recall=found / best,
        precision=found / len(shown) if shown else None,
        ranking=len(set(ranked[:best]) & right) / best,
        self_shown=self_shown,
        closest=offered,
        right=len(right),
    )


def replay(scored: Score, ratings: Sequence[tuple[float, float | None, bool]], threshold: float, k: int) -> Score:
    """The score had the cut been a fixed `threshold` on the ratings of the uncut ranking (similarity, rating,
    right; the query picture left out), with nothing offered below it."""
    shown = [right for _, rating, right in ratings if rating is not None and rating >= threshold]
    if scored.bucket is None:
        return replace(scored, shown=len(shown), closest=0)
    found = sum(shown)
    best = min(scored.right, k)
    return replace(
        scored, shown=len(shown), recall=found / best, precision=found / len(shown) if shown else None, closest=0
    )


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [value for value in values if value is not None]
    return sum(kept) / len(kept) if kept else None


@dataclass
class Summary:
    """Mean figures over a group of scored cases."""

    cases: int
    shown: float
    recall: float | None = None
    precision: float | None = None
    ranking: float | None = None
    empty_rate: float | None = None
    self_shown_rate: float | None = None
    nothing_shown_rate: float | None = None  # cases with right answers where nothing was shown
    closest_rate: float | None = None  # cases with nothing above the cut that offered the closest instead


def summarise(scores: Sequence[Score]) -> Summary:
    """Means over cases: recall, precision (over cases that showed something), ranking and, for cases that
    should show nothing, the empty rate."""
    expected = [s for s in scores if s.bucket is not None]
    empty = [s for s in scores if s.bucket is None]
    selves = [s.self_shown for s in scores if s.self_shown is not None]
    return Summary(
        cases=len(scores),
        shown=sum(s.shown for s in scores) / len(scores) if scores else 0.0,
        recall=_mean(s.recall for s in expected),
        precision=_mean(s.precision for s in scores),  # where nothing is right: what was meant (see above)
        ranking=_mean(s.ranking for s in expected),
        empty_rate=_mean(float(s.shown == 0) for s in empty),
        self_shown_rate=_mean(float(shown) for shown in selves),
        nothing_shown_rate=_mean(float(s.shown == 0) for s in expected),
        closest_rate=_mean(float(s.shown == 0 and s.closest > 0) for s in scores),
    )


def group(scores: Sequence[Score], by_bucket: bool) -> dict[tuple[str, str], Summary]:
    """Summaries by (form, bucket), bucket "all" for every case of the form (and the only one unless by_bucket)."""
    groups: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in scores:
        groups[(s.form, "all")].append(s)
        if by_bucket and s.bucket is not None:
            groups[(s.form, s.bucket)].append(s)
    return {key: summarise(members) for key, members in groups.items()}
