#!/usr/bin/env python3
"""Check a payledger export (NDJSON or CSV) without payledger.

The contract is docs/AUDIT.md; this script implements its sections 1, 2, 3, 5 and 6 with the
Python 3 standard library only and shares no code with payledger, so an auditor can read it
whole and trust it independently of the system it checks.

What it checks:

* every event's link in its stream's hash chain (AUDIT.md §1): the canonical bytes are rebuilt
  from the exported fields, with `payload_text` / `metadata_text` inserted verbatim, and
  `SHA256(prev_hash || canonical)` must be the event's `hash`; `prev_hash` must be the previous
  version's `hash` (32 zero bytes for version 1); versions must run 1, 2, 3, ... Faults:
  hash_mismatch, prev_hash_mismatch, version_gap (one per event, in that order of precedence,
  as `payledger verify` reports them);
* that `payload_text` / `metadata_text` parse to the exported `payload` / `metadata`, so what a
  reader is shown is what is hashed (fault payload_text_differs);
* that the event lines come in read order, i.e. strictly increasing checkpoints
  `(tx_id, position)` (AUDIT.md §2; fault read_order);
* every seal (AUDIT.md §3): its number follows the previous one (number_gap), its prev_hash is
  the previous seal's hash (prev_hash_mismatch), the exported events in its range give the
  count and digest it holds for this tenant (tenant_events_differ), the tenant's leaf and audit
  path give its merkle_root (merkle_root_mismatch), its fields hash to its hash (hash_mismatch);
* with --expect-seal HASH, that some seal has that hash (expected_seal_missing): the one check
  that catches a history rewritten whole, seals included.

Usage:  verify_export.py FILE [--format ndjson|csv] [--expect-seal HEX] [--json]
Exit status: 0 intact, 1 something broken, 2 file unreadable or a malformed line.

Memory is bounded by the number of streams (plus the seals, which are few): the file is read
twice, once for the seal lines and once streaming the events.
"""

import argparse
import bisect
import csv
import hashlib
import json
import re
import struct
import sys
import uuid
from decimal import Decimal

# json.encoder.encode_basestring is exactly json.dumps(s, ensure_ascii=False) for a str (the
# escaping AUDIT.md §1 prescribes: ", \, \b \f \n \r \t, other controls as \u00xx, nothing
# else), without building an encoder per call.
from json.encoder import encode_basestring

ZERO_HASH = bytes(32)
SEAL_TAG = b"payledger-seal-v1"
U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
# How many events of one stream may wait for a missing predecessor before the smallest of them
# is declared to follow a gap. Out-of-version-order events in read order come from concurrent
# transactions, so a real export has a handful at most; the cap keeps memory bounded when a
# version really is missing.
MAX_PARKED_PER_STREAM = 10_000

CSV_COLUMNS = [
    "object", "position", "tx_id", "tenant_id", "event_id", "stream_id", "stream_version",
    "event_type", "schema_version", "recorded_at", "recorded_at_unix_micros", "dedupe_key",
    "payload", "metadata", "payload_text", "metadata_text", "prev_hash", "hash", "seal_number",
    "event_count", "tenant_count", "merkle_root", "sealed_at", "tenant_event_count",
    "tenant_digest", "leaf_index", "audit_path", "livemode",
]
# Exports made before `livemode` (V21) have every column but the last; its hash covers nothing.
COLUMNS_BEFORE_LIVEMODE = CSV_COLUMNS[:-1]

# str.isdigit() and int() accept non-ASCII digits, "_" and blanks: numbers are checked strictly.
DECIMAL_RE = re.compile(r"-?[0-9]+\Z")
UNSIGNED_RE = re.compile(r"[0-9]+\Z")
HEX64_RE = re.compile(r"[0-9a-fA-F]{64}\Z")
CANONICAL_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


KIND_NAMES = {int: "an integer", str: "a string"}


class Malformed(Exception):
    """A line that cannot be read as an export line (exit status 2)."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------------------------
# Reading lines into plain dicts of the NDJSON shape (CSV rows are converted to that shape, so
# the checks below see one format).


def reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_json(text):
    # Decimal keeps numbers exact (jsonb numbers are arbitrary precision); NaN/Infinity are not
    # JSON and jsonb never prints them.
    return json.loads(text, parse_float=Decimal, parse_constant=reject_constant)


def detect_format(path):
    if path.lower().endswith(".csv"):
        return "csv"
    with open(path, "rb") as f:
        first = f.readline()
    return "csv" if first.lstrip(b"\xef\xbb\xbf").startswith(b"object,") else "ndjson"


def ndjson_records(path, only_seals=False):
    """Yields (line_number, dict). With only_seals, lines that cannot be seal lines are skipped
    unparsed: a seal line must spell `seal` literally or with a \\u escape."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            if only_seals and b"seal" not in raw and b"\\u" not in raw:
                continue
            try:
                record = parse_json(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise Malformed(number, "not a JSON line: %s" % e)
            if not isinstance(record, dict):
                raise Malformed(number, "not a JSON object")
            yield number, record


def csv_records(path, only_seals=False):
    """Yields (line_number, dict) with the line number where the CSV record starts."""
    csv.field_size_limit(2**31 - 1)
    with open(path, "r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        start = 1
        padding = []
        try:
            for row in reader:
                number, start = start, reader.line_num + 1
                if number == 1:
                    if row == COLUMNS_BEFORE_LIVEMODE:
                        padding = [""]
                    elif row != CSV_COLUMNS:
                        raise Malformed(1, "the header is not AUDIT.md §5's columns")
                    continue
                if not row or row == [""]:
                    continue
                row = row + padding
                if only_seals and row[0] != "seal":
                    continue
                yield number, csv_row_to_record(number, row)
        except (csv.Error, UnicodeDecodeError) as e:
            raise Malformed(start, "not a CSV record: %s" % e)


def csv_int(number, row, column):
    text = row[CSV_COLUMNS.index(column)]
    if not DECIMAL_RE.match(text):
        raise Malformed(number, "%s is not a decimal integer" % column)
    return int(text)


def csv_row_to_record(number, row):
    if len(row) != len(CSV_COLUMNS):
        raise Malformed(number, "%d columns, not %d" % (len(row), len(CSV_COLUMNS)))
    col = dict(zip(CSV_COLUMNS, row))
    if col["object"] == "event":
        return csv_event(number, row, col)
    if col["object"] == "seal":
        return csv_seal(number, row, col)
    raise Malformed(number, "object is neither event nor seal")


def csv_json(number, col, column):
    try:
        return parse_json(col[column])
    except ValueError as e:
        raise Malformed(number, "%s is not JSON: %s" % (column, e))


def csv_event(number, row, col):
    record = {key: col[key] for key in (
        "object", "tx_id", "tenant_id", "event_id", "stream_id", "event_type", "recorded_at",
        "payload_text", "metadata_text", "prev_hash", "hash")}
    for key in ("position", "stream_version", "schema_version", "recorded_at_unix_micros"):
        record[key] = csv_int(number, row, key)
    # A dedupe key is never empty, so the empty cell stands for null (AUDIT.md §5).
    record["dedupe_key"] = col["dedupe_key"] or None
    record["payload"] = csv_json(number, col, "payload")
    record["metadata"] = csv_json(number, col, "metadata")
    return record


def csv_seal(number, row, col):
    record = {
        "object": "seal",
        "seal_number": csv_int(number, row, "seal_number"),
        "prev_hash": col["prev_hash"],
        "hash": col["hash"],
        "to_tx_id": col["tx_id"],
        "to_position": csv_int(number, row, "position"),
        "event_count": csv_int(number, row, "event_count"),
        "tenant_count": csv_int(number, row, "tenant_count"),
        "merkle_root": col["merkle_root"],
        "tenant": None,
    }
    if col["tenant_id"]:
        path = col["audit_path"]
        record["tenant"] = {
            "tenant_id": col["tenant_id"],
            "event_count": csv_int(number, row, "tenant_event_count"),
            "digest": col["tenant_digest"],
            "leaf_index": csv_int(number, row, "leaf_index"),
            "audit_path": path.split(" ") if path else [],
        }
    return record


# ---------------------------------------------------------------------------------------------
# Typed access to a record's fields: anything missing or of the wrong type is a malformed line.


def field(number, record, key, kind):
    value = record.get(key)
    # bool is a subclass of int in Python; true is not a number here.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Malformed(number, "%s is missing or not %s" % (key, KIND_NAMES[kind]))
    return value


def int_field(number, record, key, lo, hi):
    value = field(number, record, key, int)
    if not lo <= value <= hi:
        raise Malformed(number, "%s is out of range" % key)
    return value


def tx_field(number, record, key):
    # tx_id is a decimal string (xid8 does not fit every JSON reader's numbers); a bare integer
    # is accepted too, as it means the same.
    value = record.get(key)
    if isinstance(value, str) and UNSIGNED_RE.match(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U64_MAX:
        raise Malformed(number, "%s is not an unsigned 64-bit decimal" % key)
    return value


def hash_field(number, record, key):
    value = record.get(key)
    if not isinstance(value, str) or not HEX64_RE.match(value):
        raise Malformed(number, "%s is not 64 hex digits" % key)
    return bytes.fromhex(value)


def uuid_field(number, record, key):
    """The UUID as AUDIT.md's canonical form spells it: lowercase, hyphenated."""
    value = field(number, record, key, str)
    if CANONICAL_UUID_RE.match(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Malformed(number, "%s is not a UUID" % key)


def utf8(number, text):
    # A lone surrogate (possible via \ud800 in JSON) has no UTF-8 form and no PostgreSQL text.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(number, "a string is not valid Unicode")


# ---------------------------------------------------------------------------------------------
# Events: the canonical bytes and the payload check.


def canonical_bytes(number, record, tenant_id, event_id, version):
    dedupe_key = record.get("dedupe_key")
    if dedupe_key is not None and not isinstance(dedupe_key, str):
        raise Malformed(number, "dedupe_key is neither a string nor null")
    parts = [
        encode_basestring(tenant_id),
        encode_basestring(field(number, record, "stream_id", str)),
        str(version),
        encode_basestring(event_id),
        encode_basestring(field(number, record, "event_type", str)),
        str(int_field(number, record, "schema_version", -(2**31), 2**31 - 1)),
        str(int_field(number, record, "recorded_at_unix_micros", I64_MIN, I64_MAX)),
        "null" if dedupe_key is None else encode_basestring(dedupe_key),
        # Verbatim: the database's own text of the stored jsonb, never re-encoded (§1).
        field(number, record, "payload_text", str),
        field(number, record, "metadata_text", str),
    ]
    return utf8(number, "[" + ",".join(parts) + "]")


def same_json(a, b):
    """JSON equality, where true is not 1 (Python's == says it is) and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)):
        return isinstance(b, (int, Decimal)) and a == b
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(same_json(v, b[k]) for k, v in a.items()))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(same_json(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


# Numbers dumped as null: two values that are == and dump alike have no true-for-1 confusion
# (numbers are int or Decimal, so == is otherwise strict). The C encoder makes this the fast
# path; only values whose shapes differ (say 100 against 1E+2) take the walk of same_json.
SHAPE = json.JSONEncoder(sort_keys=True, default=lambda number: None)


def strictly_equal(a, b):
    return a == b and (SHAPE.encode(a) == SHAPE.encode(b) or same_json(a, b))


def text_matches(number, record, text_key, value_key):
    if value_key not in record:
        raise Malformed(number, "%s is missing" % value_key)
    try:
        parsed = parse_json(record[text_key])
    except ValueError:
        return False
    return strictly_equal(parsed, record[value_key])


# ---------------------------------------------------------------------------------------------
# Stream chains, with events arriving out of version order.


class Chains:
    """Per stream the last linked (version, hash), and the few events that arrived before
    their predecessor (read order is not version order, AUDIT.md §2)."""

    def __init__(self, report):
        self.report = report
        self.streams = {}  # stream_id -> [last_version, last_hash, parked dict or None]

    def arrive(self, stream_id, version, position, prev_hash, hash_, hash_ok):
        state = self.streams.get(stream_id)
        if state is None:
            state = self.streams[stream_id] = [0, ZERO_HASH, None]
        event = (position, prev_hash, hash_, hash_ok)
        if version <= state[0]:
            # A second event with a version already linked: payledger verify, walking versions
            # in order, sees it as not following its predecessor.
            self.report.link(stream_id, version, position, "version_gap")
        elif version == state[0] + 1:
            self.link(stream_id, state, version, event, gap=False)
            self.drain(stream_id, state)
        else:
            self.park(stream_id, state, version, event)

    def park(self, stream_id, state, version, event):
        if state[2] is None:
            state[2] = {}
        if version in state[2]:
            self.report.link(stream_id, version, event[0], "version_gap")
            return
        state[2][version] = event
        if len(state[2]) > MAX_PARKED_PER_STREAM:
            self.skip_gap(stream_id, state)

    def link(self, stream_id, state, version, event, gap):
        position, prev_hash, hash_, hash_ok = event
        # One fault per event, the first of these, as payledger verify reports it.
        if gap:
            fault = "version_gap"
        elif prev_hash != state[1]:
            fault = "prev_hash_mismatch"
        elif not hash_ok:
            fault = "hash_mismatch"
        else:
            fault = None
        if fault:
            self.report.link(stream_id, version, position, fault)
        # The next link is checked against this event's stored hash, so one broken link does
        # not hide a later one.
        state[0], state[1] = version, hash_

    def drain(self, stream_id, state):
        parked = state[2]
        while parked and state[0] + 1 in parked:
            version = state[0] + 1
            self.link(stream_id, state, version, parked.pop(version), gap=False)
        if parked is not None and not parked:
            state[2] = None

    def skip_gap(self, stream_id, state):
        version = min(state[2])
        self.link(stream_id, state, version, state[2].pop(version), gap=True)
        self.drain(stream_id, state)

    def finish(self):
        # Whatever still waits has a predecessor missing from the export.
        for stream_id, state in self.streams.items():
            while state[2]:
                self.skip_gap(stream_id, state)


# ---------------------------------------------------------------------------------------------
# Seals.


class Seal:
    __slots__ = ("line", "number", "prev_hash", "hash", "to", "event_count", "tenant_count",
                 "merkle_root", "tenant", "found_count", "found_digest")


def read_seal(number, record):
    seal = Seal()
    seal.line = number
    seal.number = int_field(number, record, "seal_number", 1, I64_MAX)
    seal.prev_hash = hash_field(number, record, "prev_hash")
    seal.hash = hash_field(number, record, "hash")
    seal.to = (tx_field(number, record, "to_tx_id"),
               int_field(number, record, "to_position", I64_MIN, I64_MAX))
    seal.event_count = int_field(number, record, "event_count", 0, U64_MAX)
    seal.tenant_count = int_field(number, record, "tenant_count", 0, U64_MAX)
    seal.merkle_root = hash_field(number, record, "merkle_root")
    seal.tenant = read_seal_tenant(number, record.get("tenant"))
    seal.found_count = 0
    seal.found_digest = hashlib.sha256()
    return seal


def read_seal_tenant(number, part):
    if part is None:
        return None
    if not isinstance(part, dict):
        raise Malformed(number, "tenant is neither an object nor null")
    path = part.get("audit_path")
    if not isinstance(path, list) or not all(isinstance(p, str) and HEX64_RE.match(p) for p in path):
        raise Malformed(number, "audit_path is not a list of 64-hex hashes")
    return {
        "tenant_id": uuid_field(number, part, "tenant_id"),
        "event_count": int_field(number, part, "event_count", 0, U64_MAX),
        "digest": hash_field(number, part, "digest"),
        "leaf_index": int_field(number, part, "leaf_index", 0, U64_MAX),
        "audit_path": [bytes.fromhex(p) for p in path],
    }


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(leaf, index, size, path):
    """RFC 9162 §2.1.3.2 inclusion proof verification; None when the path cannot fit."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def seal_hash(seal):
    return hashlib.sha256(
        SEAL_TAG + seal.prev_hash + struct.pack(">QQqQQ", seal.number, seal.to[0], seal.to[1],
                                                 seal.event_count, seal.tenant_count)
        + seal.merkle_root).digest()


class Seals:
    """The export's seals in seal-number order, and the events each one's range holds."""

    def __init__(self, seals):
        self.seals = sorted(seals, key=lambda s: s.number)
        # Range k is (to_{k-1}, to_k]; a running maximum keeps bisect valid even if a
        # tampered seal's `to` goes backwards (its range is then empty).
        self.ends, end = [], (0, 0)
        for seal in self.seals:
            end = max(end, seal.to)
            self.ends.append(end)
        self.unsealed = 0

    def add_event(self, checkpoint, hash_):
        index = bisect.bisect_left(self.ends, checkpoint)
        if index == len(self.seals):
            self.unsealed += 1
            return
        seal = self.seals[index]
        seal.found_count += 1
        # §3: u64be(tx_id) || i64be(position) || hash, fed in read order.
        seal.found_digest.update(struct.pack(">Qq", checkpoint[0], checkpoint[1]) + hash_)

    def check(self, report):
        prev_number, prev_hash, prev_to = 0, ZERO_HASH, (0, 0)
        for seal in self.seals:
            label = (seal.number, prev_to[1] + 1, seal.to[1])
            after_gap = check_number(report, label, seal.number, prev_number)
            if seal.prev_hash != prev_hash:
                report.seal(label, "prev_hash_mismatch", "its prev_hash %s is not %s"
                            % (seal.prev_hash.hex(), prev_hash.hex()))
            check_tenant_events(report, label, seal, after_gap)
            check_merkle(report, label, seal)
            computed = seal_hash(seal)
            if computed != seal.hash:
                report.seal(label, "hash_mismatch", "its fields hash to %s, not to its hash %s"
                            % (computed.hex(), seal.hash.hex()))
            prev_number, prev_hash, prev_to = seal.number, seal.hash, seal.to


def check_number(report, label, number, prev_number):
    if number == prev_number + 1:
        return False
    if number == prev_number:
        detail = "seal number %d appears twice" % number
    elif number == prev_number + 2:
        detail = "seal %d is missing" % (prev_number + 1)
    else:
        detail = "seals %d to %d are missing" % (prev_number + 1, number - 1)
    report.seal(label, "number_gap", detail)
    return True


def check_tenant_events(report, label, seal, after_gap):
    held = seal.tenant["event_count"] if seal.tenant else 0
    if held != seal.found_count:
        detail = "the seal holds %d of this tenant's events, the export has %d" % (held, seal.found_count)
        if after_gap:
            # The missing seal's range cannot be told apart: its events count here.
            detail += " (its range includes the missing seal's)"
        report.seal(label, "tenant_events_differ", detail)
    elif seal.tenant and seal.found_digest.digest() != seal.tenant["digest"]:
        report.seal(label, "tenant_events_differ",
                    "the export has the %d events the seal holds, but digests differ" % held)


def check_merkle(report, label, seal):
    part = seal.tenant
    if part is None:
        # No leaf of this tenant: the root commits to other tenants' leaves only.
        return
    leaf = hashlib.sha256(b"\x00" + uuid.UUID(part["tenant_id"]).bytes
                          + struct.pack(">Q", part["event_count"]) + part["digest"]).digest()
    root = root_from_path(leaf, part["leaf_index"], seal.tenant_count, part["audit_path"])
    if root != seal.merkle_root:
        got = root.hex() if root else "nothing (the path does not fit leaf_index and tenant_count)"
        report.seal(label, "merkle_root_mismatch", "the tenant's leaf and audit path give %s, "
                    "its merkle_root is %s" % (got, seal.merkle_root.hex()))


# ---------------------------------------------------------------------------------------------
# The report.


class Report:
    def __init__(self):
        self.links = []   # (stream_id, version, position, fault)
        self.seals = []   # (seal_number, from_position, to_position, fault, detail)
        self.export = []  # (fault, detail)

    def link(self, stream_id, version, position, fault):
        self.links.append((stream_id, version, position, fault))

    def seal(self, label, fault, detail):
        self.seals.append(label + (fault, detail))

    def intact(self):
        return not (self.links or self.seals or self.export)


class TenantId:
    """The export is one tenant's: every line must name the same tenant."""

    def __init__(self):
        self.value = None

    def check(self, number, tenant_id):
        if self.value is None:
            self.value = tenant_id
        elif tenant_id != self.value:
            raise Malformed(number, "tenant %s, but the export is tenant %s's" % (tenant_id, self.value))


def check_event(number, record, ctx):
    tenant_id = uuid_field(number, record, "tenant_id")
    ctx.tenant_id.check(number, tenant_id)
    event_id = uuid_field(number, record, "event_id")
    stream_id = field(number, record, "stream_id", str)
    version = int_field(number, record, "stream_version", 1, I64_MAX)
    position = int_field(number, record, "position", I64_MIN, I64_MAX)
    checkpoint = (tx_field(number, record, "tx_id"), position)
    prev_hash = hash_field(number, record, "prev_hash")
    hash_ = hash_field(number, record, "hash")
    canonical = canonical_bytes(number, record, tenant_id, event_id, version)
    hash_ok = hashlib.sha256(prev_hash + canonical).digest() == hash_
    if not (text_matches(number, record, "payload_text", "payload")
            and text_matches(number, record, "metadata_text", "metadata")):
        ctx.report.link(stream_id, version, position, "payload_text_differs")
    if ctx.last_checkpoint is not None and checkpoint <= ctx.last_checkpoint:
        ctx.report.link(stream_id, version, position, "read_order")
    ctx.last_checkpoint = checkpoint
    ctx.events += 1
    ctx.seals.add_event(checkpoint, hash_)
    ctx.chains.arrive(stream_id, version, position, prev_hash, hash_, hash_ok)


class Context:
    def __init__(self, seals, tenant_id):
        self.report = Report()
        self.seals = seals
        self.tenant_id = tenant_id
        self.chains = Chains(self.report)
        self.last_checkpoint = None
        self.events = 0


def verify(path, fmt, expect_seal):
    records = csv_records if fmt == "csv" else ndjson_records
    seal_lines, distinct = {}, {}
    # Pass 1: the seal lines, so that pass 2 can feed each event to its seal's digest. Exports
    # concatenated (a continuation after a complete export) repeat seals: an identical line
    # counts once; a different seal under the same number stays, and is named.
    for number, record in records(path, only_seals=True):
        if record.get("object") == "seal":
            seal_lines[number] = read_seal(number, record)
            key = json.dumps(record, sort_keys=True)
            distinct.setdefault((seal_lines[number].number, key), seal_lines[number])
    ctx = Context(Seals(list(distinct.values())), TenantId())
    # Pass 2: the events, streamed.
    for number, record in records(path):
        kind = record.get("object")
        if kind == "event":
            check_event(number, record, ctx)
        elif kind != "seal":
            raise Malformed(number, "object is neither event nor seal")
        elif number not in seal_lines:
            raise Malformed(number, "the file changed while it was read")
        elif seal_lines[number].tenant:
            # Checked here, in file order, so that the line blamed is the odd one out.
            ctx.tenant_id.check(number, seal_lines[number].tenant["tenant_id"])
    ctx.chains.finish()
    ctx.seals.check(ctx.report)
    if expect_seal is not None and not any(s.hash.hex() == expect_seal for s in ctx.seals.seals):
        ctx.report.export.append(("expected_seal_missing", "no seal in the export has hash %s" % expect_seal))
    return ctx


# ---------------------------------------------------------------------------------------------
# Output.


def printable(text):
    # A stream id may hold control characters; one fault stays one line.
    return text if text.isprintable() else encode_basestring(text)


def summary(ctx):
    seals = ctx.seals.seals
    latest = max(seals, key=lambda s: s.number) if seals else None
    return {
        "intact": ctx.report.intact(),
        "events_checked": ctx.events,
        "streams_checked": len(ctx.chains.streams),
        "seals_checked": len(seals),
        "unsealed_events": ctx.seals.unsealed,
        "latest_seal": {"seal_number": latest.number, "hash": latest.hash.hex()} if latest else None,
    }


def sorted_links(report):
    # Stable: an event's faults keep the order they were found in.
    return sorted(report.links, key=lambda l: (l[0], l[1]))


def sorted_seals(report):
    return sorted(report.seals, key=lambda s: s[0])


def print_json(ctx):
    out = summary(ctx)
    out["broken_links"] = [{"stream_id": s, "stream_version": v, "position": p, "fault": f}
                           for s, v, p, f in sorted_links(ctx.report)]
    out["broken_seals"] = [{"seal_number": n, "fault": f, "detail": d}
                           for n, _, _, f, d in sorted_seals(ctx.report)]
    out["export_faults"] = [{"fault": f, "detail": d} for f, d in ctx.report.export]
    print(json.dumps(out, ensure_ascii=False))


def print_text(ctx):
    for stream_id, version, position, fault in sorted_links(ctx.report):
        print("stream %s v%d (position %d): %s" % (printable(stream_id), version, position, fault))
    for number, start, end, fault, detail in sorted_seals(ctx.report):
        print("seal %d (positions %d to %d): %s: %s" % (number, start, end, fault, detail))
    for fault, detail in ctx.report.export:
        print("export: %s: %s" % (fault, detail))
    s = summary(ctx)
    latest = s["latest_seal"]
    print("%s: %d events in %d streams checked, %d seals checked, %d unsealed events, latest seal %s"
          % ("intact" if s["intact"] else "BROKEN", s["events_checked"], s["streams_checked"],
             s["seals_checked"], s["unsealed_events"],
             "%d %s" % (latest["seal_number"], latest["hash"]) if latest else "none"))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Check a payledger export's hash chains and seals (docs/AUDIT.md).",
        epilog="Exit status: 0 intact, 1 something broken, 2 unreadable or malformed.")
    parser.add_argument("file")
    parser.add_argument("--format", choices=("ndjson", "csv"),
                        help="default: csv for a .csv file or one starting with 'object,', else ndjson")
    parser.add_argument("--expect-seal", metavar="HEX", help="a seal hash published elsewhere")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    if args.expect_seal is not None:
        args.expect_seal = args.expect_seal.strip().lower()
        if not HEX64_RE.match(args.expect_seal):
            parser.error("--expect-seal takes a 64-hex-digit seal hash")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        fmt = args.format or detect_format(args.file)
        ctx = verify(args.file, fmt, args.expect_seal)
    except OSError as e:
        print("%s: cannot read: %s" % (args.file, e), file=sys.stderr)
        return 2
    except Malformed as e:
        print("%s: line %d: %s" % (args.file, e.line, e.message), file=sys.stderr)
        return 2
    (print_json if args.json else print_text)(ctx)
    return 0 if ctx.report.intact() else 1


if __name__ == "__main__":
    sys.exit(main())
