#!/usr/bin/env python3
"""Writes the seed corpora under corpus/<target>/seed-*.

Small hand-made valid inputs, taken from the crates' docs, tests and checked-in
test vectors. Run from fuzz/ (needs the openssl CLI for the signed note).
Re-running rewrites the same files (the signed note is deterministic: Ed25519).
"""
import base64
import hashlib
import json
import os
import subprocess
import tempfile

C = "corpus"


def put(target, name, data):
    os.makedirs(f"{C}/{target}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{C}/{target}/seed-{name}", "wb") as f:
        f.write(data)


# envelope: a wrapped DEK (local provider, KEK version 1), a sealed field,
# a plaintext value, an unknown algorithm id.
kid = bytes(range(0x10, 0x18))
put("envelope", "wrapped-dek", bytes([1, 1, 0, 0, 0, 1]) + kid + bytes(12) + bytes(range(48)))
put("envelope", "sealed-field", bytes([1, 1]) + kid + bytes(range(12)) + b"\xaa" * 27)
put("envelope", "value", "123-45-6789")
put("envelope", "bad-alg", bytes([1, 2]) + kid + bytes(40))

# role_json: crates/phivault-core/src/policy/role.rs (docs and tests) and
# crates/phivault-server/src/access/policies.rs (an array file).
put("role_json", "seed-format", '{"role": "radiologist", "permissions": ["view:medical_images", "annotate:studies"], "constraints": {"temporal": "08:00-18:00 Mon-Fri", "ip_range": ["192.168.1.0/24"]}}')
put("role_json", "extended", '{ "role": "radiologist", "permissions": ["view:medical_images", "annotate:studies"], "constraints": { "temporal": "08:00-18:00 Mon-Fri", "ip_range": ["192.168.1.0/24"] }, "timezone": "America/New_York", "fields": { "patients": { "masked": ["ssn"], "hidden": ["notes"] } }, "care_team_only": true, "break_glass": false, "deny": ["delete:patients"] }')
put("role_json", "admin", '{"role": "root", "admin": true, "permissions": ["*:*"]}')
put("role_json", "array", '[{"role": "clerk"}, {"role": "billing", "permissions": ["view:patients"], "fields": {"patients": {"masked": ["ssn", "dob"]}}}]')
put("role_json", "nurse", '{"role": "nurse", "permissions": ["view:patients", "search:patients"], "constraints": {"temporal": "22:00-06:00 Mon-Fri, 09:00-13:00 Sat", "ip_range": ["10.0.0.0/8", "2001:db8::/32"]}, "break_glass": true}')

# temporal: crates/phivault-core/src/policy/temporal.rs tests.
for i, s in enumerate([
    "08:00-18:00 Mon-Fri",
    "08:00-12:00 Mon,Wed,Fri",
    "07:00-19:00 Mon-Fri, 09:00-13:00 Sat",
    "22:00-06:00",
    "00:00-24:00 Sun",
    "18:00-09:00 Fri-Mon",
    "08:00-18:00 monday-friday",
]):
    put("temporal", str(i), s)

# checkpoint: the fixed key of fuzz_targets/checkpoint.rs (seed 0x01..0x20).
name = "phivault.example/audit"
der = bytes.fromhex("302e020100300506032b657004220420") + bytes(range(1, 33))
with tempfile.TemporaryDirectory() as d:
    with open(f"{d}/k.der", "wb") as f:
        f.write(der)
    subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", f"{d}/k.der", "-out", f"{d}/k.pem"], check=True)
    pub = subprocess.run(["openssl", "pkey", "-in", f"{d}/k.pem", "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout[-32:]
    body = f"{name}\n42\n{base64.b64encode(bytes([7] * 32)).decode()}\n"
    with open(f"{d}/body", "w") as f:
        f.write(body)
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", f"{d}/k.pem", "-rawin", "-in", f"{d}/body"],
                         check=True, capture_output=True).stdout
keyid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
put("checkpoint", "body", body)
put("checkpoint", "note", body + "\n\u2014 " + name + " " + base64.b64encode(keyid + sig).decode() + "\n")
vk_b64 = base64.b64encode(b"\x01" + pub).decode()
put("checkpoint", "verifier-key", f"{name}+{keyid.hex()}+{vk_b64}")
empty_root = base64.b64encode(hashlib.sha256(b"").digest()).decode()
put("checkpoint", "empty-tree", f"{name}\n0\n{empty_root}\n")

# audit_event: the canonical encoding of the event in crates/phivault-audit/src/event.rs's test.
put("audit_event", "viewed", '{"index":17,"timestamp":"2026-11-24T10:00:00.000001Z","user":"dr.house","action":"viewed","resource":"/v1/collections/patients/records/p1","context":{"ip":"10.0.0.1","device_id":"UA-12345"},"outcome":"success","request_id":"abcd","patient_id":"p1","fields":["name","ssn"],"purpose":"TREAT","permission":"view:patients"}')
put("audit_event", "denied", '{"index":3,"timestamp":"2026-11-24T10:00:00.000001Z","user":"-","action":"searched","resource":"/v1/collections/patients/search","context":{"ip":"::1"},"outcome":"denied","reason":"no_permission","token":"pv_0123456789abcdef","query":["mrn:00ff"],"count":0,"flags":["break_glass"]}')

# SFrame: RFC 9605 Appendix C (crates/phivault-telehealth/tests/vectors).
with open("../crates/phivault-telehealth/tests/vectors/rfc9605-appendix-c.json") as f:
    v = json.load(f)
for i, h in enumerate(v["header"][::29]):
    put("sframe_header", str(i), bytes.fromhex(h["encoded"]))
for s in v["sframe"]:
    # First byte: the suite index in CipherSuite::ALL (registry id - 1).
    put("sframe_open", f"suite{s['cipher_suite']}", bytes([s["cipher_suite"] - 1]) + bytes.fromhex(s["ct"]))

# key_package: the JSON shape of phivault_telehealth::KeyPackage.
b64u = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
put("key_package", "package", json.dumps({
    "session_id": "visit-2026-11-24", "epoch": 3, "sender_device": "dr-laptop",
    "recipient_device": "patient-phone", "enc": b64u(bytes(range(32))), "ciphertext": b64u(bytes(range(48))),
}))

# token_ids: the token and record id formats (crates/phivault-core/src/token.rs, ids.rs).
put("token_ids", "token", "pv_0123456789abcdef_" + b64u(bytes(range(32))))
put("token_ids", "record-id", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")

# Scanner, detector, scrubber: lines from crates/phivault-scan/tests/corpus/corpus.jsonl
# (synthetic log lines, no real PHI), a few per seed.
with open("../crates/phivault-scan/tests/corpus/corpus.jsonl") as f:
    rows = [json.loads(l) for l in f]
kinds_seen = {}
for r in rows:
    for lab in r["labels"]:
        kinds_seen.setdefault(lab["kind"], r["line"])
clean = [r["line"] for r in rows if not r["labels"]][:3]
sample = list(kinds_seen.values()) + clean
for i in range(0, len(sample), 4):
    text = "\n".join(sample[i:i + 4]) + "\n"
    put("scan_detect", str(i // 4), text)
    put("scan_reader", str(i // 4), text.replace("\n", "\r\n", 1))
    # scrub: first byte is the writer's chunk size.
    put("scrub", str(i // 4), bytes([7 + i]) + text.encode())
put("scan_detect", "patterns", "MRN-0012345 seen; account ACCT00FF12AB; ssn: 123-45-6789\n")
put("scan_reader", "patterns", "device SN1234-56 for MRN0012345678\n")
