"""Fuzzy de-duplication of people: blocking, then rapidfuzz on the few pairs that share a block.

Blocks are the normalised phone, the birth date and the squeezed lower-case name; only records that
share a block are compared, so the work grows with the number of records (times a small block size),
not its square. Two records are the same person when their names are close and independent evidence
agrees (phone, birth date, e-mail, the same identity document); two different resident ID numbers always
mean two people.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

MAX_BLOCK = 200  # a block larger than this (a shared switchboard number, a common birthday) is not compared


@dataclass(frozen=True, slots=True)
class Person:
    key: Any  # file row number (int) or ("db", customer id)
    name: str
    phone: str | None
    birth_date: Any
    email: str | None
    id_type: str | None
    id_number: str | None


def name_key(name: str) -> str:
    return "".join(name.lower().split())


def same_person(a: Person, b: Person, threshold: float = 90) -> bool:
    real_a = a.id_type not in (None, "external") and a.id_number
    real_b = b.id_type not in (None, "external") and b.id_number
    if real_a and real_b:
        if a.id_type == b.id_type and a.id_number == b.id_number:
            return True
        if a.id_type == b.id_type:
            return False  # two different documents of the same kind: two people
    score = fuzz.token_sort_ratio(a.name.lower(), b.name.lower())
    evidence = sum((
        bool(a.phone) and a.phone == b.phone,
        a.birth_date is not None and a.birth_date == b.birth_date,
        bool(a.email) and a.email == b.email,
    ))
    return (score >= threshold and evidence >= 1) or (score >= 50 and evidence >= 2)


def clusters(people: list[Person], threshold: float = 90) -> tuple[dict[Any, Any], dict[str, int]]:
    """Union-find over matching pairs. Returns key -> the cluster's root key (the smallest key by order of
    ``people``, so put existing customers first) and counters (blocks, pairs compared, big blocks)."""
    index = {p.key: i for i, p in enumerate(people)}
    parent = list(range(len(people)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    blocks: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(people):
        if p.phone:
            blocks["p" + p.phone].append(i)
        if p.birth_date is not None:
            blocks["b" + str(p.birth_date)].append(i)
        blocks["n" + name_key(p.name)].append(i)
    seen: set[tuple[int, int]] = set()
    stats = {"blocks": len(blocks), "pairs_compared": 0, "blocks_skipped": 0}
    for members in blocks.values():
        if len(members) < 2:
            continue
        if len(members) > MAX_BLOCK:
            stats["blocks_skipped"] += 1
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if (i, j) in seen:
                    continue
                seen.add((i, j))
                stats["pairs_compared"] += 1
                ri, rj = find(i), find(j)
                if ri != rj and same_person(people[i], people[j], threshold):
                    parent[max(ri, rj)] = min(ri, rj)
    return {p.key: people[find(index[p.key])].key for p in people}, stats
