"""LoCoMo (Maharana et al., ACL 2024): long conversations, QA with evidence dialogue turns.

Each dialogue turn is a passage ``<sample_id>/<dia_id>`` scoped to its conversation, with the
text LoCoMo's own RAG code embeds, ``{speaker} said, "{text}"`` plus `` and shared {caption}``
for a turn with an image, so that numbers compare with the paper. Observations
(``<sample_id>/obs/<dia_id>``) and session summaries (``<sample_id>/S<n>``) are optional extra
retrieval units. Each QA becomes a query ``<sample_id>/q<i>``; its evidence turns are its qrels
(and, when those units are ingested, the observations citing them and their sessions' summaries).

The real file's evidence lists have quirks, normalised or dropped here with a count of each:
two ids in one string (``"D8:6; D9:17"``, ``"D9:1 D4:4"``), ``"D:11:26"`` for D11:26,
zero-padded turns (``"D30:05"``), a bare ``"D"``, ids of turns that do not exist.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from xlcli.datasets.files import read_json, require
from xlcli.datasets.records import Collection, Notes, Passage, Qrel, Query
from xlcli.errors import XlcliError

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
UNITS = ("turns", "observations", "summaries")

_SESSION = re.compile(r"^session_(\d+)$")
_EVIDENCE_ID = re.compile(r"^D:?(\d+):(\d+)$")
_SPLIT = re.compile(r"[;,\s]+")


def turn_text(turn: dict) -> str:
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    if turn.get("blip_caption"):
        text += f' and shared {turn["blip_caption"]}'
    return text


def normalise_evidence(raw: list, existing: set[str], notes: Notes, where: str) -> list[str]:
    """Turn a QA's evidence list into valid dia_ids, recording every repair and drop."""
    ids: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            notes.drop("evidence that is not a string", f"{where}: {item!r}")
            continue
        tokens = [t for t in _SPLIT.split(item.strip()) if t]
        if len(tokens) > 1:
            notes.normalise("several ids in one evidence string (split)", f"{where}: {item!r}")
        for token in tokens:
            match = _EVIDENCE_ID.match(token)
            if match is None:
                notes.drop("evidence id that names no turn", f"{where}: {token!r}")
                continue
            dia_id = f"D{int(match.group(1))}:{int(match.group(2))}"
            if token.startswith("D:"):
                notes.normalise("extra colon after D (D:11:26 → D11:26)", f"{where}: {token!r} → {dia_id}")
            elif dia_id != token:
                notes.normalise("zero-padded turn number (D30:05 → D30:5)", f"{where}: {token!r} → {dia_id}")
            if dia_id not in existing:
                notes.drop("evidence turn that does not exist in the conversation", f"{where}: {dia_id}")
                continue
            if dia_id not in ids:
                ids.append(dia_id)
    return ids


def choose_test_conversations(
    sample_ids: list[str], test_conversations: list[str] | None, test_fraction: float | None, seed: int
) -> set[str]:
    """Which conversations form the evaluation split (default: all of them)."""
    if test_conversations is not None and test_fraction is not None:
        raise XlcliError("give either --test-conversations or --test-fraction, not both")
    if test_conversations is not None:
        unknown = [c for c in test_conversations if c not in sample_ids]
        if unknown:
            raise XlcliError(f"--test-conversations: no conversation {unknown[0]!r} in the file (it has {', '.join(sample_ids)})")
        return set(test_conversations)
    if test_fraction is not None:
        if not 0.0 < test_fraction <= 1.0:
            raise XlcliError(f"--test-fraction {test_fraction}: give a fraction in (0, 1]")
        count = max(1, round(test_fraction * len(sample_ids)))
        return set(random.Random(seed).sample(sorted(sample_ids), count))
    return set(sample_ids)


def read(
    path: Path,
    *,
    test_conversations: list[str] | None = None,
    test_fraction: float | None = None,
    seed: int = 0,
    units: tuple[str, ...] = ("turns",),
) -> Collection:
    for unit in units:
        if unit not in UNITS:
            raise XlcliError(f"--units: unknown unit {unit!r} (use {', '.join(UNITS)})")
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise XlcliError(f"{path}: expected a JSON list of LoCoMo samples (objects with sample_id, conversation, qa)")

    samples = []
    for index, sample in enumerate(data):
        where = f"{path}: sample {index}"
        if not isinstance(sample, dict):
            raise XlcliError(f"{where}: expected an object, got {type(sample).__name__}")
        sample_id = require(sample, "sample_id", where)
        where = f"{path}: sample {index} ({sample_id})"
        require(sample, "conversation", where, dict)
        require(sample, "qa", where, list)
        samples.append((sample_id, sample, where))
    seen: set[str] = set()
    for sample_id, _, where in samples:
        if sample_id in seen:
            raise XlcliError(f"{where}: duplicate sample_id {sample_id!r}")
        seen.add(sample_id)

    test_ids = choose_test_conversations([s for s, _, _ in samples], test_conversations, test_fraction, seed)
    notes = Notes()
    passages: list[Passage] = []
    queries: list[Query] = []
    qrels: list[Qrel] = []
    for sample_id, sample, where in samples:
        turns = _turns(sample_id, sample["conversation"], where)
        existing = {p.metadata["dia_id"] for p in turns}
        extra_by_turn: dict[str, list[str]] = {}
        if "turns" in units:
            passages.extend(turns)
        if "observations" in units:
            observations = _observations(sample_id, sample.get("observation") or {}, where)
            passages.extend(observations)
            for obs in observations:
                for dia_id in obs.metadata["dia_ids"]:
                    extra_by_turn.setdefault(dia_id, []).append(obs.ext_id)
        if "summaries" in units:
            summaries = _summaries(sample_id, sample.get("session_summary") or {}, sample["conversation"], where)
            passages.extend(summaries)
            for summary in summaries:
                for dia_id in existing:
                    if dia_id.startswith(f"D{summary.metadata['session']}:"):
                        extra_by_turn.setdefault(dia_id, []).append(summary.ext_id)

        split = "test" if sample_id in test_ids else "train"
        for q_index, qa in enumerate(sample["qa"]):
            q_where = f"{where} qa {q_index}"
            if not isinstance(qa, dict):
                raise XlcliError(f"{q_where}: expected an object, got {type(qa).__name__}")
            question = require(qa, "question", q_where)
            category = require(qa, "category", q_where, int)
            if category not in CATEGORIES:
                raise XlcliError(f"{q_where}: unknown category {category} (LoCoMo uses 1-5)")
            evidence_raw = qa.get("evidence") or []
            if not isinstance(evidence_raw, list):
                raise XlcliError(f"{q_where}: field 'evidence' should be a list")
            ext_id = f"{sample_id}/q{q_index}"
            evidence = normalise_evidence(evidence_raw, existing, notes, ext_id)
            if not evidence_raw:
                notes.drop("question without evidence (kept as a query with no qrels)", ext_id)
            metadata = {
                "category": category,
                "category_name": CATEGORIES[category],
                "evidence": evidence,
                "evidence_raw": evidence_raw,
            }
            for key in ("answer", "adversarial_answer"):
                if key in qa:
                    metadata[key] = qa[key]
            queries.append(Query(ext_id, question.strip(), "en", split, sample_id, metadata))
            relevant: list[str] = []
            for dia_id in evidence:
                if "turns" in units:
                    relevant.append(f"{sample_id}/{dia_id}")
                relevant.extend(extra_by_turn.get(dia_id, []))
            for passage_ext_id in dict.fromkeys(relevant):
                qrels.append(Qrel(ext_id, passage_ext_id, 1))

    return Collection(
        kind="locomo",
        lang="en",
        passages=passages,
        queries=queries,
        qrels=qrels,
        notes=notes,
        metadata={"test_conversations": sorted(test_ids), "units": list(units)},
    )


def _sessions(conversation: dict) -> list[tuple[int, list]]:
    found = []
    for key, value in conversation.items():
        match = _SESSION.match(key)
        if match and isinstance(value, list):
            found.append((int(match.group(1)), value))
    return sorted(found)


def _turns(sample_id: str, conversation: dict, where: str) -> list[Passage]:
    passages = []
    seen: set[str] = set()
    for session, turns in _sessions(conversation):
        date_time = conversation.get(f"session_{session}_date_time")
        for t_index, turn in enumerate(turns):
            t_where = f"{where} session_{session} turn {t_index}"
            if not isinstance(turn, dict):
                raise XlcliError(f"{t_where}: expected an object")
            speaker = require(turn, "speaker", t_where)
            dia_id = require(turn, "dia_id", t_where)
            if "text" not in turn or not isinstance(turn["text"], str):
                raise XlcliError(f"{t_where}: missing required field 'text'")
            if dia_id in seen:
                raise XlcliError(f"{t_where}: duplicate dia_id {dia_id!r}")
            seen.add(dia_id)
            metadata = {"dia_id": dia_id, "session": session, "date_time": date_time, "speaker": speaker}
            for key in ("blip_caption", "img_url", "query"):
                if turn.get(key):
                    metadata[key] = turn[key]
            passages.append(Passage(f"{sample_id}/{dia_id}", turn_text(turn), "en", sample_id, "turn", None, metadata))
    return passages


def _observations(sample_id: str, observation: dict, where: str) -> list[Passage]:
    passages = []
    used: dict[str, int] = {}
    for key in sorted(observation, key=_session_number):
        session = _session_number(key)
        for speaker, items in (observation[key] or {}).items():
            for item in items or []:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                    raise XlcliError(f"{where} observation {key}: expected [text, dia_id] pairs")
                text, ids = item
                dia_ids = ids if isinstance(ids, list) else [i.strip() for i in str(ids).split(",")]
                dia_ids = [i for i in dia_ids if i]
                base = f"{sample_id}/obs/{','.join(dia_ids)}"
                used[base] = used.get(base, 0) + 1
                ext_id = base if used[base] == 1 else f"{base}#{used[base]}"
                metadata = {"session": session, "speaker": speaker, "dia_ids": dia_ids}
                passages.append(Passage(ext_id, text, "en", sample_id, "observation", None, metadata))
    return passages


def _summaries(sample_id: str, summaries: dict, conversation: dict, where: str) -> list[Passage]:
    passages = []
    for key in sorted(summaries, key=_session_number):
        session = _session_number(key)
        text = summaries[key]
        if not isinstance(text, str):
            raise XlcliError(f"{where} session_summary {key}: expected a string")
        metadata = {"session": session, "date_time": conversation.get(f"session_{session}_date_time")}
        passages.append(Passage(f"{sample_id}/S{session}", text, "en", sample_id, "summary", None, metadata))
    return passages


def _session_number(key: str) -> int:
    match = re.search(r"(\d+)", key)
    return int(match.group(1)) if match else 0
