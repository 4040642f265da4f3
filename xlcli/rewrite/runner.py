"""Run a rewrite over a dataset as one resumable step invocation.

:func:`plan` checks everything the user gave against the store (dataset, languages, split, variant
sets, the run's name), builds the backend (reading dictionaries, loading a model) and lists the
texts to rewrite — all before the first write, so bad input leaves the store unchanged. :func:`run`
then rewrites what has no row yet, one transaction per batch.

The texts are every query of the chosen languages and split (variant 0) and every variant of them
in the chosen variant sets. The run's key covers the backend's identity, the languages, split and
variant sets; the invocation's parameters add a digest of the selected texts, so queries or
variants added later are rewritten by the next run under the same name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.rewrite import backends as B
from xlcli.rewrite import store as S
from xlcli.store import Store, invocations
from xlcli.store.catalog import resolve_dataset


@dataclass
class Plan:
    dataset_id: int
    dataset: str
    name: str
    backend_name: str
    backend: object
    target: str
    langs: list[str]
    split: str | None
    variant_sets: list[str]
    items: list[B.Item]
    params: dict = field(default_factory=dict)
    key: str = ""

    def invocation_params(self) -> dict:
        ids = ",".join(f"{i.query_id}:{i.variant_id}" for i in self.items)
        digest = hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()
        return {"run": self.name, "key": self.key, "texts": {"count": len(self.items), "digest": digest}}


@dataclass
class Result:
    name: str
    run_id: int
    already_done: bool
    texts: int
    added: int = 0
    skipped: int = 0
    by_lang: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rewrite_run": self.name, "rewrite_run_id": self.run_id, "already_done": self.already_done,
                "texts": self.texts, "added": self.added, "already_present": self.skipped, "by_lang": self.by_lang}


def parse_variants(value: str | None) -> str | list[str]:
    """``all`` | ``none`` | ``SET,SET`` → "all" or a list (empty for none)."""
    if value is None or value.strip().lower() == "all":
        return "all"
    if value.strip().lower() == "none":
        return []
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise XlcliError("--variants: give all, none or variant set names")
    return list(dict.fromkeys(names))


def _variant_sets(conn: Connection, dataset_id: int, dataset: str, wanted: str | list[str]) -> list[tuple[int, str]]:
    sets = [(r.id, r.name) for r in conn.execute(
        text("SELECT id, name FROM variant_sets WHERE dataset_id = :d ORDER BY name"), {"d": dataset_id})]
    if wanted == "all":
        return sets
    by_name = dict((n, i) for i, n in sets)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        known = ", ".join(n for _, n in sets) or "none yet; run `xlcli perturb` first"
        raise XlcliError(f"--variants {unknown[0]}: dataset {dataset!r} has no such variant set (variant sets: {known})")
    return [(by_name[n], n) for n in wanted]


def _items(conn: Connection, dataset_id: int, langs: list[str], split: str | None, set_ids: list[int]) -> list[B.Item]:
    marks = {f"l{i}": lang for i, lang in enumerate(langs)}
    where = f"q.dataset_id = :d AND q.lang IN ({', '.join(':' + k for k in marks)})" + (" AND q.split = :s" if split else "")
    params = {"d": dataset_id, "s": split, **marks}
    items = [B.Item(r.id, 0, r.lang, r.scope, r.text) for r in conn.execute(
        text(f"SELECT q.id, q.lang, q.scope, q.text FROM queries q WHERE {where}"), params)]
    if set_ids:
        sets = ",".join(str(int(s)) for s in set_ids)
        items += [B.Item(r.query_id, r.id, r.lang, r.scope, r.text) for r in conn.execute(text(
            "SELECT v.id, v.query_id, q.lang, q.scope, v.text FROM query_variants v JOIN queries q ON q.id = v.query_id"
            f" WHERE v.variant_set_id IN ({sets}) AND {where}"), params)]
    items.sort(key=lambda i: (i.query_id, i.variant_id))
    return items


def plan(store: Store, request: B.Request, *, name: str, dataset: str | None = None, langs: list[str] | None = None,
         split: str | None = None, variants: str | list[str] = "all") -> Plan:
    backend_cls = B.get(request.backend)
    with store.read() as conn:
        ds = resolve_dataset(conn, dataset)
        present = conn.execute(text("SELECT lang, split, count(*) AS n FROM queries WHERE dataset_id = :d GROUP BY 1, 2"),
                               {"d": ds["id"]}).all()
        splits = sorted({r.split for r in present})
        if split is not None and split not in splits:
            raise XlcliError(f"--split {split}: dataset {ds['name']!r} has no such split (splits: {', '.join(splits) or 'none'})")
        in_split = sorted({r.lang for r in present if split is None or r.split == split})
        if langs is None:
            passage_langs = {r[0] for r in conn.execute(text("SELECT DISTINCT lang FROM passages WHERE dataset_id = :d"),
                                                        {"d": ds["id"]})}
            langs = _default_langs(request, in_split, passage_langs)
        missing = [lang for lang in langs if lang not in in_split]
        if missing:
            where = f" in split {split!r}" if split else ""
            raise XlcliError(f"--langs: dataset {ds['name']!r} has no {', '.join(missing)} queries{where}"
                             f" (languages: {', '.join(in_split) or 'none'})")
        if not langs:
            raise XlcliError(f"dataset {ds['name']!r} has no queries to rewrite{' in split ' + repr(split) if split else ''}")
        sets = _variant_sets(conn, ds["id"], ds["name"], variants)
        items = _items(conn, ds["id"], langs, split, [i for i, _ in sets])
        if not items:
            raise XlcliError(f"dataset {ds['name']!r} has no {', '.join(langs)} queries to rewrite")

    def passages() -> list[tuple[str, str | None, str]]:
        with store.read() as conn:
            return [tuple(r) for r in conn.execute(
                text("SELECT lang, scope, text FROM passages WHERE dataset_id = :d ORDER BY id"), {"d": ds["id"]})]

    backend = backend_cls.build(request, B.Context(list(langs), passages))
    params = {"langs": list(langs), "split": split, "variant_sets": [n for _, n in sets], **backend.identity()}
    # Paths are where the files were read from, not what they hold: the key has the content (sha256) only.
    key = invocations.params_key({"dataset": ds["name"], "backend": request.backend, "target": backend.target,
                                  **_without_paths(params)})
    with store.read() as conn:
        S.check_name(conn, name, key, ds["id"])
    return Plan(ds["id"], ds["name"], name, request.backend, backend, backend.target, list(langs), split,
                [n for _, n in sets], items, params, key)


def _default_langs(request: B.Request, in_split: list[str], passage_langs: set[str]) -> list[str]:
    """Without --langs: the languages given a dictionary (lexicon), that have a vocabulary (spell),
    or that are not the target (mt)."""
    if request.backend == "lexicon" and request.lexicons:
        return [lang for lang in request.lexicons if lang in in_split] or list(request.lexicons)
    if request.backend == "spell":
        return [lang for lang in in_split if lang in passage_langs or lang in request.lexicons]
    target = request.target or "en"
    return [lang for lang in in_split if lang != target]


def _without_paths(value):
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items() if k != "path"}
    return value


def run(store: Store, plan_: Plan, *, on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None) -> Result:
    """Rewrite the plan's texts that have no row yet; each batch in one transaction."""
    with invocations.step(store, "rewrite", plan_.invocation_params()) as inv:
        if inv.already_done:
            with store.read() as conn:
                found = S.find_run(conn, plan_.name)
                if found is None:
                    raise XlcliError(f"rewrite run {plan_.name!r} is recorded as done but its rows are gone from the store")
                result = Result(plan_.name, found.id, True, len(plan_.items), skipped=len(plan_.items))
                result.by_lang = S.summary(conn, found.id)
            if on_total:
                on_total(0)
            return result
        with store.write() as conn:
            run_id = S.ensure_run(conn, name=plan_.name, dataset_id=plan_.dataset_id, backend=plan_.backend_name,
                                  target=plan_.target, params=plan_.params, key=plan_.key, invocation_id=inv.id)
        with store.read() as conn:
            done = S.done_items(conn, run_id)
        pending = [i for i in plan_.items if (i.query_id, i.variant_id) not in done]
        result = Result(plan_.name, run_id, False, len(plan_.items), skipped=len(plan_.items) - len(pending))
        if on_total:
            on_total(len(pending))
        size = plan_.backend.batch_size
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            outputs = plan_.backend.rewrite(chunk)
            rows = [(i.query_id, i.variant_id, t, ops, unknown) for i, (t, ops, unknown) in zip(chunk, outputs)]
            with store.write() as conn:
                S.write_rows(conn, run_id, inv.id, rows)
            result.added += len(rows)
            if on_progress:
                on_progress(len(chunk))
        with store.read() as conn:
            result.by_lang = S.summary(conn, run_id)
        inv.summary = {"rewrite_run": plan_.name, "added": result.added, "already_present": result.skipped}
    return result
